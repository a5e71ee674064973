"""Loaded as `sitecustomize` into a function's runtime process by `shim profile` (never packed, never on Lambda).

shim.local.profiler copies this file into a directory of its own as sitecustomize.py and
puts that directory on the runtime's PYTHONPATH. The interpreter's `site` imports it at the
end of its own start, so the moment it runs separates the interpreter's start from the runtime's.

At that moment it:
- writes `site <time.monotonic()>` to the file named by _SHIM_PROFILE_FILE (the clock is
  system-wide, so the profiler compares it with the moment it started the bootstrap);
- takes itself out of the way: its directory leaves sys.path and PYTHONPATH, and the
  profiler's variables (PYTHONPROFILEIMPORTTIME too) leave os.environ, so neither later
  imports nor the function's own subprocesses see any of it.

With _SHIM_PROFILE_EVENTS=1 (`shim profile --events`) it loads shim.local.profile_usage (copied
beside it as _shim_profile_usage.py) to find out which modules the handler's import brought in
and which of them ran any Python code during the invokes. That run is not timed.

It is kept small and imports nothing the interpreter has not loaded already but `time`: it is
part of what is measured (the profiler writes its bytecode beforehand, so it is not compiled then).
"""

import os
import sys
import time

_SITE = time.monotonic()
_OWN = ("_SHIM_PROFILE_FILE", "_SHIM_PROFILE_EVENTS", "_SHIM_PROFILE_DIR", "PYTHONPROFILEIMPORTTIME")


def _leave():
    """Our directory off sys.path and PYTHONPATH, our variables out of the environment; the settings."""
    environ = os.environ
    settings = {name: environ.pop(name, None) for name in _OWN}
    own_dir = settings["_SHIM_PROFILE_DIR"]
    if own_dir:
        while own_dir in sys.path:
            sys.path.remove(own_dir)
        kept = [p for p in environ.get("PYTHONPATH", "").split(os.pathsep) if p and p != own_dir]
        if kept:
            environ["PYTHONPATH"] = os.pathsep.join(kept)
        else:
            environ.pop("PYTHONPATH", None)
    return settings


def _start():
    settings = _leave()
    out = settings["_SHIM_PROFILE_FILE"]
    if not out:
        return
    with open(out, "w") as handle:
        handle.write("site %r\n" % _SITE)
    if settings["_SHIM_PROFILE_EVENTS"] == "1":  # beside this file, whose directory _leave() took off sys.path
        sys.path.insert(0, settings["_SHIM_PROFILE_DIR"])
        try:
            from _shim_profile_usage import Usage  # type: ignore[import-not-found]  # written beside this file
        finally:
            del sys.path[0]
        Usage(out, _SITE).install()


_start()
