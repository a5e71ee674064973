"""`shim COMMAND ...`: the developer's commands, on top of the packer and the local tools.

Each command lives in its own module, cmd_<name>, exposing configure(parser) and
main(args); main returns the exit code. Only the module of the command being run
is imported (the packer alone costs ~50 ms, and the importlib-metadata backport
it loads changes how installed packages are found). The runtime itself is
started by the launcher, never through here.
"""

import argparse
import importlib
import sys

from shim import __version__

from shim.pack.errors import UsageError

COMMANDS = {
    "new": ("shim.cli.cmd_new", "scaffold a function: handler.py, requirements.txt, a test and a README"),
    "pack": ("shim.cli.cmd_pack", "build a deployable Lambda zip (or the runtime layer) from a function directory"),
    "invoke": ("shim.cli.cmd_invoke", "run a function through the real bootstrap against a local Runtime API"),
    "serve": ("shim.cli.cmd_serve", "serve the Lambda invoke endpoint locally, like the AWS emulator"),
    "deploy": (
        "shim.cli.cmd_deploy",
        "create or update the project file's functions on AWS Lambda (boto3: the deploy extra)",
    ),
    "runtime": (
        "shim.cli.cmd_runtime",
        "lambda-shim as a customer-managed runtime: the image's Dockerfile and its file-system layout",
    ),
    "event": ("shim.cli.cmd_event", "print a sample event (API Gateway, SQS, S3, ...), as the AWS service sends it"),
    "durable": (
        "shim.cli.cmd_durable",
        "answer a durable execution's callback, list or inspect executions "
        "(shim serve --durable, shim invoke --durable)",
    ),
    "dockerfile": (
        "shim.cli.cmd_dockerfile",
        "write the Dockerfile that builds a function into a Lambda container image",
    ),
    "plugins": ("shim.cli.cmd_plugins", "list the runtime plugins a function would load, in order, and why"),
    "profile": ("shim.cli.cmd_profile", "where a function's cold start goes: its imports as a tree, and a chart"),
    "cache": (
        "shim.cli.cmd_cache",
        "show where the cache of installed requirements is and its size; `clear` empties it",
    ),
}


def build_parser(argv):
    parser = argparse.ArgumentParser(
        prog="shim",
        description="lambda-shim's developer commands: scaffold and pack "
        "a function, run it locally through its real bootstrap, serve it like Lambda's "
        "invoke API.",
    )
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
