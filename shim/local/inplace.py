"""A function directory run in place (`shim invoke --no-pack`, the fixture's default) sees its requirements.

On Lambda they sit in /var/task beside the function's files. Run in place, the runtime
gets them from the same cache `shim pack` uses (shim.pack.dependencies), installed for
the same Lambda target, on its PYTHONPATH after the function's folder (so a file of
the function still wins over an installed one, as it does in the zip). Nothing is
written into the function's folder.

The target is this machine's architecture and the running interpreter's CPython
unless told otherwise; when this machine cannot run the target, target_warning()
says so in one line, with the flags that change it.
"""

import os
import platform
import sys
import tempfile

RUNNING = "%d.%d" % sys.version_info[:2]


def requirements_site(function_dir, python_version=None, arch=None, glibc=None, refresh=False, log=None):
    """(held cache entry or None, the site folder or None) for function_dir/requirements.txt."""
    from shim.pack import checks, dependencies, pipinstall

    path = os.path.join(str(function_dir), "requirements.txt")
    if not pipinstall.has_requirements(path):
        return None, None
    arch = checks.ARCHES.get(arch or checks.default_arch())
    python_version = checks.check_python_version(python_version or RUNNING)
    glibc = glibc or pipinstall.LAMBDA_GLIBC
    with tempfile.TemporaryDirectory(prefix="shim-inplace-") as scratch:
        entry = dependencies.open_site(
            path,
            os.path.abspath(str(function_dir)),
            scratch,
            python_version,
            arch,
            glibc,
            log or (lambda line: None),
            refresh=refresh,
        )
    return entry, entry.site


def target_warning(python_version=None, arch=None, command="invoke"):
    """One line when this machine cannot run what was installed for the target, else None."""
    from shim.pack import checks

    machine = checks.ARCHES.get(platform.machine(), platform.machine())
    arch = checks.ARCHES.get(arch or machine, arch)
    python_version = python_version or RUNNING
    if arch == machine and python_version == RUNNING:
        return None
    return (
        "the requirements are installed for Lambda's %s with CPython %s, and run here on %s with CPython %s: "
        "compiled packages among them will fail to import; --arch %s --python-version %s on shim %s targets "
        "this machine" % (arch, python_version, machine, RUNNING, machine, RUNNING, command)
    )
