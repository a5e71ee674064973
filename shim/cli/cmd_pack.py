"""`shim pack FUNCTION_DIR --output OUT.zip`: the packer's command line (see shim.pack.packer)."""
import platform
import sys

from shim.pack import functiondir, pipinstall
from shim.pack.packer import ARCHES, pack, summary


def configure(parser):
    parser.add_argument("function_dir", metavar="FUNCTION_DIR", help="the folder with handler.py and friends")
    parser.add_argument("--output", "-o", required=True, metavar="OUT.zip", help="the zip to write")
    parser.add_argument("--handler", default="handler.Handle",
                        help="MODULE.FUNCTION Lambda calls (default: handler.Handle); checked to be in the zip")
    parser.add_argument("--arch", choices=sorted(ARCHES), default=None,
                        help="Lambda architecture (default: this machine's, %s)" % _safe_default_arch())
    parser.add_argument("--python-version", default=None, metavar="3.N",
                        help="target CPython version (default: this interpreter's, %d.%d)" % sys.version_info[:2])
    parser.add_argument("--glibc", default=pipinstall.LAMBDA_GLIBC, metavar="2.N",
                        help="target glibc for manylinux wheels (default: %s, Amazon Linux 2023; 2.26 for the "
                             "Amazon Linux 2 runtimes python3.9-3.11)" % pipinstall.LAMBDA_GLIBC)
    parser.add_argument("--requirements", default=None, metavar="FILE",
                        help="requirements file (default: FUNCTION_DIR/requirements.txt when present)")
    parser.add_argument("--exclude", action="append", default=[], metavar="PATTERN",
                        help="leave out files matching PATTERN (repeatable; '!PATTERN' drops a default rule); "
                             "defaults: " + " ".join(functiondir.DEFAULT_EXCLUDES))
    parser.add_argument("--compile-python", default=None, metavar="PATH",
                        help="interpreter of the target version to write bytecode with (default: searched for)")
    parser.add_argument("--quiet", "-q", action="store_true", help="print only the summary and warnings")


def _safe_default_arch():
    return ARCHES.get(platform.machine(), "unknown")


def main(args):
    def progress(line):
        if not args.quiet or line.startswith("warning: "):
            print(line, file=sys.stderr, flush=True)

    result = pack(args.function_dir, args.output, handler=args.handler, arch=args.arch,
                  python_version=args.python_version, glibc=args.glibc, requirements=args.requirements,
                  exclude=args.exclude, compile_python=args.compile_python, log=progress)
    print(summary(result))
    return 0
