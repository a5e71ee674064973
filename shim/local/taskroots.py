"""A zip unpacked once and kept: the next `shim invoke` or `shim serve` of the same zip runs from it.

Unpacking a function with requests and pydantic creates some 550 files, which on a busy
disk takes longer than the rest of an invoke. The tree a zip unpacks to depends on the
zip's bytes alone, and packs are reproducible, so it is kept in the cache
(shim.pack.depcache, area "trees"), keyed by the zip's sha256, read-only as Lambda
mounts /var/task, and verified file by file before each use like any cache entry.
The KEEP most recently used trees are kept; older ones go when no run holds them.
"""

import hashlib

KEEP = 8


def unpacked(zip_path, sha256=None, log=None, refresh=False):
    """The held depcache.Entry whose .site is the zip, unpacked as Lambda does (read-only). Close it when done."""
    from shim.pack import depcache, ziputil

    sha256 = sha256 or _sha256(zip_path)

    def build(site):
        ziputil.extract(zip_path, site, read_only=True)
        return "unzip", []

    entry = depcache.open_entry(
        {"unpacked zip": sha256},
        build,
        log or (lambda line: None),
        refresh=refresh,
        area="trees",
        what="the unpacked zip",
    )
    if not entry.hit:
        depcache.prune("trees", KEEP)
    return entry


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
