"""The installed requirements, kept between runs: a content-addressed cache shared by pack, invoke, serve
and the pytest plugin.

The key is a digest of everything that decides what gets installed: the requirement
files' contents (nested -r/-c files too) and their options, what local paths and
--find-links folders hold, the target CPython, architecture and glibc, the installer
and the packer's version. Index settings from the environment or from pip's or uv's
configuration are not in it: a cache hit needs no index at all.

Layout, under cache_dir()/deps:

    <key>.lock                 held (exclusive) by whoever installs for that key
    <key>/current              the name of the generation in use
    <key>/g-<id>/site/         the installed target
    <key>/g-<id>/entry.json    inputs, installer, notes, and a digest of every file in site/
    <key>/g-<id>/lock          held (shared) while a run uses that generation
    .build-<key>-<pid>-<id>/   a generation being written

A generation is written aside and renamed into place whole, then named in `current`
(itself written aside and renamed): a pack killed at any point leaves at most a
`.build-*` folder or an unnamed generation, which nothing uses and the next install
of that key removes. A generation is never changed once published; --refresh writes a
new one, and an old one is deleted only when no run holds it. Before use, every file
of the generation is hashed and compared with its digest: an entry changed or damaged
since it was written is installed again, with one line saying so.
"""

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import stat
import time
import uuid

import shim

FORMAT = 1


def cache_dir(environ=None):
    """$SHIM_CACHE_DIR, else $XDG_CACHE_HOME/lambda-shim, else ~/.cache/lambda-shim."""
    environ = os.environ if environ is None else environ
    if environ.get("SHIM_CACHE_DIR"):
        return os.path.abspath(os.path.expanduser(environ["SHIM_CACHE_DIR"]))
    base = environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(os.path.abspath(base), "lambda-shim")


AREAS = ("deps", "trees")  # installed requirements; unpacked zips (shim.local.taskroots)


def deps_dir(environ=None, area="deps"):
    return os.path.join(cache_dir(environ), area)


