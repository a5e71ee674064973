"""The zip's entries, {name in the zip: (a file's path, or bytes; executable)}, from each source but the user's.

The requirements (install_requirements: installed for the target through
shim.pack.dependencies, then read back by installed_files), the runtime's
distributions copied from this environment (runtime_entries), and the launcher
(check_launcher, launcher). file_entries() makes entries of {name: path}; the
user's files come from shim.pack.functiondir, and packer puts them all together.
"""

import os

from shim.pack import dependencies, vendor
from shim.pack.checks import check_reserved
from shim.pack.errors import UsageError
from shim.pack.summary import _display

BOOTSTRAP = vendor.BOOTSTRAP
# The installers' bookkeeping in a .dist-info: not the package's (uv's two record its cache and build).
INSTALLER_METADATA = vendor.SKIPPED_METADATA | {"uv_cache.json", "uv_build.json"}


def install_requirements(requirements, plan, cwd, scratch, result, say, held, refresh=False):
    """The user's requirements, and the shim's when this environment's copies do not fit, installed for the
    target (shim.pack.dependencies: from the cache, else by uv or pip), as entries.

    Editable installs are refused before anything runs. The cache entry stays held (`held`, an
    ExitStack) until the zip is written. Returns (entries, the folder they are installed in or None)."""
    if plan.reason:
        say("  the shim's dependencies here do not fit the target (%s): they are installed for it" % plan.reason)
    entry = dependencies.open_site(
        requirements,
        cwd,
        scratch,
        result.python_version,
        result.arch,
        result.glibc,
        say,
        refresh=refresh,
        shim_requirements=plan.requirements if plan.reason else (),
        display=_display,
    )
    if entry is None:
        return {}, None
    held.enter_context(entry)
    result.installer, result.cache = entry.installer, "hit" if entry.hit else "miss"
    result.notes += entry.notes
    installed = installed_files(entry.site)
    check_reserved(installed, "the requirements")
    links = [name for name in installed if name.startswith("__editable__") or name.endswith(".egg-link")]
    if links:
        raise UsageError(
            "the requirements installed %s, a link to a folder of this machine (an editable install): "
            "Lambda cannot follow it; list that requirement without -e" % links[0]
        )
    return installed, entry.site


def installed_files(site):
    """Files pip put in `site`, as entries: scripts and installer bookkeeping left out."""
    files = {}
    for directory, dirs, names in os.walk(site):
        rel_dir = os.path.relpath(directory, site).replace(os.sep, "/")
        rel_dir = "" if rel_dir == "." else rel_dir + "/"
        if not rel_dir:
            dirs[:] = [d for d in dirs if d != "bin"]  # console scripts with this machine's shebang
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        in_metadata = rel_dir.split("/")[0].endswith(".dist-info")
        for name in names:
            if name.endswith((".pyc", ".pyo")) or (in_metadata and name in INSTALLER_METADATA):
                continue
            if not rel_dir and name == ".lock":  # uv's lock on the --target folder
                continue
            files[rel_dir + name] = os.path.join(directory, name)
    return files


def runtime_entries(plan, installed, user_files, bootstrap, result, say):
    """The vendored distributions as entries {name: (path, executable)}.

    A vendored distribution is left out whole when the user's files or requirements
    bring any of its files (their version wins, and two halves would not mix).
    """
    entries = {}
    for dist in plan.distributions:
        clash = sorted(set(dist.files) & (set(installed) | set(user_files)))
        if clash:
            result.notes.append(
                "%s %s: not copied from this environment, your %s is used instead" % (dist.name, dist.version, clash[0])
            )
            continue
        result.vendored.append((dist.name, dist.version))
        entries.update(file_entries(dist.files))
    if result.vendored:
        say("  the shim with %s, copied from this environment" % ", ".join("%s %s" % pair for pair in result.vendored))
    return entries


def file_entries(files, executable=None):
    """{name: path} as entries {name: (path, executable)}; executable=None reads the file's mode."""
    return {name: (path, _executable(path) if executable is None else executable) for name, path in files.items()}


def check_launcher(bootstrap):
    bootstrap = bootstrap or BOOTSTRAP
    if not os.path.isfile(bootstrap):
        raise UsageError(
            "the launcher %s is missing: reinstall lambda-shim (it is package data of shim.runtime)" % bootstrap
        )
    return bootstrap


def launcher(path):
    """The launcher's bytes, as its entry's source."""
    with open(path, "rb") as handle:
        data = handle.read()
    return data.replace(b"\r\n", b"\n")  # a checkout with CRLF endings would break sh on Lambda


def _executable(path):
    return bool(os.stat(path).st_mode & 0o111)
