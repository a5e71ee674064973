"""The runtime part and its dependencies, copied out of the environment the pack runs in.

What ships is decided by construction, not by a list of what to leave out:
shim/__init__.py, shim/__main__.py and the whole shim/runtime package, plus the
distributions the runtime declares in shim.runtime.DEPENDENCIES and what they
require. The packer's own dependencies (importlib-metadata, zipp) never ship.

They are pure Python, so the installed files are exactly what Lambda needs, and
copying them works offline. That holds only while every distribution is pure
Python and supports the target version; otherwise plan() says so and the
caller installs the requirements for the target with pip instead.

Requirement markers are evaluated for the target (Linux, CPython, its version
and machine) by a small evaluator: `packaging` is not a runtime dependency.
"""

import os
import re

import shim
import shim.runtime

SHIM_DISTRIBUTION = "lambda-shim"
SHIM_ROOT = os.path.dirname(os.path.abspath(shim.__file__))
RUNTIME_ROOT = os.path.dirname(os.path.abspath(shim.runtime.__file__))
BOOTSTRAP = os.path.join(RUNTIME_ROOT, "bootstrap")  # the launcher, package data of the runtime
# Used only when the shim runs from a source tree that was never installed (no metadata).
FALLBACK_REQUIREMENTS = ("structlog>=23.1",)
# Installer bookkeeping: specific to one machine or install, useless on Lambda.
SKIPPED_METADATA = {"RECORD", "INSTALLER", "REQUESTED", "direct_url.json"}
NATIVE_SUFFIXES = (".so", ".pyd", ".dylib", ".dll")


def _metadata():
    # Imported on use: importlib_metadata costs ~40 ms, and only the packer needs it.
    import importlib_metadata

    return importlib_metadata


class Vendored:
    def __init__(self, name, version, files):
        self.name = name  # as its metadata spells it
        self.version = version
        self.files = files  # {zip entry name: absolute path}


class Plan:
    """What plan() found: .distributions to copy, or .reason why pip must install .requirements."""

    def __init__(self, distributions=(), requirements=(), reason=None):
        self.distributions = list(distributions)
        self.requirements = list(requirements)
        self.reason = reason


def shim_files():
    """The runtime part, sources only: {entry: path} (the layer puts these entries under python/)."""
    files = {"shim/" + name: os.path.join(SHIM_ROOT, name) for name in ("__init__.py", "__main__.py")}
    for directory, dirs, names in os.walk(RUNTIME_ROOT):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__" and not d.startswith("."))
        rel_dir = os.path.relpath(directory, os.path.dirname(SHIM_ROOT)).replace(os.sep, "/")
        for name in names:
            if name.endswith(".py"):
                files[rel_dir + "/" + name] = os.path.join(directory, name)
    return files


def runtime_requirements():
    """The requirements of lambda-shim that the runtime needs (shim.runtime.DEPENDENCIES), as installed."""
    metadata = _metadata()
    try:
        requires = metadata.distribution(SHIM_DISTRIBUTION).requires or ()
    except metadata.PackageNotFoundError:
        return list(FALLBACK_REQUIREMENTS)
    wanted = {normalize(name) for name in shim.runtime.DEPENDENCIES}
    return [r for r in requires if normalize(parse_requirement(r)[0]) in wanted]


def plan(environment):
    """Walk the shim's requirements for the target `environment` (see target_environment)."""
    top = [r for r in runtime_requirements() if applies(r, environment)]
    metadata = _metadata()
    seen, found, queue = set(), [], list(top)
    while queue:
        requirement = queue.pop(0)
        name, extras = parse_requirement(requirement)
        key = normalize(name)
        if key in seen:
            continue
        seen.add(key)
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            return Plan(requirements=top, reason="%s is not installed here" % name)
        version = dist.version
        requires_python = dist.metadata.get("Requires-Python")
        if requires_python and not version_matches(environment["python_version"], requires_python):
            return Plan(
                requirements=top,
                reason="%s %s (installed here) requires Python %s" % (dist.metadata["Name"], version, requires_python),
            )
        files = distribution_files(dist)
        if files is None:
            return Plan(
                requirements=top,
                reason="%s %s has no file list (RECORD) to copy from" % (dist.metadata["Name"], version),
            )
        native = [f for f in files if f.endswith(NATIVE_SUFFIXES)]
        if native:
            return Plan(
                requirements=top, reason="%s %s is not pure Python (%s)" % (dist.metadata["Name"], version, native[0])
            )
        found.append(Vendored(dist.metadata["Name"], version, files))
        for sub in dist.requires or ():
            if any(applies(sub, dict(environment, extra=extra)) for extra in [""] + extras):
                queue.append(sub)
    return Plan(distributions=found)


def distribution_files(dist):
    if dist.files is None:
        return None
    files = {}
    for entry in dist.files:
        rel = str(entry).replace("\\", "/")
        parts = rel.split("/")
        # `../../bin/x`: console scripts installed outside site-packages are not part of the package.
        if rel.startswith("/") or ".." in parts or "__pycache__" in parts or rel.endswith((".pyc", ".pyo")):
            continue
        if parts[0].endswith(".dist-info") and parts[-1] in SKIPPED_METADATA:
            continue
        if rel.endswith(".pth"):
            continue  # only read in site directories, which /var/task is not
        path = str(dist.locate_file(entry))
        if os.path.isfile(path):
            files[rel] = path
    return files


# -- requirements and markers ----------------------------------------------------------------


