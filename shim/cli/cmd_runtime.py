"""`shim runtime`: lambda-shim as a customer-managed runtime image (see shim.local.runtime_image).

shim runtime dockerfile > runtime.Dockerfile     the image's Dockerfile
shim runtime layout ROOT                         write ROOT/var/runtime as the image holds it
"""

import sys

from shim.pack.errors import UsageError


def configure(parser):
    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    sub.required = True
    sub.add_parser(
        "dockerfile",
        help="print the runtime image's Dockerfile (one image per Python version and "
        "architecture, from AWS's Lambda Python base image)",
    )
    layout = sub.add_parser(
        "layout",
        help="write ROOT/var/runtime as the image holds it: lambda-shim's bootstrap, "
        "the runtime under python/, the entrypoint (the Dockerfile runs this)",
    )
    layout.add_argument(
        "root", metavar="ROOT", help="the folder standing for the image's / (ROOT/var/runtime must be absent or empty)"
    )
    layout.add_argument(
        "--python-version",
        default=None,
        metavar="3.N",
        help="target CPython version (default: this interpreter's, %d.%d)" % sys.version_info[:2],
    )
    layout.add_argument(
        "--arch", choices=("x86_64", "arm64"), default=None, help="Lambda architecture (default: this machine's)"
    )


def main(args):
    from shim.local import runtime_image

    if args.action == "dockerfile":
        sys.stdout.write(runtime_image.dockerfile())
        return 0
    if args.action == "layout":
        result = runtime_image.layout(
            args.root,
            python_version=args.python_version,
            arch=args.arch,
            log=lambda line: print(line, file=sys.stderr, flush=True),
        )
        print(
            "Laid out lambda-shim's runtime for CPython %s, %s in %s/var/runtime (%d files)"
            % (result.python_version, result.arch, args.root.rstrip("/"), result.files + 1)
        )
        return 0
    raise UsageError("unknown action %r" % args.action)  # pragma: no cover - argparse checks the choices
