"""requirements.txt read before pip sees it: refuse what cannot work on Lambda, keep pip out of the user's folders.

- An editable requirement (`-e .`, `--editable ./lib`, `-e git+...`) installs a link back
  to a folder of this machine (an `__editable__` finder or .pth holding its absolute
  path): in the zip it points nowhere. It is refused, with one line saying so.
- A local folder (`.`, `./lib`, `../shared`, `/abs/pkg`, `name @ file:///...`) is built by
  pip in place, and the build writes `build/` and `*.egg-info/` into it, often the
  function's own folder: the next pack would differ. It is copied into the pack's
  scratch directory first and built from there.
- A local archive (a .whl or an sdist) is only read; its path is made absolute.

The files are rewritten into the scratch directory (nested `-r`/`-c` files too), and pip
then runs there, so nothing it does lands in FUNCTION_DIR. Relative paths mean what pip
would make of them: requirement paths from the working directory the pack ran pip in,
FUNCTION_DIR; `-r`/`-c` files from the file that names them.
"""

import os
import re
import shutil
import urllib.parse

from shim.pack.errors import UsageError

_EDITABLE = re.compile(r"^(-e|--editable)(\s+|=|$)")
_NESTED = re.compile(r"^(-r|--requirement|-c|--constraint)(?:\s+|=)(.+)$")
_FIND_LINKS = re.compile(r"^(-f|--find-links)(?:\s+|=)(.+)$")
_NAMED_URL = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*(?:\[[^\]]*\])?)\s*@\s*(?P<url>\S+)(?P<rest>.*)$")
# Options that decide where packages come from: a source build must be given them too.
_INDEX_OPTION = re.compile(
    r"^(--index-url|-i|--extra-index-url|--find-links|-f|--no-index|--trusted-host|--pre|"
    r"-c|--constraint)(?:\s+|=|$)(.*)$"
)
_PATH = re.compile(r"^(?P<path>[^\s;\[]+)(?P<rest>.*)$")
# Not worth copying, and what a build leaves behind (so it is not picked up as stale metadata).
_NOT_COPIED = (
    "__pycache__",
    ".git",
    ".hg",
    ".svn",
    ".venv",
    "venv",
    ".tox",
    ".nox",
    "build",
    "*.egg-info",
    ".pytest_cache",
    ".mypy_cache",
    ".ruff_cache",
    "node_modules",
)


class Prepared:
    def __init__(self, scratch, cwd):
        self.scratch = scratch
        self.cwd = cwd  # where relative requirement paths start (FUNCTION_DIR)
        self.paths = []  # the rewritten files, one for each file given, for pip
        self.files = {}  # every file read (nested ones too) -> its rewritten copy
        self.copies = []  # (what the line said, the copy built instead)
        self.inputs = []  # what decides the install, for the cache key (shim.pack.depcache)


def prepare(files, cwd, scratch):
    """Rewrite requirement files into `scratch`; returns the Prepared (.paths for pip, in the order given)."""
    prepared = Prepared(scratch, os.path.abspath(cwd))
    os.makedirs(os.path.join(scratch, "requirements"), exist_ok=True)
    prepared.paths = [_rewrite(os.path.abspath(path), prepared, ()) for path in files]
    return prepared


def index_options(paths, _seen=None):
    """The index options (--index-url, --extra-index-url, --find-links, --no-index, --trusted-host, --pre, -c)
    of requirement files and the files they include, as arguments for a pip command that gets no file."""
    seen = set() if _seen is None else _seen
    options = []
    for path in paths:
        if path in seen:
            continue
        seen.add(path)
        try:
            with open(path, encoding="utf-8") as handle:
                text = handle.read()
        except (OSError, UnicodeDecodeError):
            continue
        for _, line in _logical_lines(text):
            nested = _NESTED.match(line)
            if nested and nested.group(1) in ("-r", "--requirement"):
                target = os.path.join(os.path.dirname(path), nested.group(2).strip())
                options += index_options([os.path.abspath(target)], seen)
                continue
            option = _INDEX_OPTION.match(line)
            if option:
                value = option.group(2).strip()
                if option.group(1) in ("-c", "--constraint", "-f", "--find-links") and not _is_url(value):
                    value = os.path.join(os.path.dirname(path), value)
                options += [option.group(1)] + ([value] if value else [])
    return options


def _rewrite(path, prepared, including):
    if path in prepared.files:
        return prepared.files[path]
    if path in including:
        raise UsageError("%s includes itself (through -r or -c)" % path)
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(
            "cannot read the requirements file %s: %s" % (path, getattr(exc, "strerror", None) or exc)
        ) from None
    out = os.path.join(prepared.scratch, "requirements", "%d-%s" % (len(prepared.files), os.path.basename(path)))
    prepared.inputs.append(["file %d" % len(prepared.files), text])
    prepared.files[path] = out
    lines = [_line(line, number, path, prepared, including + (path,)) for number, line in _logical_lines(text)]
    with open(out, "w", encoding="utf-8") as handle:
        handle.write("".join(line + "\n" for line in lines))
    return out


def _logical_lines(text):
    """(first line number, line) with comments removed and backslash continuations joined, as pip reads them."""
    pending, start = "", None
    for number, raw in enumerate(text.splitlines(), 1):
        if start is None:
            start = number
        if raw.endswith("\\") and not raw.endswith("\\\\"):
            pending += raw[:-1]
            continue
        line = re.sub(r"(^|\s+)#.*$", "", pending + raw).strip()
        pending, begun, start = "", start, None
        if line:
            yield begun, line


