"""Reproducible zips for Lambda, and extracting them the way Lambda does.

Same entries in, same bytes out: entries sorted by name, one fixed timestamp,
modes normalised to 0755/0644, a fixed compression level, Unix as the
creating system (so unzip and Lambda honour the stored modes).
"""

import os
import stat
import time
import zipfile
import zlib

from shim.pack.errors import UsageError

ZIP_EPOCH = 315532800  # 1980-01-01T00:00:00Z, the earliest time a zip entry can hold
ZIP_LAST = 4354819198  # 2107-12-31T23:59:58Z, the latest
COMPRESS_LEVEL = 9
UNIX = 3
CHUNK = 1 << 20
PRECOMPRESS_MIN = 8192  # smaller members compress in no time: not worth a lookup
PRECOMPRESS_MAX = 16 << 20  # larger ones are streamed into the zip a chunk at a time (flat memory)


def timestamp(environ=None):
    """The entries' date_time: SOURCE_DATE_EPOCH (clamped to what zip can store), else 1980-01-01."""
    environ = os.environ if environ is None else environ
    raw = environ.get("SOURCE_DATE_EPOCH", "").strip()
    if not raw:
        seconds = ZIP_EPOCH
    else:
        try:
            seconds = int(raw)
        except ValueError:
            raise UsageError("SOURCE_DATE_EPOCH must be a whole number of seconds since 1970, got %r" % raw) from None
    seconds = min(max(seconds, ZIP_EPOCH), ZIP_LAST)
    return time.gmtime(seconds)[:6]


def check_name(name):
    """Refuse entry names that would land outside the directory they are extracted into."""
    if not name or "\\" in name or name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise UsageError("refusing path %r in the zip: entries must be relative POSIX paths" % name)
    parts = name.split("/")
    if ".." in parts or "" in parts[:-1] or "." in parts:
        raise UsageError("refusing path %r in the zip: it contains '..', '.' or an empty segment" % name)
    return name


def write(path, entries, date_time=None, comment=b"", deflate=None):
    """Write entries {name: (source path or bytes, executable)} to path atomically.

    comment: the zip's comment (no entry: Lambda and the runtime never see it); see target_comment.
    deflate(data, level), if given, returns the raw deflate stream of data (e.g. from a
    store of earlier packs, shim.pack.objects) for members of PRECOMPRESS_MIN to
    PRECOMPRESS_MAX bytes; larger files are streamed a chunk at a time. The zip is the
    same bytes either way. Returns (number of entries, total uncompressed bytes).
    """
    date_time = date_time or timestamp()
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    partial = os.path.join(directory, ".%s.partial" % os.path.basename(path))
    total = 0
    blobs = _deflate_all(entries, deflate) if deflate is not None else {}
    try:
        with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name in sorted(entries):
                source, executable = entries[name]
                check_name(name)
                info = zipfile.ZipInfo(name, date_time)
                info.create_system = UNIX
                info.external_attr = (0o100755 if executable else 0o100644) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                info._compresslevel = COMPRESS_LEVEL  # what writestr(compresslevel=) sets (3.13: compress_level)
                if name in blobs:
                    data = _read(source)
                    _write_deflated(archive, info, data, blobs.pop(name))
                    total += len(data)
                elif isinstance(source, bytes):
                    archive.writestr(info, source, compresslevel=COMPRESS_LEVEL)
                    total += len(source)
                else:
                    total += _copy_in(archive, info, source)
            archive.comment = comment
        os.replace(partial, path)
    finally:
        if os.path.exists(partial):
            os.unlink(partial)
    return len(entries), total


def _copy_in(archive, info, source):
    """A file into the archive a chunk at a time: memory stays flat whatever its size (a whole read
    and its compressed copy were 2-3x a big data file's size). The same bytes as writestr: that
    is how writestr writes too, once file_size is known."""
    try:
        with open(source, "rb") as handle:
            info.file_size = os.fstat(handle.fileno()).st_size  # decides zip64 up front, as writestr does
            copied = 0
            with archive.open(info, "w") as out:
                while True:
                    chunk = handle.read(CHUNK)
                    if not chunk:
                        break
                    out.write(chunk)
                    copied += len(chunk)
    except OSError as exc:
        raise UsageError("cannot read %r for the zip: %s" % (source, exc.strerror or exc)) from None
    return copied


def sha256_of(path):
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


TARGET_PREFIX = "lambda-shim target:"


def target_comment(**fields):
    """The zip comment that records what a zip was packed for, e.g.
    `lambda-shim target: arch=x86_64 glibc=2.34 kind=function python=3.12 runtime=yes version=0.2.0`."""
    return (TARGET_PREFIX + "".join(" %s=%s" % item for item in sorted(fields.items()))).encode("ascii")


