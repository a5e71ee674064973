"""requirements.txt installed for Lambda's platform by pip: the fallback when uv cannot (shim.pack.installer).

pip resolves for the target: manylinux wheels for its architecture and glibc,
its CPython version, binary wheels only. A requirement with no such wheel
gets one more chance: if its source distribution builds a pure-Python wheel
(`py3-none-any`), that wheel is fed back to pip; a compiled one is refused,
since it was built for this machine, not for Lambda.
"""

import os
import re
import subprocess
import sys

from shim.pack.errors import UsageError
from shim.pack import requirements

LAMBDA_GLIBC = "2.34"  # Amazon Linux 2023: provided.al2023 and python3.12+
MACHINES = {"x86_64": "x86_64", "arm64": "aarch64"}
PIP_QUIET_ENV = {"PYTHONUNBUFFERED": "1", "PIP_NO_COLOR": "1"}
_NO_MATCH = re.compile(r"No matching distribution found for (\S+)")


def platform_tags(arch, glibc=LAMBDA_GLIBC):
    """Every manylinux tag a wheel may carry to run on `arch` with `glibc`, most specific first.

    pip expands only the legacy manylinux2014 name (to 2010 and 1), not the PEP 600
    manylinux_2_N ones, so those are listed one by one down to 2.17 (= manylinux2014).
    """
    machine = MACHINES[arch]
    major, minor = parse_glibc(glibc)
    tags = ["manylinux_%d_%d_%s" % (major, m, machine) for m in range(minor, 16, -1)]
    return tags + ["manylinux2014_%s" % machine]


def parse_glibc(text):
    match = re.match(r"^2\.(\d+)$", str(text).strip())
    if not match or int(match.group(1)) < 17:
        raise UsageError("--glibc must look like 2.34 and be at least 2.17 (manylinux2014), got %r" % text)
    return 2, int(match.group(1))


def has_requirements(path):
    if not path or not os.path.isfile(path):
        return False
    with open(path, encoding="utf-8") as handle:
        return any(line.strip() and not line.lstrip().startswith("#") for line in handle)


def pip_command(requirement_files, target, arch, python_version, glibc=LAMBDA_GLIBC, find_links=(), python=None):
    """The exact pip command that installs requirement_files into target for Lambda."""
    command = [python or sys.executable, "-m", "pip", "install"]
    for path in requirement_files:
        command += ["--requirement", path]
    command += ["--target", target, "--implementation", "cp", "--python-version", python_version, "--only-binary=:all:"]
    for tag in platform_tags(arch, glibc):
        command += ["--platform", tag]
    for directory in find_links:
        command += ["--find-links", directory]
    command += ["--no-compile", "--disable-pip-version-check", "--no-input", "--progress-bar", "off"]
    return command


def wheel_command(requirement, name, wheel_dir, python=None, options=()):
    """Build one requirement's wheel from its source distribution (no dependencies: pip resolves those).

    options: the requirement files' index options (shim.pack.requirements.index_options), so the
    source distribution is looked for where the files say, as the install looked for wheels."""
    return (
        [
            python or sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-binary",
            name,
            "--wheel-dir",
            wheel_dir,
            "--disable-pip-version-check",
            "--no-input",
            "--progress-bar",
            "off",
        ]
        + list(options)
        + [requirement]
    )


def run(command, log, cwd=None):
    """Run pip, passing its lines to log as they come; (exit status, last lines)."""
    return stream(command, log, cwd, dict(os.environ, **PIP_QUIET_ENV))


def stream(command, log, cwd=None, env=None):
    """Run an installer, passing its lines to log as they come; (exit status, its last 40 lines)."""
    try:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=cwd, env=env)
    except OSError as exc:
        return 127, ["cannot run %s: %s" % (command[0], exc.strerror or exc)]
    tail = []
    for raw in iter(process.stdout.readline, b""):
        line = raw.decode("utf-8", "replace").rstrip()
        if not line:
            continue
        tail = (tail + [line])[-40:]
        log("    " + line)
    process.stdout.close()
    return process.wait(), tail


def install(requirement_files, target, arch, python_version, glibc=LAMBDA_GLIBC, log=None, cwd=None):
    """Install into target; returns the notes worth repeating in the summary."""
    log = log or (lambda line: None)
    notes = []
    # Beside target, so it goes away with the pack's scratch directory.
    wheel_dir = os.path.join(os.path.dirname(os.path.abspath(target)), "built-wheels")
    tried = set()
    while True:
        find_links = [wheel_dir] if os.path.isdir(wheel_dir) else []
        command = pip_command(requirement_files, target, arch, python_version, glibc, find_links)
        status, tail = run(command, log, cwd)
        if status == 0:
            return notes
        missing = [m.group(1) for m in map(_NO_MATCH.search, tail) if m]
        if not missing or missing[0] in tried:
            raise UsageError(
                "pip could not install the requirements for Lambda (exit status %d): %s" % (status, _last_error(tail))
            )
        requirement = missing[0]
        tried.add(requirement)
        options = requirements.index_options(requirement_files)
        notes.append(build_pure_wheel(requirement, wheel_dir, arch, python_version, log, cwd, options))


def build_pure_wheel(requirement, wheel_dir, arch, python_version, log, cwd=None, options=()):
    name = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement).group()
    where = "Linux %s / CPython %s" % (arch, python_version)
    log("  %s has no wheel for %s; building one from its source distribution" % (requirement, where))
    os.makedirs(wheel_dir, exist_ok=True)
    before = set(os.listdir(wheel_dir))
    status, tail = run(wheel_command(requirement, name, wheel_dir, options=options), log, cwd)
    built = sorted(set(os.listdir(wheel_dir)) - before)
    if status != 0 and any(_NO_MATCH.search(line) for line in tail):
        # Not a build failure: there is nothing to build, no wheel and no source distribution.
        raise UsageError(
            "%s was not found on the package index: no wheel and no source distribution matches it "
            "(check the name and the version)" % requirement
        )
    if status != 0 or not built:
        raise UsageError(
            "%s has no wheel for %s and its source distribution did not build: %s"
            % (requirement, where, _last_error(tail))
        )
    impure = [w for w in built if not w.endswith("-none-any.whl")]
    if impure:
        raise UsageError(
            "%s has no wheel for %s, and its source distribution builds compiled code (%s), "
            "which would be for this machine, not Lambda: pin a version that has manylinux "
            "wheels, or pack inside a Lambda image (shim dockerfile)" % (requirement, where, impure[0])
        )
    note = "%s: no wheel for %s, so it was built from its source distribution (pure Python: %s)" % (
        requirement,
        where,
        built[0],
    )
    log("  " + note)
    return note


def _last_error(tail):
    errors = [line.strip() for line in tail if line.strip().startswith("ERROR")]
    return (errors or tail or ["no output"])[-1]
