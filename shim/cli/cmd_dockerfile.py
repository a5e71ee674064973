"""`shim dockerfile [DIR]`: the Dockerfile for a function as a container image, and its .dockerignore.

    shim dockerfile orders        # orders/Dockerfile and orders/Dockerfile.dockerignore
    docker build -f orders/Dockerfile -t orders orders/

The Dockerfile installs lambda-shim from PyPI in AWS's Lambda Python base image, packs the
function there (wheels and bytecode for the interpreter Lambda runs) and copies the unpacked zip
into a clean copy of the image, started through the bootstrap as its exec wrapper. See
docs/guides/deployment-packages.md. Nothing is overwritten: if either file exists, nothing is written.
"""

import os
import shutil

from shim.pack.errors import UsageError

FILES = ("Dockerfile", "Dockerfile.dockerignore")
SOURCE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "local", "templates", "docker")


def configure(parser):
    parser.add_argument(
        "directory",
        nargs="?",
        default=".",
        metavar="DIR",
        help="where to write Dockerfile and Dockerfile.dockerignore (default: the current folder)",
    )
    parser.add_argument("--print", action="store_true", dest="show", help="print the Dockerfile instead")


def main(args):
    if args.show:
        with open(os.path.join(SOURCE, "Dockerfile"), encoding="utf-8") as handle:
            print(handle.read(), end="")
        return 0
    targets = [os.path.join(args.directory, name) for name in FILES]
    for target in targets:
        if os.path.lexists(target):
            raise UsageError("%s already exists: nothing was written" % target)
    os.makedirs(args.directory, exist_ok=True)
    for name, target in zip(FILES, targets):
        shutil.copyfile(os.path.join(SOURCE, name), target)
    print("Wrote %s" % ", ".join(targets))
    return 0
