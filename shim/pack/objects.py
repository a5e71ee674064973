"""Build products kept between packs, by the digest of what made them: bytecode and compressed zip members.

A pack whose requirements come from the cache (shim.pack.depcache) would still spend
most of its time compiling the same sources and deflating the same files at level 9.
Both are pure functions of their inputs, so their outputs are stored under
cache_dir()/objects, one file each, named by the digest of the inputs:

- pyc/: the .pyc for (source bytes, its path on Lambda, the compiling interpreter);
  stored with a digest of the .pyc, checked on every read;
- deflate-N/: the raw deflate stream of a file's bytes at level N (zlib's, as zipfile
  makes it, so the zip is the same, byte for byte, as one compressed from scratch);
  stored with a digest of the stream, checked on every read.

An object that fails its check is ignored (and rewritten); writes go aside and are renamed.
"""
import hashlib
import os
import threading
import zlib

from shim.pack import depcache


class Store:
    def __init__(self, root=None):
        self.root = root or os.path.join(depcache.cache_dir(), "objects")
        self.hits = 0
        self.misses = 0

    def _path(self, kind, key):
        return os.path.join(self.root, kind, key[:2], key)

    def _read(self, kind, key):
        try:
            with open(self._path(kind, key), "rb") as handle:
                return handle.read()
        except OSError:
            return None

    def _write(self, kind, key, data):
        path = self._path(kind, key)
        partial = "%s.%d.%d.partial" % (path, os.getpid(), threading.get_ident())
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(partial, "wb") as handle:
                handle.write(data)
            os.replace(partial, path)
        except OSError:
            try:
                os.unlink(partial)
            except OSError:
                pass

    # -- bytecode ---------------------------------------------------------------------------------

    @staticmethod
    def pyc_key(source, dfile, interpreter):
        digest = hashlib.sha256(b"pyc 1\0%s\0%s\0" % (interpreter.encode("utf-8", "surrogateescape"),
                                                      dfile.encode("utf-8", "surrogateescape")))
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

    def deflated(self, data, level):
        """The raw deflate stream of data at level (as zipfile writes it), from the store or made now."""
        kind = "deflate-%d" % level
        key = hashlib.sha256(data).hexdigest()
        stored = self._read(kind, key)
        if stored is not None and len(stored) >= 32 and hashlib.sha256(stored[32:]).digest() == stored[:32]:
            self.hits += 1
            return stored[32:]
        self.misses += 1
        compressor = zlib.compressobj(level, zlib.DEFLATED, -15)
        blob = compressor.compress(data) + compressor.flush()
        self._write(kind, key, hashlib.sha256(blob).digest() + blob)
        return blob
