"""Build products kept between packs, by the digest of what made them: bytecode and compressed zip members.

A pack whose requirements come from the cache (shim.pack.depcache) would still spend
most of its time compiling the same sources and deflating the same files at level 9.
Both are pure functions of their inputs, so their outputs are stored in
cache_dir()/objects.db, each under the digest of its inputs:

- pyc/: the .pyc for (source bytes, its path on Lambda, the compiling interpreter);
  stored with a digest of the .pyc, checked on every read;
- deflate-N/: the raw deflate stream of a file's bytes at level N (zlib's, as zipfile
  makes it, so the zip is the same, byte for byte, as one compressed from scratch);
  stored with a digest of the stream, checked on every read.

An object that fails its check is ignored (and rewritten).
"""

import hashlib
import os
import threading
import zlib

from shim.pack import depcache

DATABASE = "objects.db"


class Store:
    """The objects, in one SQLite file (objects.db): one row each, not one file each, as a pack makes
    hundreds and creating files is what a busy disk is slowest at. Safe for threads and processes."""

    def __init__(self, root=None):
        self.root = root or depcache.cache_dir()
        self.hits = 0
        self.misses = 0
        self._lock = threading.Lock()
        self._db = None
        self._pool = None
        self._pending = {}  # digest of the data -> future of its deflate stream (prefetch)

    def _connect(self):
        if self._db is None:
            import sqlite3

            os.makedirs(self.root, exist_ok=True)
            self._db = sqlite3.connect(
                os.path.join(self.root, DATABASE), timeout=60, check_same_thread=False, isolation_level=None
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")  # each object carries its own digest anyway
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS objects (kind TEXT, key TEXT, data BLOB, PRIMARY KEY (kind, key))"
            )
        return self._db

    def _read(self, kind, key):
        try:
            with self._lock:
                row = (
                    self._connect()
                    .execute("SELECT data FROM objects WHERE kind = ? AND key = ?", (kind, key))
                    .fetchone()
                )
        except Exception:  # noqa: BLE001 - sqlite3.Error, or no cache folder: as good as not stored
            return None
        return bytes(row[0]) if row else None

    def _write(self, kind, key, data):
        try:
            with self._lock:
                self._connect().execute("INSERT OR REPLACE INTO objects VALUES (?, ?, ?)", (kind, key, data))
        except Exception:  # noqa: BLE001 - a store that cannot be written is a store that misses
            pass

    # -- bytecode ---------------------------------------------------------------------------------

    @staticmethod
    def pyc_key(source, dfile, interpreter):
        digest = hashlib.sha256(
            b"pyc 1\0%s\0%s\0"
            % (interpreter.encode("utf-8", "surrogateescape"), dfile.encode("utf-8", "surrogateescape"))
        )
        digest.update(source)
        return digest.hexdigest()

    def get_pyc(self, key):
        data = self._read("pyc", key)
        if data is None or len(data) < 32 or hashlib.sha256(data[32:]).digest() != data[:32]:
            self.misses += 1
            return None
        self.hits += 1
        return data[32:]

    def put_pyc(self, key, pyc):
        self._write("pyc", key, hashlib.sha256(pyc).digest() + pyc)

    # -- deflate ----------------------------------------------------------------------------------

    def prefetch(self, paths, level, minimum, maximum=None):
        """Start deflating the files `paths` of `minimum` to `maximum` bytes in the background (on all cores),
        e.g. while the bytecode is compiled; deflated() then takes the result. (Larger files are streamed
        into the zip instead: shim.pack.ziputil.write.)"""
        from concurrent.futures import ThreadPoolExecutor

        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=os.cpu_count() or 1)
        for path in sorted(set(paths), key=lambda p: -os.path.getsize(p)):
            if os.path.getsize(path) < minimum or (maximum is not None and os.path.getsize(path) > maximum):
                continue
            with open(path, "rb") as handle:
                data = handle.read()
            key = hashlib.sha256(data).hexdigest()
            if key not in self._pending:
                self._pending[key] = self._pool.submit(self._deflated, data, level, key)

    def close(self):
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        self._pending.clear()

    def deflated(self, data, level):
        """The raw deflate stream of data at level (as zipfile writes it), from the store or made now."""
        key = hashlib.sha256(data).hexdigest()
        pending = self._pending.get(key)
        if pending is not None:
            return pending.result()
        return self._deflated(data, level, key)

    def _deflated(self, data, level, key):
        kind = "deflate-%d" % level
        stored = self._read(kind, key)
        if stored is not None and len(stored) >= 32 and hashlib.sha256(stored[32:]).digest() == stored[:32]:
            return stored[32:]
        compressor = zlib.compressobj(level, zlib.DEFLATED, -15)
        blob = compressor.compress(data) + compressor.flush()
        self._write(kind, key, hashlib.sha256(blob).digest() + blob)
        return blob
