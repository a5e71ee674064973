"""What a local runtime may import: the task root, layers, the standard library, nothing else.

On Lambda the function sees its zip (/var/task), its layers (/opt) and the
interpreter's standard library. Run from the developer's virtual environment it
would also see every package installed there, and the checkout itself through the
editable install: an import that fails on Lambda would work here. So the local tools
start the runtime with:

- interpreter(): the base interpreter behind the one given (the venv's by default),
  wrapped in a bare virtual environment of its own (a pyvenv.cfg that leaves out
  system site-packages; user site-packages are off in any venv), so its sys.path is the
  standard library and an empty site-packages;
- runtime_dir(): for a function directory run in place (no zip), the runtime part laid
  out as a zip has it: `bootstrap`, shim/ (runtime modules only) and the runtime's own
  dependencies, copied by shim.pack.vendor, never the checkout;
- packages_dir(names): what a managed runtime adds on request. Lambda's managed Python
  runtimes ship boto3 and botocore in /var/runtime, on their PYTHONPATH after the task
  root; provided.al2023 ships nothing. `--with-boto3` puts the developer's own boto3,
  botocore and their requirements (links to the installed files, nothing else) in the
  same place.
- environ(): the developer's environment minus the PYTHON* variables that would bring
  their paths and settings along (PYTHONPATH, PYTHONHOME, PYTHONUNBUFFERED, ...);
- pycache_dir(): for a function run in place, where its bytecode goes instead of
  __pycache__ folders in the user's directory (a zip ships its own, read-only, as on Lambda).

Everything is made once per process, in one temporary directory removed at exit.
"""

import atexit
import os
import platform
import shutil
import stat
import subprocess
import sys
import tempfile
import threading

from shim.pack.errors import UsageError

BOTO3 = ("boto3",)  # what --with-boto3 adds, with its requirements (botocore, jmespath, s3transfer, ...)

_lock = threading.RLock()
_made = {}  # type: dict  # key -> path, for this process
_root = None


def _home():
    global _root
    if _root is None:
        _root = tempfile.mkdtemp(prefix="shim-local-")
        atexit.register(remove)
    return _root


def remove():
    """Delete everything made here (at exit; also safe to call earlier)."""
    global _root
    with _lock:
        root, _root = _root, None
        _made.clear()
    if root:
        shutil.rmtree(root, ignore_errors=True)


def environ(base=None):
    """The developer's environment without the variables that make Python look beyond Lambda's paths."""
    base = os.environ if base is None else base
    return {
        k: v for k, v in base.items() if not k.startswith("PYTHON") and k not in ("VIRTUAL_ENV", "__PYVENV_LAUNCHER__")
    }


def interpreter(python=None):
    """A path that runs the base interpreter of `python` (default: this one) with no site-packages."""
    key = ("python", os.path.abspath(python) if python else None)
    with _lock:
        if key not in _made:
            base, version = _base_interpreter(python)
            where = os.path.join(_home(), "python-%d" % len(_made))
            os.makedirs(os.path.join(where, "bin"))
            with open(os.path.join(where, "pyvenv.cfg"), "w") as cfg:
                cfg.write(
                    "home = %s\ninclude-system-site-packages = false\nversion = %s\n" % (os.path.dirname(base), version)
                )
            # `python3`, as on provided.al2023's PATH: the launcher's bytecode check looks at a python3.N name.
            executable = os.path.join(where, "bin", "python3")
            os.symlink(base, executable)
            _made[key] = executable
        return _made[key]


def _base_interpreter(python):
    """(the interpreter a venv's python runs, its version)."""
    if not python or os.path.realpath(python) == os.path.realpath(sys.executable):
        base = getattr(sys, "_base_executable", None) or sys.executable
        return os.path.realpath(base), "%d.%d.%d" % sys.version_info[:3]
    probe = "import sys; print(getattr(sys, '_base_executable', '') or sys.executable); print('%d.%d.%d' % sys.version_info[:3])"
    try:
        out = subprocess.run([python, "-S", "-c", probe], capture_output=True, text=True, timeout=30, check=True).stdout
        base, version = out.split()
    except (OSError, ValueError, subprocess.SubprocessError) as exc:
        raise UsageError("cannot run the interpreter %s: %s" % (python, exc)) from None
    return os.path.realpath(base), version


