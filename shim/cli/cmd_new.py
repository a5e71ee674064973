"""`shim new DIR`: scaffold a function (see shim.local.scaffold), add it to the project file
(shim.local.projectfile: pyproject.toml's [tool.lambda-shim.functions.<name>], the file created if
needed), then say what to run next."""

import os
import shlex

from shim.local import projectfile, scaffold


def configure(parser):
    parser.add_argument(
        "directory",
        metavar="DIR",
        help="the function's folder: made if missing; existing files are never overwritten. "
        "Its name is the function's name in the project file (pyproject.toml)",
    )
    parser.add_argument(
        "--template",
        default="hello",
        choices=list(scaffold.TEMPLATES),
        help="the handler to start from (default: hello); each comes with a sample event in "
        "tests/event.json and a test of it: " + ", ".join(scaffold.TEMPLATES),
    )
    parser.add_argument(
        "--sam",
        action="store_true",
        help="also write template.yaml and a Makefile, so that `sam build` packs it with shim pack",
    )


def main(args):
    if getattr(args, "sam", False):
        from shim.local import sam_scaffold

        sam_scaffold.check(args.directory)  # before anything is written
    addition = projectfile.plan(args.directory)  # refused before any file is written
    written = scaffold.create(args.directory, args.template)
    if getattr(args, "sam", False):
        written += sam_scaffold.create(args.directory)
    addition.write()
    where = shlex.quote(args.directory)
    print("Created %s" % ", ".join(written))
    print(
        "%s %s: [tool.lambda-shim.functions.%s]"
        % ("Created" if addition.create else "Added to", os.path.relpath(addition.file), addition.name)
    )
    print("Next, from here:")
    if args.template == "hello":
        print('  echo \'{"name": "Ada"}\' | shim invoke %s --event -' % where)
    else:
        print(
            "  shim invoke %s --event %s%s"
            % (
                where,
                shlex.quote(os.path.join(args.directory, "tests", "event.json")),
                " --durable" if args.template == "durable" else "",
            )
        )
    print("  pytest %s" % where)
    print("  shim pack %s --output %s.zip" % (where, shlex.quote(scaffold.function_name(args.directory))))
    if getattr(args, "sam", False):
        print("  cd %s && sam build && sam deploy --guided" % where)
    return 0