def key_of(inputs):
    """The entry's key: a digest of its inputs (a JSON-able dict) and the packer's version."""
    text = json.dumps({"format": FORMAT, "packer": shim.__version__, "inputs": inputs}, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


class Entry:
    """One verified generation of a cache entry, held (shared lock) until close()."""

    def __init__(self, key, path, record, lock_fd, hit):
        self.key = key
        self.path = path
        self.site = os.path.join(path, "site")
        self.installer = record.get("installer")
        self.notes = list(record.get("notes", ()))
        self.hit = hit
        self._lock_fd = lock_fd

    def close(self):
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # releases the shared lock
            self._lock_fd = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def open_entry(inputs, build, log, refresh=False, environ=None, area="deps", what="the cached requirements"):
    """An Entry for `inputs`: the cached one if it verifies (and not refresh), else one build(site) fills.

    build(site) installs into the folder site and returns (installer, notes). Close the
    Entry (or use it as a context manager) when done with its files.
    """
    root = deps_dir(environ, area)
    key = key_of(inputs)
    os.makedirs(root, exist_ok=True)
    if not refresh:
        found, problem = _current(root, key)
        if found is not None:
            return found
    with _exclusive(os.path.join(root, key + ".lock")):
        if not refresh:
            found, problem = _current(root, key)  # built by another run while this one waited
            if found is not None:
                return found
            if problem:
                log(
                    "  %s %s were changed since they were written (%s): %s them again"
                    % (what, key[:12], problem, "installing" if area == "deps" else "making")
                )
        _remove_stale(root, key)
        return _build(root, key, inputs, build)


def _current(root, key):
    """(verified Entry or None, what is wrong with it or None if there is none)."""
    folder = os.path.join(root, key)
    try:
        with open(os.path.join(folder, "current")) as handle:
            generation = handle.read().strip()
    except OSError:
        return None, None
    path = os.path.join(folder, generation)
    try:
        lock_fd = os.open(os.path.join(path, "lock"), os.O_RDONLY)
    except OSError:
        return None, None  # replaced or cleared meanwhile: as good as no entry
    try:
        fcntl.flock(lock_fd, fcntl.LOCK_SH)
        with open(os.path.join(path, "entry.json"), encoding="utf-8") as handle:
            record = json.load(handle)
        problem = _compare(record.get("files") or {}, manifest(os.path.join(path, "site")))
    except (OSError, ValueError) as exc:
        where = os.path.relpath(getattr(exc, "filename", None) or os.path.join(path, "entry.json"), path)
        record, problem = None, "%s is unreadable: %s" % (where, getattr(exc, "strerror", None) or exc)
    if problem is None and os.path.isdir(path):
        try:
            os.utime(os.path.join(folder, "current"))  # last used: prune() keeps the recent ones
        except OSError:
            pass
        return Entry(key, path, record, lock_fd, hit=True), None
    os.close(lock_fd)
    return None, problem or "its files are missing"


def _build(root, key, inputs, build):
    generation = "g-" + uuid.uuid4().hex[:12]
    aside = os.path.join(root, ".build-%s-%d-%s" % (key, os.getpid(), generation[2:]))
    os.makedirs(aside)
    try:
        installer, notes = build(os.path.join(aside, "site"))
        os.makedirs(os.path.join(aside, "site"), exist_ok=True)
        _read_only(os.path.join(aside, "site"))
        files = manifest(os.path.join(aside, "site"))
        record = {
            "format": FORMAT,
            "key": key,
            "packer": shim.__version__,
            "inputs": inputs,
            "installer": installer,
            "notes": notes,
            "written": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "files": files,
        }
        _write(os.path.join(aside, "entry.json"), json.dumps(record, indent=1, sort_keys=True))
        _write(os.path.join(aside, "lock"), "")
        folder = os.path.join(root, key)
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, generation)
        os.rename(aside, path)
    except BaseException:
        _rmtree(aside, ignore_errors=True)
        raise
    lock_fd = os.open(os.path.join(path, "lock"), os.O_RDONLY)
    fcntl.flock(lock_fd, fcntl.LOCK_SH)
    _write(os.path.join(folder, "current"), generation)
    _collect(folder, keep=generation)
    return Entry(key, path, record, lock_fd, hit=False)


