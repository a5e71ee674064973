"""Layers, locally: a stand-in for Lambda's /opt, and what a zip says about the target it was packed for.

Lambda merges a function's layers into /opt in the order they are listed (a
later layer's file replaces an earlier one's), read-only. On provided.al2023 it
runs /var/task/bootstrap, or /opt/bootstrap when the zip has none (the runtime
layer's); Python finds /opt/python and /opt/python/lib/python3.N/site-packages,
PATH has /opt/bin and LD_LIBRARY_PATH /opt/lib. `stand_in_opt` builds that in a
temporary directory and gives the variables that point the local run at it (the
runtime's own /opt paths do not exist here).
"""

import os
import re
import shutil
import sys
import tempfile

from shim.pack.errors import UsageError

_VERSION = re.compile(r'^__version__\s*=\s*["\']([^"\']+)["\']', re.M)


class Opt:
    """A stand-in /opt: its path, the variables that point a run at it, and its bootstrap if a layer has one."""

    def __init__(self, path, env, bootstrap=None, runtime_version=None):
        self.path = path
        self.env = env
        self.bootstrap = bootstrap
        self.runtime_version = runtime_version  # lambda-shim's, when a layer is its runtime layer


def stand_in_opt(layers, into, python_version=None, base_env=None):
    """Merge the layer zips into <into>/opt in order (later ones overwrite), read-only; an Opt."""
    from shim.pack import ziputil

    opt = os.path.join(into, "opt")
    os.makedirs(opt)
    for number, layer in enumerate(layers):
        if not os.path.isfile(layer):
            raise UsageError("no such layer zip: %s" % layer)
        scratch = tempfile.mkdtemp(prefix="layer-%d-" % number, dir=into)
        try:
            ziputil.extract(layer, scratch, read_only=False)
            shutil.copytree(scratch, opt, dirs_exist_ok=True, symlinks=True)
        except (OSError, shutil.Error) as exc:
            raise UsageError("cannot merge the layer %s into the stand-in /opt: %s" % (layer, exc)) from None
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    ziputil.make_read_only(opt)
    base = os.environ if base_env is None else base_env
    version = python_version or "%d.%d" % sys.version_info[:2]
    env = {
        "PYTHONPATH": os.pathsep.join(
            [os.path.join(opt, "python"), os.path.join(opt, "python", "lib", "python%s" % version, "site-packages")]
        ),
        "PATH": _joined(os.path.join(opt, "bin"), base.get("PATH")),
        "LD_LIBRARY_PATH": _joined(os.path.join(opt, "lib"), base.get("LD_LIBRARY_PATH")),
    }
    bootstrap = os.path.join(opt, "bootstrap")
    return Opt(
        opt,
        env,
        bootstrap if os.path.isfile(bootstrap) else None,
        _shim_version(os.path.join(opt, "python", "shim", "__init__.py")),
    )


def _joined(first, rest):
    return first + (os.pathsep + rest if rest else "")


def _shim_version(path):
    try:
        with open(path, encoding="utf-8") as handle:
            match = _VERSION.search(handle.read())
    except OSError:
        return None
    return match.group(1) if match else None


def local_and_remote(layers):
    """(layer zips to merge here, layer ARNs that only Lambda can fetch)."""
    remote = [layer for layer in layers if layer.startswith("arn:")]
    return [layer for layer in layers if not layer.startswith("arn:")], remote
