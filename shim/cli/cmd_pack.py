"""`shim pack`: the packer's command line (see shim.pack.packer).

    shim pack FUNCTION_DIR --output OUT.zip                 the function with the runtime in it
    shim pack FUNCTION_DIR --no-runtime --output OUT.zip    the function alone, for use with the layer
    shim pack --layer --output shim-layer.zip               the runtime layer
"""
import platform
import sys

from shim import UsageError
from shim.pack import functiondir, pipinstall
from shim.pack.packer import ARCHES, pack, pack_layer, summary

DEFAULT_HANDLER = "handler.Handle"


def configure(parser):
    parser.add_argument("function_dir", metavar="FUNCTION_DIR", nargs="?",
                        help="the folder with handler.py and friends (none with --layer)")
    parser.add_argument("--output", "-o", required=True, metavar="OUT.zip", help="the zip to write")
    parser.add_argument("--handler", default=None,
                        help="MODULE.FUNCTION Lambda calls (default: %s); checked to be in the zip" % DEFAULT_HANDLER)
    kind = parser.add_mutually_exclusive_group()
    kind.add_argument("--layer", action="store_true",
                      help="build the runtime layer instead (bootstrap, the runtime and its dependencies under "
                           "python/), for functions packed with --no-runtime")
    kind.add_argument("--no-runtime", action="store_true",
                      help="leave the runtime out: only your code and requirements (the function then needs the "
                           "layer made by --layer)")
    parser.add_argument("--arch", choices=sorted(ARCHES), default=None,
                        help="Lambda architecture (default: this machine's, %s)" % _safe_default_arch())
    parser.add_argument("--python-version", default=None, metavar="3.N",
                        help="target CPython version (default: this interpreter's, %d.%d)" % sys.version_info[:2])
    parser.add_argument("--glibc", default=pipinstall.LAMBDA_GLIBC, metavar="2.N",
                        help="target glibc for manylinux wheels (default: %s, Amazon Linux 2023; 2.26 for the "
                             "Amazon Linux 2 runtimes python3.9-3.11)" % pipinstall.LAMBDA_GLIBC)
    parser.add_argument("--requirements", default=None, metavar="FILE",
                        help="requirements file (default: FUNCTION_DIR/requirements.txt when present), installed by uv "
                             "(pip where uv cannot) through the cache")
    parser.add_argument("--exclude", action="append", default=[], metavar="PATTERN",
                        help="leave out files matching PATTERN (repeatable; '!PATTERN' drops a default rule); "
                             "defaults: " + " ".join(functiondir.DEFAULT_EXCLUDES))
    parser.add_argument("--compile-python", default=None, metavar="PATH",
                        help="interpreter of the target version to write bytecode with (default: searched for)")
    parser.add_argument("--refresh", action="store_true",
                        help="resolve and install the requirements again instead of taking them from the cache "
                             "(shim cache shows where it is)")
    parser.add_argument("--quiet", "-q", action="store_true", help="print only the summary and warnings")


def _safe_default_arch():
    return ARCHES.get(platform.machine(), "unknown")


def main(args):
    def progress(line):
        if not args.quiet or line.startswith("warning: "):
            print(line, file=sys.stderr, flush=True)

    target = dict(arch=args.arch, python_version=args.python_version, glibc=args.glibc,
                  compile_python=args.compile_python, log=progress, refresh=args.refresh)
    if args.layer:
        given = [option for option, value in (("FUNCTION_DIR", args.function_dir), ("--handler", args.handler),
                                              ("--requirements", args.requirements), ("--exclude", args.exclude))
                 if value]
        if given:
            raise UsageError("--layer packs the runtime alone: %s cannot go with it" % ", ".join(given))
        result = pack_layer(args.output, **target)
    else:
        if not args.function_dir:
            raise UsageError("which function? give FUNCTION_DIR (or --layer for the runtime layer)")
        result = pack(args.function_dir, args.output, handler=args.handler or DEFAULT_HANDLER,
                      requirements=args.requirements, exclude=args.exclude, runtime=not args.no_runtime, **target)
    print(summary(result))
    return 0