def manifest(site):
    """{relative path: 'sha256 mode'} of every file under site ('link TARGET' for a symbolic link)."""
    found = {}
    for directory, dirs, names in os.walk(site):
        dirs.sort()
        for name in sorted(names) + [d for d in dirs if os.path.islink(os.path.join(directory, d))]:
            path = os.path.join(directory, name)
            rel = os.path.relpath(path, site).replace(os.sep, "/")
            st = os.lstat(path)
            if stat.S_ISLNK(st.st_mode):
                found[rel] = "link " + os.readlink(path)
                continue
            digest = hashlib.sha256()
            with open(path, "rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
            found[rel] = "%s %s" % (digest.hexdigest(), "x" if st.st_mode & 0o111 else "-")
    return found


def _read_only(site):
    """Files a-w (not folders, so the entry can still be deleted): an accidental write fails."""
    for directory, dirs, names in os.walk(site):
        for name in names:
            path = os.path.join(directory, name)
            if not os.path.islink(path):
                os.chmod(path, stat.S_IMODE(os.lstat(path).st_mode) & ~0o222)


def _compare(recorded, actual):
    """None when equal, else what differs first, in a few words."""
    if recorded == actual:
        return None
    for rel in sorted(set(recorded) | set(actual)):
        if rel not in actual:
            return "%s is missing" % rel
        if rel not in recorded:
            return "%s was added" % rel
        if recorded[rel] != actual[rel]:
            return "%s differs" % rel
    return "its digest differs"


def _write(path, text):
    partial = "%s.%d.partial" % (path, os.getpid())
    with open(partial, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(partial, path)


@contextlib.contextmanager
def _exclusive(path, blocking=True):
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)


def _rmtree(path, ignore_errors=True):
    """rmtree, for a tree whose folders may be read-only too (an unpacked zip, as Lambda mounts it)."""
    for directory, dirs, names in os.walk(path):
        for name in dirs:
            try:
                os.chmod(os.path.join(directory, name), 0o755)
            except OSError:
                pass
    shutil.rmtree(path, ignore_errors=ignore_errors)


def prune(area, keep, environ=None):
    """Delete the entries of `area` beyond the `keep` most recently used ones that no run holds."""
    root = deps_dir(environ, area)
    try:
        keys = [name for name in os.listdir(root) if os.path.isfile(os.path.join(root, name, "current"))]
    except OSError:
        return
    keys.sort(key=lambda name: os.stat(os.path.join(root, name, "current")).st_mtime, reverse=True)
    for name in keys[keep:]:
        with _exclusive(os.path.join(root, name + ".lock"), blocking=False) as got:
            if got and not _collect(os.path.join(root, name)):
                _rmtree(os.path.join(root, name))
                os.unlink(os.path.join(root, name + ".lock"))


def _remove_stale(root, key):
    """Folders left by installs of this key that were killed (the caller holds the key's lock)."""
    for name in os.listdir(root):
        if name.startswith(".build-%s-" % key):
            _rmtree(os.path.join(root, name), ignore_errors=True)
    folder = os.path.join(root, key)
    for name in os.listdir(folder) if os.path.isdir(folder) else ():
        if name.endswith(".partial"):  # a `current` whose writer was killed
            os.unlink(os.path.join(folder, name))


def _collect(folder, keep=None):
    """Delete the generations in folder that no run holds (all of them but `keep`); returns how many are left."""
    left = 0
    for name in sorted(os.listdir(folder)):
        if not name.startswith("g-") or name == keep:
            continue
        path = os.path.join(folder, name)
        try:
            fd = os.open(os.path.join(path, "lock"), os.O_RDONLY)
        except OSError:
            _rmtree(path, ignore_errors=True)  # never finished: nothing can hold it
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            left += 1
            continue
        try:
            _rmtree(path, ignore_errors=True)
        finally:
            os.close(fd)
    return left


def usage(environ=None):
    """(cache folder, total bytes, {area: number of entries})."""
    root = cache_dir(environ)
    total = 0
    for directory, dirs, names in os.walk(root):
        for name in names:
            try:
                total += os.lstat(os.path.join(directory, name)).st_size
            except OSError:
                pass
    counts = {}
    for area in AREAS:
        folder = deps_dir(environ, area)
        counts[area] = (
            sum(1 for name in os.listdir(folder) if os.path.isfile(os.path.join(folder, name, "current")))
            if os.path.isdir(folder)
            else 0
        )
    return root, total, counts


def clear(environ=None):
    """Empty the cache; returns how many entries were left because a run holds them."""
    root = cache_dir(environ)
    busy = sum(_clear_area(deps_dir(environ, area)) for area in AREAS)
    if os.path.isdir(root):
        for name in os.listdir(root):
            if name not in AREAS:
                path = os.path.join(root, name)
                _rmtree(path) if os.path.isdir(path) else os.unlink(path)
    return busy


def _clear_area(deps):
    busy = 0
    if not os.path.isdir(deps):
        return busy
    for name in sorted(os.listdir(deps)):
        path = os.path.join(deps, name)
        if name.endswith(".lock") or not os.path.isdir(path) or name.startswith(".build-"):
            continue
        with _exclusive(path + ".lock", blocking=False) as got:
            if not got:
                busy += 1
                continue
            if os.path.isfile(os.path.join(path, "current")):
                os.unlink(os.path.join(path, "current"))
            if _collect(path):
                busy += 1
            else:
                _rmtree(path)
                os.unlink(path + ".lock")  # held: a run that opened it meanwhile just installs again
    for name in os.listdir(deps):
        path = os.path.join(deps, name)
        key = name[len(".build-") :].split("-")[0] if name.startswith(".build-") else None
        if key and not os.path.isdir(os.path.join(deps, key)):
            with _exclusive(os.path.join(deps, key + ".lock"), blocking=False) as got:
                if got:
                    _rmtree(path)
    return busy
