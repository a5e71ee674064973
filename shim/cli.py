"""`shim COMMAND ...`: the developer-side commands. The runtime itself is `python -m shim`.

Each command lives in its own module exposing configure(parser) and main(args);
main returns the exit code. Modules are imported only when their command runs.
"""
import argparse
import importlib
import sys

from shim import __version__

COMMANDS = {
    "pack": ("shim.pack", "build a deployable Lambda zip from a function directory"),
    "invoke": ("shim.run", "run a function through the real bootstrap against a local Runtime API"),
    "serve": ("shim.serve", "serve the Lambda invoke endpoint locally, like the AWS emulator"),
}


class UsageError(Exception):
    """Bad input from the user: printed as one line, exit status 2."""


def main(argv=None):
    parser = argparse.ArgumentParser(prog="shim", description=__doc__.split("\n")[0])
    parser.add_argument("--version", action="version", version="lambda-shim " + __version__)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, (module, help_text) in COMMANDS.items():
        command = sub.add_parser(name, help=help_text, description=help_text)
        command.set_defaults(module=module)
        importlib.import_module(module).configure(command)
    args = parser.parse_args(argv)
    try:
        return importlib.import_module(args.module).main(args) or 0
    except UsageError as exc:
        print("shim %s: %s" % (args.command, exc), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