def runtime_dir():
    """A directory with `bootstrap`, the runtime part of shim/ and its dependencies, as in a zip's root."""
    with _lock:
        if "runtime" not in _made:
            from shim.pack import vendor

            files = vendor.shim_files()
            plan = vendor.plan(vendor.target_environment("%d.%d" % sys.version_info[:2], platform.machine()))
            for dist in plan.distributions:  # none if they cannot be copied: only `import structlog` misses them
                files.update(dist.files)
            where = os.path.join(_home(), "runtime")
            for entry, source in files.items():
                target = os.path.join(where, *entry.split("/"))
                os.makedirs(os.path.dirname(target), exist_ok=True)
                shutil.copyfile(source, target)
            shutil.copyfile(vendor.BOOTSTRAP, os.path.join(where, "bootstrap"))
            os.chmod(
                os.path.join(where, "bootstrap"),
                stat.S_IRWXU | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH,
            )
            _made["runtime"] = where
        return _made["runtime"]


def pycache_dir():
    """Where a function run in place keeps its bytecode (PYTHONPYCACHEPREFIX): never in the user's folder."""
    with _lock:
        if "pycache" not in _made:
            _made["pycache"] = os.path.join(_home(), "pycache")
            os.makedirs(_made["pycache"])
        return _made["pycache"]


def packages_dir(names):
    """A directory holding the installed distributions `names` and their requirements (as links).

    A regular package (its __init__.py among the files) is one link to its folder; other files (modules,
    .dist-info, namespace packages, which other distributions may share) are linked one by one. boto3's
    closure is ~2,300 files in ~10 packages: ten links instead of thousands."""
    names = tuple(sorted(set(names)))
    key = ("packages",) + names
    with _lock:
        if key not in _made:
            where = os.path.join(_home(), "packages-%d" % len(_made))
            os.makedirs(where, exist_ok=True)
            entries = closure(names)
            whole = set()
            for entry, source in entries.items():
                top, sep, rest = entry.partition("/")
                if sep and rest == "__init__.py" and top not in whole:
                    os.symlink(os.path.dirname(source), os.path.join(where, top))
                    whole.add(top)
            for entry, source in entries.items():
                if entry.partition("/")[0] in whole:
                    continue
                target = os.path.join(where, *entry.split("/"))
                os.makedirs(os.path.dirname(target), exist_ok=True)
                os.symlink(source, target)
            _made[key] = where
        return _made[key]


def closure(names):
    """{entry: installed file} of the distributions `names` and everything they require, here."""
    from shim.pack import vendor

    metadata = vendor._metadata()
    environment = vendor.target_environment("%d.%d" % sys.version_info[:2], platform.machine())
    files, seen, queue = {}, set(), [(name, name) for name in names]
    while queue:
        requirement, wanted_by = queue.pop(0)
        name, extras = vendor.parse_requirement(requirement)
        if vendor.normalize(name) in seen:
            continue
        seen.add(vendor.normalize(name))
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            raise UsageError(
                "%s is not installed in this environment (%s), so it cannot be added to the runtime's "
                "path: pip install it, or leave the option out" % (name, sys.prefix)
                if name == wanted_by
                else "%s (required by %s) is not installed in this environment" % (name, wanted_by)
            ) from None
        found = vendor.distribution_files(dist)
        if found is None:
            raise UsageError("%s has no file list (RECORD) to take its files from" % name)
        files.update(found)
        for sub in dist.requires or ():
            if any(vendor.applies(sub, dict(environment, extra=extra)) for extra in [""] + extras):
                queue.append((sub, wanted_by))
    return files
