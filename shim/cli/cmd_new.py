"""`shim new DIR`: scaffold a function (see shim.local.scaffold), then say what to run next."""
import shlex

from shim.local import scaffold


def configure(parser):
    parser.add_argument("directory", metavar="DIR",
                        help="the function's folder: made if missing; existing files are never overwritten")


def main(args):
    written = scaffold.create(args.directory)
    where = shlex.quote(args.directory)
    print("Created %s" % ", ".join(written))
    print("Next, from here:")
    print("  echo '{\"name\": \"Ada\"}' | shim invoke %s --event -" % where)
    print("  pytest %s" % where)
    print("  shim pack %s --output %s.zip" % (where, shlex.quote(scaffold.function_name(args.directory))))
    return 0
