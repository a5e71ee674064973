"""lambda-shim as a customer-managed runtime: the image's Dockerfile and its file-system layout.

A customer-managed runtime (Lambda Core API 2026-10-01) is a container image whose
file system becomes the runtime of every function that names it (`Runtime: custom`
and RuntimeConfig {RuntimeArn, RuntimeAlias}); the functions' zips hold only their
own code. This image is AWS's Lambda Python base image with lambda-shim as its
runtime interface client, one image per Python version and architecture:

    /var/runtime/bootstrap                 lambda-shim's launcher, replacing the base image's
    /var/runtime/python/                   the runtime and structlog, bytecode for the image's CPython
                                           (with the /var/runtime/python/... paths)
    /var/runtime/lambda-shim-entrypoint    the image's ENTRYPOINT: the bootstrap on Lambda,
                                           the base image's Runtime Interface Emulator elsewhere
    /var/task                              the function's zip (Lambda's, not the image's)
    /opt                                   the function's layers

/var/runtime/bootstrap is where a managed runtime's start-up command lives on Lambda,
and the ENTRYPOINT starts the same file, so the runtime starts the same way whichever
of the two Lambda runs. layout(root) writes exactly what the Dockerfile copies into
the image (its pack stage runs `shim runtime layout /out`), so a test can lay the
image out in a folder and start it as Lambda would.
"""

import os
import stat
import tempfile

from shim import __version__

RUNTIME_DIR = "/var/runtime"
ENTRYPOINT = "lambda-shim-entrypoint"
AMAZON_LINUX_2 = ("3.9", "3.10", "3.11")  # their base images run Amazon Linux 2 (glibc 2.26)

ENTRYPOINT_SCRIPT = """\
#!/bin/sh
# The ENTRYPOINT of lambda-shim's runtime image. On Lambda (AWS_LAMBDA_RUNTIME_API is set) it
# runs the runtime's bootstrap beside it; elsewhere (docker run) the base image's Runtime
# Interface Emulator serves it on port 8080. An argument names the handler (else _HANDLER).
here=${0%/*}
if [ $# -gt 0 ]; then
    _HANDLER=$1
    export _HANDLER
fi
if [ -z "$AWS_LAMBDA_RUNTIME_API" ] && [ -x /usr/local/bin/aws-lambda-rie ]; then
    exec /usr/local/bin/aws-lambda-rie "$here/bootstrap"
fi
exec "$here/bootstrap"
"""

DOCKERFILE = """\
# lambda-shim as a Lambda customer-managed runtime: AWS's Lambda Python base image with
# lambda-shim as its runtime interface client. One image per Python version and architecture:
#
#   shim runtime dockerfile > runtime.Dockerfile
#   docker build -f runtime.Dockerfile --platform linux/amd64 --build-arg PYTHON_VERSION=3.12 \\
#       -t lambda-shim-runtime:3.12-x86_64 .
#
# The build context can be an empty folder. SHIM is what pip installs: lambda-shim of the
# version that wrote this file (the default), another pin, or the path of a wheel in the
# build context (a checkout's `make dist`).
#
# Functions that use the runtime deploy zips without it (`shim pack --no-runtime`) with
# Runtime custom and RuntimeConfig {RuntimeArn, RuntimeAlias}; see docs/guides/deploying.md.

ARG PYTHON_VERSION=3.12

FROM public.ecr.aws/lambda/python:${PYTHON_VERSION} AS pack
ARG SHIM=lambda-shim==@VERSION@
WORKDIR /src
COPY . .
# Installed in this stage only: neither the packer nor its dependencies reach the image.
RUN python3 -m pip install --no-cache-dir --disable-pip-version-check "${SHIM}"
# /out/var/runtime: bootstrap (lambda-shim's launcher), python/ (the runtime, bytecode written by
# this image's interpreter for this architecture), lambda-shim-entrypoint.
RUN python3 -m shim.cli runtime layout /out

FROM public.ecr.aws/lambda/python:${PYTHON_VERSION}
# Merged into the base image's /var/runtime, modes kept: lambda-shim's bootstrap replaces its own.
COPY --from=pack /out/ /
ENTRYPOINT ["/var/runtime/lambda-shim-entrypoint"]
"""


def dockerfile():
    return DOCKERFILE.replace("@VERSION@", __version__)


def layout(root, python_version=None, arch=None, log=None):
    """Write root/var/runtime as the image holds it; returns the pack result of the runtime part.

    root/var/runtime must not exist yet or be empty (in the image it is merged with the
    base image's own files).
    """
    from shim.pack import packer, pipinstall
    from shim.pack.checks import check_python_version
    from shim.pack.ziputil import extract

    python = check_python_version(python_version) if python_version else None
    glibc = "2.26" if python in AMAZON_LINUX_2 else pipinstall.LAMBDA_GLIBC
    runtime = os.path.join(str(root), *RUNTIME_DIR.strip("/").split("/"))
    with tempfile.TemporaryDirectory(prefix="shim-runtime-") as scratch:
        result = packer.pack_layer(
            os.path.join(scratch, "runtime.zip"),
            arch=arch,
            python_version=python,
            glibc=glibc,
            root=RUNTIME_DIR,
            log=log,
        )
        extract(result.path, runtime, read_only=False)
    entrypoint = os.path.join(runtime, ENTRYPOINT)
    with open(entrypoint, "x") as handle:
        handle.write(ENTRYPOINT_SCRIPT)
    os.chmod(entrypoint, stat.S_IMODE(0o755))
    return result
