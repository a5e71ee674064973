"""Which installer puts the requirements into the target: uv, or pip where uv cannot.

- uv (shim.pack.uvinstall) is the default: the `uv` package is a dependency of
  lambda-shim's tools (never of the zip).
- pip (shim.pack.pipinstall) runs instead when uv is not there (no uv binary for this
  machine), when SHIM_INSTALLER=pip asks for it, and when uv finds no way for a
  glibc it cannot name exactly (its --python-platform knows manylinux 2.17, 2.28 and
  2.31 to 2.40; pip takes every manylinux tag down to 2.17, so --glibc 2.26 may need it).
"""

import os
import shutil

from shim.pack.errors import UsageError
from shim.pack import pipinstall, uvinstall


def choose(environ=None):
    """(installer name, uv binary or None, why pip when it is pip)."""
    environ = os.environ if environ is None else environ
    forced = environ.get("SHIM_INSTALLER", "").strip().lower()
    if forced not in ("", "uv", "pip"):
        raise UsageError("SHIM_INSTALLER must be uv or pip, got %r" % forced)
    if forced == "pip":
        return "pip", None, "SHIM_INSTALLER=pip"
    uv = uvinstall.find_uv()
    if uv is None:
        if forced == "uv":
            raise UsageError("SHIM_INSTALLER=uv, but uv is not installed here: pip install uv")
        return "pip", None, "uv is not installed here"
    return "uv", uv, None


def install(files, target, arch, python_version, glibc, log, cwd=None, chosen=None):
    """Install requirement files into target for Lambda; returns (installer that ran, notes)."""
    name, uv, why = chosen or choose()
    if name == "uv":
        platform, exact = uvinstall.python_platform(arch, glibc)
        if not exact:
            log("  uv targets %s, the nearest it names to glibc %s" % (platform, glibc))
        try:
            return "uv", uvinstall.install(uv, files, target, arch, python_version, glibc, log, cwd)
        except UsageError as exc:
            if exact:
                raise
            log("  uv found no way (%s); pip, which takes every manylinux tag down to glibc 2.17, tries" % exc)
            shutil.rmtree(target, ignore_errors=True)
            why = "uv cannot name glibc %s exactly" % glibc
    log("  pip installs them (%s)" % why)
    return "pip", pipinstall.install(files, target, arch, python_version, glibc, log, cwd=cwd)
