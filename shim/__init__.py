"""lambda-shim: a fast, debuggable Python runtime for AWS Lambda.

Three parts, and the CLI on top:
  shim/runtime/  what runs on Lambda: shipped inside every deployment zip (or the runtime layer)
  shim/pack/     the packer: builds the zip (or the layer) on your machine
  shim/local/    the local tools: a Runtime API emulator, execution environments, the pytest plugin
  shim/cli/      `shim new | pack | invoke | serve`
Only this file, shim/__main__.py and shim/runtime/ ship to Lambda.
"""
__version__ = "0.2.0"


class UsageError(Exception):
    """Bad input from a developer (packer, local tools): the CLI prints it as one line, exit status 2."""
