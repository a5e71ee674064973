"""`shim pack`: the packer's command line (see shim.pack.packer).

    shim pack orders                                        a function of the project file, into dist/orders.zip
    shim pack FUNCTION_DIR --output OUT.zip                 the function with the runtime in it
    shim pack FUNCTION_DIR --no-runtime --output OUT.zip    the function alone, for use with the layer
    shim pack --layer --output shim-layer.zip               the runtime layer

FUNCTION is a function's name in the project file (pyproject.toml's
[tool.lambda-shim]) or a directory; the file's handler, python, arch,
requirements, exclude and runtime_layer apply, and the flags override them.
Without --output the zip is dist/<name>.zip in the project's folder (the current
folder for a directory outside any project).
"""

import os
import platform
import sys

from shim.pack.errors import UsageError
from shim.pack import functiondir, pipinstall
from shim.pack.checks import ARCHES
from shim.pack.packer import pack, pack_layer, summary

DEFAULT_HANDLER = "handler.Handle"


def configure(parser):
    parser.add_argument(
        "function_dir",
        metavar="FUNCTION",
        nargs="?",
        help="a function's name in the project file, or the folder with handler.py and friends (none with --layer)",
    )
    parser.add_argument(
        "--output",
        "-o",
        default=None,
        metavar="OUT.zip",
        help="the zip to write (default: dist/NAME.zip in the project's folder, or in the current "
        "folder for a directory outside any project; required with --layer)",
    )
    parser.add_argument(
        "--extract-to",
        metavar="DIR",
        help="also unpack the zip into DIR (absent or empty), modes kept: what `sam build` wants in "
        "$(ARTIFACTS_DIR); without --output the zip itself is not kept",
    )
    parser.add_argument(
        "--handler",
        default=None,
        help="MODULE.FUNCTION Lambda calls (default: %s); checked to be in the zip" % DEFAULT_HANDLER,
    )
    kind = parser.add_mutually_exclusive_group()
    kind.add_argument(
        "--layer",
        action="store_true",
        help="build the runtime layer instead (bootstrap, the runtime and its dependencies under "
        "python/), for functions packed with --no-runtime",
    )
    kind.add_argument(
        "--no-runtime",
        action="store_true",
        help="leave the runtime out: only your code and requirements (the function then needs the "
        "layer made by --layer)",
    )
    parser.add_argument(
        "--arch",
        choices=sorted(ARCHES),
        default=None,
        help="Lambda architecture (default: this machine's, %s)" % _safe_default_arch(),
    )
    parser.add_argument(
        "--python-version",
        default=None,
        metavar="3.N",
        help="target CPython version (default: this interpreter's, %d.%d)" % sys.version_info[:2],
    )
    parser.add_argument(
        "--glibc",
        default=pipinstall.LAMBDA_GLIBC,
        metavar="2.N",
        help="target glibc for manylinux wheels (default: %s, Amazon Linux 2023; 2.26 for the "
        "Amazon Linux 2 runtimes python3.9-3.11)" % pipinstall.LAMBDA_GLIBC,
    )
    parser.add_argument(
        "--requirements",
        default=None,
        metavar="FILE",
        help="requirements file (default: FUNCTION_DIR/requirements.txt when present), installed by uv "
        "(pip where uv cannot) through the cache",
    )
    parser.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="PATTERN",
        help="leave out files matching PATTERN (repeatable; '!PATTERN' drops a default rule); "
        "defaults: " + " ".join(functiondir.DEFAULT_EXCLUDES),
    )
    parser.add_argument(
        "--compile-python",
        default=None,
        metavar="PATH",
        help="interpreter of the target version to write bytecode with (default: searched for)",
    )
    parser.add_argument(
        "--optimize",
        type=int,
        choices=(0, 1, 2),
        default=0,
        metavar="{0,1,2}",
        help="bytecode as `python -O` (1: asserts left out) or `-OO` (2: docstrings too) writes it; "
        "opt-in, as some libraries read docstrings (default: 0)",
    )
    parser.add_argument(
        "--refresh",
        action="store_true",
        help="resolve and install the requirements again instead of taking them from the cache "
        "(shim cache shows where it is)",
    )
    parser.add_argument("--quiet", "-q", action="store_true", help="print only the summary and warnings")


def _safe_default_arch():
    return ARCHES.get(platform.machine(), "unknown")


def main(args):
    def progress(line):
        if not args.quiet or line.startswith("warning: "):
            print(line, file=sys.stderr, flush=True)

    if (
        args.output is None and args.extract_to is not None
    ):  # only the unpacked tree is wanted: the zip goes to a temporary folder
        import tempfile

        with tempfile.TemporaryDirectory(prefix="shim-pack-") as scratch:
            args.output = os.path.join(scratch, "function.zip")
            return main(args)
    target = dict(
        arch=args.arch,
        python_version=args.python_version,
        glibc=args.glibc,
        compile_python=args.compile_python,
        log=progress,
        refresh=args.refresh,
    )
    if args.layer:
        given = [
            option
            for option, value in (
                ("FUNCTION_DIR", args.function_dir),
                ("--handler", args.handler),
                ("--requirements", args.requirements),
                ("--exclude", args.exclude),
            )
            if value
        ]
        if given:
            raise UsageError("--layer packs the runtime alone: %s cannot go with it" % ", ".join(given))
        if not args.output:
            raise UsageError("--layer needs --output LAYER.zip")
        result = pack_layer(args.output, **target)
    else:
        from shim.local import project

        try:
            config = project.resolve(args.function_dir)
        except UsageError:
            if args.function_dir is None:
                raise UsageError(
                    "which function? give FUNCTION_DIR (or --layer for the runtime layer), or a "
                    "function's name from the project file"
                ) from None
            raise
        output = args.output or _default_output(config)
        result = pack(
            config.path,
            output,
            handler=args.handler or config.handler,
            requirements=args.requirements or config.requirements,
            exclude=list(config.exclude) + list(args.exclude),
            runtime=not (args.no_runtime or config.runtime_layer),
            optimize=args.optimize,
            **dict(target, arch=args.arch or config.arch, python_version=args.python_version or config.python),
        )
    if args.extract_to:
        from shim.pack.ziputil import extract

        extract(result.path, args.extract_to, read_only=False)
    print(summary(result))
    if args.extract_to:
        print("Unpacked into %s (modes kept: bootstrap 0755)" % args.extract_to)
    return 0


def _default_output(config):
    """dist/<name>.zip in the project's folder; in the current one for a directory outside any project."""
    from shim.local import project

    found = project.find_project(config.path)
    root = found.root if found is not None and config.name in found.functions else os.getcwd()
    return os.path.join(root, "dist", config.name + ".zip")
