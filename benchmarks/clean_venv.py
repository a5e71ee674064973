"""The bench's interpreters: one base CPython, two virtual environments with only what each runtime needs.

- `shim`: empty (`python -m venv --without-pip`): the packed zip carries the runtime and structlog;
- `awslambdaric`: the official client and its requirements, copied file by file (their RECORD)
  from this environment, so the same build runs without any network.

Neither has pip, setuptools or a `.pth` file: `assert_no_startup_hooks` checks every site
directory of each interpreter and fails the bench if any .pth there runs code (an `import`
line, as setuptools' distutils-precedence.pth has), because such hooks cost every cold start
several million instructions that no Lambda interpreter pays. The dev .venv has them; the
bench measures it too, in a row of its own, so the difference is shown rather than hidden.
"""

import json
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
VENVS = os.path.join(ROOT, ".bench", "venvs")
SITE_PROBE = (
    "import json, site, sys; print(json.dumps(site.getsitepackages() + [site.getusersitepackages()] "
    "if site.ENABLE_USER_SITE else site.getsitepackages()))"
)


def base_interpreter():
    """The CPython behind this (venv's) interpreter."""
    return os.path.realpath(getattr(sys, "_base_executable", None) or sys.executable)


def make(name, distributions=(), base=None):
    """A venv at .bench/venvs/NAME with `distributions` (installed here) copied in; its python's path."""
    from shim.local import sandbox

    base = base or base_interpreter()
    where = os.path.join(VENVS, name)
    stamp = os.path.join(where, "bench-stamp.json")
    wanted = {"base": base, "distributions": sorted(distributions), "versions": _versions(distributions)}
    python = os.path.join(where, "bin", "python")
    if os.path.exists(stamp):
        with open(stamp) as handle:
            if json.load(handle) == wanted and os.path.exists(python):
                return python
    shutil.rmtree(where, ignore_errors=True)
    subprocess.run([base, "-m", "venv", "--without-pip", where], check=True)
    site_packages = json.loads(
        subprocess.run([python, "-c", SITE_PROBE], check=True, capture_output=True, text=True).stdout
    )[0]
    if distributions:
        for entry, source in sandbox.closure(tuple(distributions)).items():
            target = os.path.join(site_packages, *entry.split("/"))
            os.makedirs(os.path.dirname(target), exist_ok=True)
            shutil.copy2(source, target)
        subprocess.run([python, "-m", "compileall", "-q", site_packages], check=True)
    with open(stamp, "w") as handle:
        json.dump(wanted, handle)
    return python


def _versions(names):
    from importlib import metadata

    return {name: metadata.version(name) for name in names}


def startup_hooks(python):
    """The .pth files in python's site directories that run code at every start (lines starting with import)."""
    dirs = json.loads(subprocess.run([python, "-c", SITE_PROBE], check=True, capture_output=True, text=True).stdout)
    found = []
    for directory in dirs:
        if not os.path.isdir(directory):
            continue
        for name in sorted(os.listdir(directory)):
            if not name.endswith(".pth"):
                continue
            with open(os.path.join(directory, name), errors="replace") as handle:
                if any(line.startswith(("import ", "import\t")) for line in handle):
                    found.append(os.path.join(directory, name))
    return found


def assert_no_startup_hooks(python):
    hooks = startup_hooks(python)
    if hooks:
        from server import BenchmarkError

        raise BenchmarkError("%s runs start-up hooks no Lambda interpreter has: %s" % (python, ", ".join(hooks)))


def prepare():
    """{'shim': python, 'awslambdaric': python}, both checked for start-up hooks."""
    pythons = {"shim": make("shim"), "awslambdaric": make("awslambdaric", ("awslambdaric",))}
    for python in pythons.values():
        assert_no_startup_hooks(python)
    return pythons
