"""requirements.txt installed for Lambda's platform by uv, the fast path (pip is the fallback: shim.pack.installer).

uv resolves for the target, not this machine: `--python-platform` names Lambda's
manylinux (architecture and glibc), `--python-version` its CPython, and
`--only-binary :all:` keeps to wheels. A requirement that has no such wheel gets one
more chance, as with pip: uv builds it from its source distribution
(`--no-binary NAME` lifts the wheels-only rule for that name alone) and the
result is kept only if the built wheel is pure Python (`py3-none-any`); a compiled
one would be for this machine, not for Lambda.

uv reads the requirement files' own options (--index-url, --extra-index-url,
--find-links, --no-index, -c) itself, on every path, the source build included.
"""

import os
import re
import sys

from shim.pack.errors import UsageError
from shim.pack import pipinstall, requirements

# The manylinux glibc versions uv's --python-platform can name (uv 0.8 and later).
UV_GLIBC = (17, 28, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40)
UV_MACHINES = {"x86_64": "x86_64", "arm64": "aarch64"}
_NO_WHEEL = (
    re.compile(r"Wheels are required for `([^`]+)`"),
    re.compile(r"([A-Za-z0-9][A-Za-z0-9._-]*?)(?:[=<>!~]=?\S*)? has no (?:usable )?wheels"),
)
_NOT_FOUND = re.compile(
    r"Because ([A-Za-z0-9][A-Za-z0-9._-]*?)(?:[=<>!~]=?\S*)? was not found in the "
    r"(?:package registry|provided package locations)"
)


def find_uv():
    """The uv binary to run (the `uv` package's, else one on PATH), or None."""
    try:
        import uv

        path = uv.find_uv_bin()
        if path and os.access(path, os.X_OK):
            return path
    except (ImportError, FileNotFoundError, OSError):
        pass
    import shutil

    return shutil.which("uv")


def python_platform(arch, glibc):
    """(uv's --python-platform for arch/glibc, whether it is exact): the newest glibc uv names that is not newer."""
    major, minor = (int(part) for part in str(glibc).split("."))
    fitting = [m for m in UV_GLIBC if m <= minor]
    chosen = fitting[-1] if fitting else UV_GLIBC[0]
    return "%s-manylinux_2_%d" % (UV_MACHINES[arch], chosen), chosen == minor


def uv_command(uv, requirement_files, target, arch, python_version, glibc, build_from_source=()):
    """The exact uv command that installs requirement_files into target for Lambda."""
    command = [uv, "pip", "install"]
    for path in requirement_files:
        command += ["--requirement", path]
    # The files' own index options once more, as arguments: uv lets its environment (UV_INDEX_URL, ...)
    # override what a file says, and the file must win, as with pip.
    command += _index_arguments(requirements.index_options(requirement_files))
    command += [
        "--target",
        target,
        "--python-platform",
        python_platform(arch, glibc)[0],
        "--python-version",
        python_version,
        "--python",
        sys.executable,
        "--only-binary",
        ":all:",
    ]
    if "*" in build_from_source:
        command = command[:-2]  # no --only-binary :all:
    for name in build_from_source:
        if name != "*":
            command += ["--no-binary", name]
    # copy: uv would hardlink files from its own cache, and a change to one would change both.
    return command + ["--link-mode", "copy", "--no-compile", "--no-progress", "--color", "never"]


def _index_arguments(options):
    kept, index = [], 0
    while index < len(options):
        option = options[index]
        if option == "--no-index":
            kept.append(option)
        elif option in ("--index-url", "-i", "--extra-index-url", "--find-links", "-f"):
            kept += [{"-i": "--index-url", "-f": "--find-links"}.get(option, option), options[index + 1]]
            index += 1
        elif option in ("-c", "--constraint", "--trusted-host"):
            index += 1
        index += 1
    return kept


def run(command, log, cwd=None):
    """Run the installer, passing its lines to log as they come; (exit status, last lines)."""
    env = dict(os.environ, PYTHONUNBUFFERED="1", NO_COLOR="1", UV_NO_PROGRESS="1")
    return pipinstall.stream(command, log, cwd, env)


