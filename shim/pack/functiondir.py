"""The user's files: FUNCTION_DIR walked with the exclusion list, and refused when unsafe.

Exclusion patterns (fnmatch globs), from DEFAULT_EXCLUDES, then `.shimignore`
in FUNCTION_DIR (one a line, `#` comments), then `--exclude`:
- `name`   a file or directory with that name, at any depth (`*.log`, `.env*`);
- `name/`  directories only;
- `a/b`    a pattern with a slash inside, or starting with one (`/notes`), matches
           the path from FUNCTION_DIR;
- `!pat`   removes `pat` from the rules given before it (e.g. `!tests/`).
A directory holding `pyvenv.cfg` is a virtual environment and always left out.
"""

import errno
import fnmatch
import os

from shim.pack.errors import UsageError

IGNORE_FILE = ".shimignore"

DEFAULT_EXCLUDES = (
    ".git/",
    ".hg/",
    ".svn/",  # version control
    "__pycache__/",
    "*.pyc",
    "*.pyo",  # bytecode: the pack compiles its own, for the target
    ".env*",  # .env, .env.local, .envrc: they hold secrets
    "tests/",
    "test/",  # test suites do not run on Lambda
    ".venv/",
    "venv/",  # virtual environments (also any dir with pyvenv.cfg)
    ".tox/",
    ".nox/",
    ".pytest_cache/",
    ".mypy_cache/",
    ".ruff_cache/",
    ".idea/",
    ".vscode/",
    ".DS_Store",
    "node_modules/",  # a front end's or a CDK app's packages, never Python's
    "/README*",  # the folder's own README (shim new writes one): for people
    IGNORE_FILE,
)


def read_ignore_file(root):
    path = os.path.join(root, IGNORE_FILE)
    if not os.path.isfile(path):
        return []
    with open(path, encoding="utf-8") as handle:
        lines = [line.strip() for line in handle]
    return [line for line in lines if line and not line.startswith("#")]


def rules(extra=(), defaults=DEFAULT_EXCLUDES):
    result = []
    for pattern in list(defaults) + list(extra):
        pattern = pattern.strip()
        if pattern.startswith("!"):
            dropped = pattern[1:]
            if dropped in result:
                result.remove(dropped)
        elif pattern and pattern not in result:
            result.append(pattern)
    return result


def excluded(rel, is_dir, patterns):
    """The pattern that leaves out `rel` (a POSIX path from FUNCTION_DIR), or None."""
    name = rel.rsplit("/", 1)[-1]
    for pattern in patterns:
        dir_only = pattern.endswith("/")
        body = pattern.rstrip("/")
        if dir_only and not is_dir:
            continue
        subject = rel if "/" in body else name
        body = body.lstrip("/")
        if fnmatch.fnmatchcase(subject, body):
            return pattern
    return None


class Walk:
    """Files to pack from one function directory: .files is {relative POSIX path: real path}."""

    def __init__(self, root, extra_excludes=(), skip=()):
        self.root = os.path.abspath(str(root))
        if not os.path.isdir(self.root):
            raise UsageError("function directory %s does not exist or is not a directory" % root)
        self.real_root = os.path.realpath(self.root)
        self.patterns = rules(read_ignore_file(self.root) + list(extra_excludes))
        self.skip = {os.path.realpath(p) for p in skip}  # e.g. the output zip when it is inside
        self.files = {}
        self.left_out = []  # (relative path, why), top-most only
        self._walk(self.root, "", ())

    def _walk(self, directory, prefix, ancestors):
        real_dir = os.path.realpath(directory)
        if real_dir in ancestors:
            raise UsageError(
                "refusing symlink loop at %r: it points back to a directory above it" % (prefix.rstrip("/") or ".")
            )
        ancestors = ancestors + (real_dir,)
        try:
            names = sorted(os.listdir(directory))
        except OSError as exc:
            raise UsageError(
                "cannot read the folder %r: %s (make it readable, or leave it out with --exclude or "
                ".shimignore)" % (prefix.rstrip("/") or directory, (exc.strerror or str(exc)).lower())
            ) from None
        for name in names:
            path = os.path.join(directory, name)
            rel = prefix + name
            self._check_name(rel)
            is_dir = os.path.isdir(path)
            why = excluded(rel, is_dir, self.patterns)
            if why is None and is_dir and os.path.isfile(os.path.join(path, "pyvenv.cfg")):
                why = "virtual environment"
            if why is not None:
                self.left_out.append((rel + ("/" if is_dir else ""), why))
                continue
            # Only what is packed is checked: a left-out .venv is full of links to the system Python.
            if os.path.islink(path):
                self._check_link(path, rel)
            if is_dir:
                self._walk(path, rel + "/", ancestors)
            elif os.path.isfile(path):
                if os.path.realpath(path) not in self.skip:
                    if not os.access(path, os.R_OK):
                        raise UsageError(
                            "cannot read %r: permission denied (make it readable, or leave it out "
                            "with --exclude or .shimignore)" % rel
                        )
                    self.files[rel] = path
            else:
                self.left_out.append((rel, "not a regular file"))

    def _check_name(self, rel):
        try:
            rel.encode("utf-8")
        except UnicodeEncodeError:
            raise UsageError("refusing %r: the file name is not valid UTF-8" % rel) from None
        if "\\" in rel:
            raise UsageError("refusing %r: backslashes in names are read as directories on unzip" % rel)
        if any(ch < " " or ch == "\x7f" for ch in rel):
            raise UsageError(
                "refusing %r: a file name with a control character (a newline, a tab, ...) breaks "
                "the tools that list, unzip and log it; rename it" % rel
            )

    def _check_link(self, path, rel):
        target = os.readlink(path)
        try:
            os.stat(path)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise UsageError(
                    "refusing symlink %r -> %r: it is a symlink loop (it leads back to itself)" % (rel, target)
                ) from None
        real = os.path.realpath(path)
        if not os.path.exists(real):
            raise UsageError("refusing symlink %r -> %r: its target does not exist" % (rel, target))
        if real != self.real_root and not real.startswith(self.real_root + os.sep):
            raise UsageError(
                "refusing symlink %r -> %r: it points outside the function directory %s" % (rel, target, self.root)
            )
