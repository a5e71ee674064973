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


# The function's API (these ship in the zip with shim/runtime; each imports what it needs when called).

def on_shutdown(fn):
    """Run fn() when Lambda shuts the execution environment down (SIGTERM); usable as a decorator.
    See shim.runtime.shutdown."""
    from shim.runtime import shutdown
    return shutdown.on_shutdown(fn)


def register_before_snapshot(func, *args, **kwargs):
    """SnapStart: run func(*args, **kwargs) before the snapshot; as snapshot_restore_py's, same registry."""
    from shim.runtime import snapshot_restore
    return snapshot_restore.registry().register_before_snapshot(func, *args, **kwargs)


def register_after_restore(func, *args, **kwargs):
    """SnapStart: run func(*args, **kwargs) after each restore; as snapshot_restore_py's, same registry."""
    from shim.runtime import snapshot_restore
    return snapshot_restore.registry().register_after_restore(func, *args, **kwargs)
