"""Small helpers several test folders share (tests/ is on sys.path: it holds the root conftest.py)."""

import glob
import os
import socket
import subprocess
import sys
import urllib.parse
import zipfile

from shim.pack import depcache


def alive(pid):
    """Whether process pid exists and is not a zombie (a dead child not yet reaped still has a pid)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def splits(data):
    """Every way the tests cut `data`: whole, two pieces at each index, and one byte at a time."""
    yield [data]
    for index in range(len(data) + 1):
        yield [data[:index], data[index:]]
    yield [data[i : i + 1] for i in range(len(data))]


def network_reachable():
    """Whether the package index answers: tests that need a real pip download skip without it."""
    index = os.environ.get("PIP_INDEX_URL") or "https://pypi.org/simple/"
    parsed = urllib.parse.urlparse(index)
    try:
        socket.create_connection((parsed.hostname, parsed.port or 443), timeout=3).close()
        return True
    except OSError:
        return False


def snapshot(root):
    """Every path under root with its size and mtime: equal before and after a run means nothing was written."""
    found = {}
    for directory, dirs, files in os.walk(str(root)):
        for name in dirs + files:
            path = os.path.join(directory, name)
            st = os.lstat(path)
            found[os.path.relpath(path, str(root))] = (st.st_size, st.st_mtime_ns)
    return found


def read_zip(path):
    with zipfile.ZipFile(str(path)) as archive:
        return {info.filename: info for info in archive.infolist()}


# -- the dependency cache (tests/pack/test_depcache*.py) ----------------------------------------------

UNREACHABLE = "http://127.0.0.1:9/simple"
HANDLER = "import purewheel\ndef Handle(event, context):\n    return {'value': purewheel.VALUE}\n"


def shim(*args, env=None, timeout=120):
    """The real CLI in a subprocess (it inherits this test's SHIM_CACHE_DIR)."""
    environ = dict(os.environ, **(env or {}))
    return subprocess.run(
        [sys.executable, "-m", "shim.cli"] + [str(a) for a in args],
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        universal_newlines=True,
        timeout=timeout,
    )


def installs(run):
    return sum(line.lstrip().startswith("installing ") for line in run.stderr.splitlines())


def read(zip_path, name):
    with zipfile.ZipFile(str(zip_path)) as archive:
        return archive.read(name).decode()


def generations():
    return sorted(glob.glob(os.path.join(depcache.deps_dir(), "*", "g-*")))