def normalize(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def parse_requirement(text):
    """('name', [extras]) of a PEP 508 requirement; its marker is read by applies()."""
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[([^\]]*)\])?", text)
    if not match:
        raise ValueError("not a requirement: %r" % text)
    extras = [e.strip() for e in (match.group(2) or "").split(",") if e.strip()]
    return match.group(1), extras


def applies(requirement, environment):
    """Whether the requirement's marker (after ';') holds in environment; no marker holds."""
    _, semicolon, marker = requirement.partition(";")
    if not semicolon or not marker.strip():
        return True
    try:
        return evaluate(marker, environment)
    except ValueError:
        return True  # an unreadable marker: better an extra dependency than a missing one


def target_environment(python_version, machine):
    return {
        "python_version": python_version,
        "python_full_version": python_version + ".0",
        "implementation_version": python_version + ".0",
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
        "sys_platform": "linux",
        "platform_system": "Linux",
        "os_name": "posix",
        "platform_machine": machine,
        "extra": "",
    }


VERSION_VARIABLES = {"python_version", "python_full_version", "implementation_version"}
_TOKEN = re.compile(
    r"""\s*(?:(?P<string>'[^']*'|"[^"]*")|(?P<op>===|==|!=|<=|>=|~=|<|>|\(|\))"""
    r"""|(?P<word>not\s+in\b|[A-Za-z_][A-Za-z0-9_.]*))"""
)


def evaluate(marker, environment):
    tokens = []
    position = 0
    marker = marker.strip()
    while position < len(marker):
        match = _TOKEN.match(marker, position)
        if not match or match.end() == position:
            raise ValueError("cannot read marker %r" % marker)
        kind = match.lastgroup
        text = match.group(kind)
        tokens.append((kind, re.sub(r"\s+", " ", text) if kind == "word" else text))
        position = match.end()
        while position < len(marker) and marker[position].isspace():
            position += 1
    parser = _MarkerParser(tokens, environment)
    result = parser.expression()
    if parser.position != len(tokens):
        raise ValueError("cannot read marker %r" % marker)
    return result


class _MarkerParser:
    # expression := conjunction ('or' conjunction)* ; conjunction := atom ('and' atom)*
    # atom := '(' expression ')' | value op value

    def __init__(self, tokens, environment):
        self.tokens, self.environment, self.position = tokens, environment, 0

    def peek(self):
        return self.tokens[self.position] if self.position < len(self.tokens) else (None, None)

    def take(self):
        token = self.peek()
        if token[0] is None:
            raise ValueError("marker ends too early")
        self.position += 1
        return token

    def expression(self):
        result = self.conjunction()
        while self.peek() == ("word", "or"):
            self.take()
            right = self.conjunction()
            result = result or right
        return result

    def conjunction(self):
        result = self.atom()
        while self.peek() == ("word", "and"):
            self.take()
            right = self.atom()
            result = result and right
        return result

    def atom(self):
        if self.peek() == ("op", "("):
            self.take()
            result = self.expression()
            if self.take() != ("op", ")"):
                raise ValueError("unbalanced parentheses")
            return result
        left_kind, left = self.take()
        op_kind, op = self.take()
        right_kind, right = self.take()
        if op_kind != "op" and op not in ("in", "not in"):
            raise ValueError("expected a comparison, got %r" % op)
        variable = left if left_kind == "word" else right if right_kind == "word" else None
        left = self.value(left_kind, left)
        right = self.value(right_kind, right)
        if variable == "extra":
            left, right = normalize(left), normalize(right)
        return compare(left, op, right, versions=variable in VERSION_VARIABLES)

    def value(self, kind, text):
        if kind == "string":
            return text[1:-1]
        if kind == "word" and text in self.environment:
            return self.environment[text]
        raise ValueError("unknown marker variable %r" % text)


def compare(left, op, right, versions=False):
    if op == "in":
        return left in right
    if op == "not in":
        return left not in right
    if op == "===":
        return left == right
    if versions:
        return version_matches(left, op + right)
    if op == "==":
        return left == right
    if op == "!=":
        return left != right
    raise ValueError("cannot compare strings with %s" % op)


def _release(text):
    numbers = []
    for part in text.strip().split("."):
        match = re.match(r"\d+", part)
        if not match:
            break
        numbers.append(int(match.group()))
    return tuple(numbers)


def version_matches(version, specifiers):
    """Whether a release like '3.12' satisfies specifiers like '>=3.9,!=3.10.*,<4' (enough for Python versions)."""
    have = _release(version)
    for spec in specifiers.split(","):
        spec = spec.strip()
        if not spec:
            continue
        match = re.match(r"(===|==|!=|<=|>=|~=|<|>)\s*(.+)$", spec)
        if not match:
            raise ValueError("cannot read version specifier %r" % spec)
        op, wanted = match.groups()
        if wanted.endswith(".*"):
            prefix = _release(wanted[:-2])
            same = have[: len(prefix)] == prefix
            if (op == "==" and not same) or (op == "!=" and same):
                return False
            continue
        want = _release(wanted)
        width = max(len(have), len(want))
        a, b = have + (0,) * (width - len(have)), want + (0,) * (width - len(want))
        if op == "~=":
            ok = a >= b and a[: len(want) - 1] == want[: len(want) - 1]
        else:
            ok = {"==": a == b, "===": a == b, "!=": a != b, "<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]
        if not ok:
            return False
    return True
