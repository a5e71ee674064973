"""`shim COMMAND ...`: the developer-side commands. The runtime itself is `python -m shim`.

Each command lives in its own module exposing configure(parser) and main(args);
main returns the exit code. Only the module of the command being run is
imported (shim.pack alone costs ~50 ms, and the importlib-metadata backport it
loads changes how installed packages are found).
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


def build_parser(argv):
    parser = argparse.ArgumentParser(prog="shim", description="lambda-shim's developer commands: pack a function, "
                                     "run it locally through its real bootstrap, serve it like Lambda's invoke API.")
    parser.add_argument("--version", action="version", version="lambda-shim " + __version__)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    chosen = next((arg for arg in argv if not arg.startswith("-")), None)
    for name, (module, help_text) in COMMANDS.items():
        command = sub.add_parser(name, help=help_text, description=help_text)
        command.set_defaults(module=module)
        if name == chosen:
            importlib.import_module(module).configure(command)
    return parser


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser(argv).parse_args(argv)
    try:
        return importlib.import_module(args.module).main(args) or 0
    except UsageError as exc:
        print("shim %s: %s" % (args.command, exc), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    # Run as `python -m shim.cli`, this file is __main__ and the command modules import
    # shim.cli again: call that module's main so UsageError is the class they raise.
    from shim.cli import main as package_main

    sys.exit(package_main())
