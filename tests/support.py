"""Small helpers several test folders share (tests/ is on sys.path: it holds the root conftest.py)."""

import os
import socket
import urllib.parse


def alive(pid):
    """Whether process pid exists and is not a zombie (a dead child not yet reaped still has a pid)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


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