def install(uv, requirement_files, target, arch, python_version, glibc, log, cwd=None):
    """Install into target with uv; returns the notes worth repeating in the summary. UsageError when it fails."""
    built = []  # names with no wheel for the target: built from source on the next try
    while True:
        command = uv_command(uv, requirement_files, target, arch, python_version, glibc, built)
        status, tail = run(command, log, cwd)
        if status == 0:
            break
        if "*" not in built and any("Building source distributions is disabled" in line for line in tail):
            # A local folder, a source archive or a VCS URL: it has to be built (so anything may be;
            # what was built is checked below).
            built.append("*")
            continue
        missing = [name for name in no_wheel(tail) if name not in built]
        if not missing:
            raise UsageError(failure(status, tail))
        for name in missing:
            log(
                "  %s has no wheel for Linux %s / CPython %s; building one from its source distribution"
                % (name, arch, python_version)
            )
        built += missing
    _tidy(target)
    return check_built(target, built, arch, python_version)


def no_wheel(tail):
    """The names uv says have no wheel for the target (in the order it says them)."""
    names = []
    for line in tail:
        for pattern in _NO_WHEEL:
            for name in pattern.findall(line):
                if name not in names:
                    names.append(name)
    return names


def failure(status, tail):
    """One line on why uv failed, in the words users need."""
    for line in tail:
        found = _NOT_FOUND.search(line)
        if found:
            return (
                "%s was not found on the package index: no wheel and no source distribution matches it "
                "(check the name and the version, and the index options)" % found.group(1)
            )
    causes = [line.strip() for line in tail if line.strip().startswith(("error:", "cause:", "×", "╰─▶"))]
    text = (
        " ".join(
            part.split(":", 1)[-1].strip() if part.startswith(("error:", "cause:")) else part.lstrip("×╰─▶ ")
            for part in causes[-3:]
        )
        or (tail or ["no output"])[-1]
    )
    return "uv could not install the requirements for Lambda (exit status %d): %s" % (status, text)


def check_built(target, no_wheel_names, arch, python_version):
    """Notes on what uv built from source (a uv_build.json in its .dist-info); UsageError for compiled code,
    which was built for this machine, not for Lambda."""
    where = "Linux %s / CPython %s" % (arch, python_version)
    wanted = {_normal(name) for name in no_wheel_names}
    notes = []
    if not os.path.isdir(target):  # nothing was installed (nothing needed installing)
        return notes
    for entry in sorted(os.listdir(target)):
        info = os.path.join(target, entry)
        if not entry.endswith(".dist-info") or not os.path.isfile(os.path.join(info, "uv_build.json")):
            continue
        name, version = entry[: -len(".dist-info")].split("-", 1)
        tags = _wheel_tags(os.path.join(info, "WHEEL"))
        if not tags or not all(tag.endswith("-none-any") for tag in tags):
            raise UsageError(
                "%s %s was built from source here, and it is compiled code (%s) for this machine, not "
                "for Lambda (%s): pin a version that has manylinux wheels, or pack inside a Lambda image "
                "(shim dockerfile)" % (name, version, ", ".join(tags) or "no tag", where)
            )
        if _normal(name) in wanted:
            notes.append(
                "%s: no wheel for %s, so it was built from its source distribution (pure Python: "
                "%s-%s-%s)" % (name, where, name, version, tags[0])
            )
    return notes


def _normal(name):
    return re.sub(r"[-_.]+", "_", name).lower()


def _wheel_tags(path):
    try:
        with open(path, encoding="utf-8") as handle:
            return [line.split(":", 1)[1].strip() for line in handle if line.startswith("Tag:")]
    except OSError:
        return []


def _tidy(target):
    """What uv leaves in a --target that is not part of what it installed (its lock file)."""
    try:
        os.unlink(os.path.join(target, ".lock"))
    except OSError:
        pass