def read_target(zip_path):
    """The fields of a zip's target comment ({} for a zip packed by anything else, or unreadable)."""
    try:
        with zipfile.ZipFile(str(zip_path)) as archive:
            comment = archive.comment.decode("ascii", "replace")
    except (OSError, zipfile.BadZipFile):
        return {}
    if not comment.startswith(TARGET_PREFIX):
        return {}
    return dict(item.split("=", 1) for item in comment[len(TARGET_PREFIX) :].split() if "=" in item)


def _read(source):
    if isinstance(source, bytes):
        return source
    try:
        with open(source, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise UsageError("cannot read %r for the zip: %s" % (source, exc.strerror or exc)) from None


def _deflate_all(entries, deflate):
    """{name: deflate stream} of the members of at least PRECOMPRESS_MIN bytes, made on all cores
    (zlib lets go of the GIL), the largest first."""
    from concurrent.futures import ThreadPoolExecutor

    sizes = {}
    for name, (source, _) in entries.items():
        size = len(source) if isinstance(source, bytes) else os.path.getsize(source)
        if PRECOMPRESS_MIN <= size <= PRECOMPRESS_MAX:
            sizes[name] = size
    if not sizes:
        return {}
    names = sorted(sizes, key=lambda name: (-sizes[name], name))
    with ThreadPoolExecutor(max_workers=min(len(names), os.cpu_count() or 1)) as pool:
        blobs = pool.map(lambda name: deflate(_read(entries[name][0]), COMPRESS_LEVEL), names)
        return dict(zip(names, blobs))


def _write_deflated(archive, info, data, blob):
    """What ZipFile.writestr does for a deflated member, with the compressed bytes given: the same
    local header (written once, with the final sizes and CRC), the same central directory record."""
    info.file_size = len(data)
    info.CRC = zlib.crc32(data)
    info.compress_size = len(blob)
    info.flag_bits = 0
    zip64 = info.file_size * 1.05 > zipfile.ZIP64_LIMIT
    archive.fp.seek(archive.start_dir)
    info.header_offset = archive.fp.tell()
    archive._writecheck(info)
    archive._didModify = True
    archive.fp.write(info.FileHeader(zip64))
    archive.fp.write(blob)
    archive.filelist.append(info)
    archive.NameToInfo[info.filename] = info
    archive.start_dir = archive.fp.tell()


def extract(zip_path, dest, read_only=True):
    """Unzip like Lambda does into dest (absent or empty): modes kept, then everything made read-only.

    read_only=True is `chmod -R a-w`: Lambda's /var/task cannot be written, so a test
    that runs from here sees the same failures (a .pyc that cannot be cached, a
    handler writing beside itself). Returns dest.
    """
    dest = os.path.abspath(str(dest))
    if os.path.isdir(dest) and os.listdir(dest):
        raise UsageError("cannot extract into %s: the directory is not empty" % dest)
    os.makedirs(dest, exist_ok=True)
    with zipfile.ZipFile(str(zip_path)) as archive:
        for info in archive.infolist():
            name = check_name(info.filename.rstrip("/") + ("/" if info.is_dir() else ""))
            target = os.path.join(dest, *name.rstrip("/").split("/"))
            if info.is_dir():
                os.makedirs(target, exist_ok=True)
                continue
            mode = info.external_attr >> 16 if info.create_system == UNIX else 0
            if stat.S_ISLNK(mode):
                raise UsageError("refusing symlink %r in %s: Lambda zips are extracted without them" % (name, zip_path))
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with archive.open(info) as source, open(target, "wb") as out:
                while True:
                    chunk = source.read(1 << 20)
                    if not chunk:
                        break
                    out.write(chunk)
            os.chmod(target, 0o755 if mode & 0o111 else 0o644)
    if read_only:
        make_read_only(dest)
    return dest


def make_read_only(root):
    for directory, dirs, files in os.walk(root, topdown=False):
        for name in files:
            path = os.path.join(directory, name)
            os.chmod(path, stat.S_IMODE(os.lstat(path).st_mode) & ~0o222)
        os.chmod(directory, stat.S_IMODE(os.stat(directory).st_mode) & ~0o222)


def make_writable(root):
    """Undo make_read_only, so the tree can be deleted."""
    os.chmod(root, stat.S_IMODE(os.stat(root).st_mode) | 0o200)
    for directory, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(directory, name)
            if not os.path.islink(path):
                os.chmod(path, stat.S_IMODE(os.lstat(path).st_mode) | 0o200)