def _line(line, number, path, prepared, including):
    where = "%s:%d" % (_shown(path), number)
    if _EDITABLE.match(line):
        target = _EDITABLE.sub("", line).strip() or "?"
        raise UsageError(
            "%s: %r is an editable install: it would put a link to %s on this machine into the zip, "
            "which Lambda cannot follow; list it without -e (pip then installs a copy)"
            % (where, line, _absolute(target, prepared.cwd) if not _is_url(target) else target)
        )
    nested = _NESTED.match(line)
    if nested:
        target = os.path.join(os.path.dirname(path), os.path.expanduser(nested.group(2).strip()))
        return "%s %s" % (nested.group(1), _rewrite(os.path.abspath(target), prepared, including))
    links = _FIND_LINKS.match(line)
    if links:
        value = links.group(2).strip()
        if _is_url(value):
            return line
        folder = _absolute(value, prepared.cwd)
        prepared.inputs.append(["find-links " + folder, _fingerprint(folder)])
        return "%s %s" % (links.group(1), folder)
    if line.startswith("-"):
        return line  # other options (--index-url, --hash on its own, ...) are pip's business
    named = _NAMED_URL.match(line)
    if named:
        url = named.group("url")
        if not url.startswith("file:"):
            return line
        local = _url2pathname(urllib.parse.urlparse(url).path)
        return "%s @ %s%s" % (
            named.group("name"),
            _local(local, line, where, prepared, as_url=True),
            named.group("rest"),
        )
    spec = _PATH.match(line)
    token = spec.group("path") if spec else ""
    if not spec or _is_url(token):
        return line
    if token.startswith("file:"):
        local = _url2pathname(urllib.parse.urlparse(token).path)
        return _local(local, line, where, prepared, as_url=True) + spec.group("rest")
    if _looks_like_path(token, prepared.cwd):
        return _local(_absolute(token, prepared.cwd), line, where, prepared) + spec.group("rest")
    return line


def _local(path, line, where, prepared, as_url=False):
    """The absolute path (or file: URL) to give pip for a local requirement; folders are copied first."""
    path = os.path.abspath(path)
    if os.path.exists(path):
        prepared.inputs.append(["local " + line, _fingerprint(path, contents=True)])
    if os.path.isdir(path):
        copy = os.path.join(prepared.scratch, "local", "%d-%s" % (len(prepared.copies), os.path.basename(path)))
        try:
            shutil.copytree(path, copy, symlinks=True, ignore=_ignore)
        except (OSError, shutil.Error) as exc:
            raise UsageError("%s: cannot copy %s to build it: %s" % (where, path, exc)) from None
        prepared.copies.append((line, copy))
        path = copy
    elif not os.path.exists(path):
        raise UsageError("%s: %r names %s, which does not exist" % (where, line, path))
    return urllib.parse.urljoin("file:", _pathname2url(path)) if as_url else path


def _fingerprint(path, contents=False):
    """A digest of what a local file or folder holds: names, sizes and times (and contents with contents=True)."""
    import hashlib

    digest = hashlib.sha256()
    if os.path.isfile(path):
        found = [(os.path.basename(path), path)]
    else:
        found = []
        for directory, dirs, names in os.walk(path):
            dirs[:] = sorted(d for d in dirs if d not in _ignore(directory, dirs))
            found += [
                (os.path.relpath(os.path.join(directory, n), path), os.path.join(directory, n))
                for n in sorted(set(names) - _ignore(directory, names))
            ]
    for rel, full in found:
        try:
            st = os.stat(full)
        except OSError:
            continue
        digest.update(("%s\0%d\0" % (rel, st.st_size)).encode("utf-8", "surrogateescape"))
        if contents:
            with open(full, "rb") as handle:
                digest.update(hashlib.sha256(handle.read()).digest())
        else:
            digest.update(str(st.st_mtime_ns).encode())
    return digest.hexdigest()


def _url2pathname(path):
    import urllib.request  # http.client and friends: ~50 ms, only for a file: URL

    return urllib.request.url2pathname(path)


def _pathname2url(path):
    import urllib.request

    return urllib.request.pathname2url(path)


def _ignore(directory, names):
    import fnmatch

    ignored = {name for name in names for pattern in _NOT_COPIED if fnmatch.fnmatchcase(name, pattern)}
    ignored.update(name for name in names if os.path.isfile(os.path.join(directory, name, "pyvenv.cfg")))
    return ignored


def _looks_like_path(token, cwd):
    # pip's own test: a path separator or a leading dot, or an archive that exists.
    if token.startswith((".", "/", "~")) or os.sep in token:
        return True
    return token.endswith((".whl", ".tar.gz", ".zip", ".tar.bz2")) and os.path.exists(os.path.join(cwd, token))


def _absolute(token, cwd):
    return os.path.normpath(os.path.join(cwd, os.path.expanduser(token)))


def _is_url(text):
    return bool(re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", text)) or text.startswith(("git+", "hg+", "svn+", "bzr+"))


def _shown(path):
    relative = os.path.relpath(path)
    return relative if not relative.startswith("..") else path
