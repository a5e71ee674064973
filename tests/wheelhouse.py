"""Packages made inside a test, and a package index on 127.0.0.1: installs that never need the network.

- wheel(): a pure-Python wheel, written as a zip by hand (METADATA, WHEEL, RECORD);
- sdist(): a source distribution with an in-tree build backend (no build requirements, so
  an isolated build needs no index either); its wheel is pure, or tagged for this machine;
- Index: PEP 503 simple pages for a folder, served on 127.0.0.1; it can hold back the
  files it serves (stall()) until release(), to catch an install in the middle.
"""

import base64
import hashlib
import http.server
import io
import os
import re
import tarfile
import textwrap
import threading
import zipfile


def _normal(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def _record(files, info):
    lines = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        lines.append("%s,sha256=%s,%d" % (path, digest, len(data)))
    lines.append(info + "RECORD,,")
    return ("\n".join(lines) + "\n").encode()


def wheel(folder, name, version, modules=None, requires=(), tag="py3-none-any"):
    """Write NAME-VERSION-TAG.whl into folder; modules: {path in the wheel: source}. A tag other than
    py3-none-any makes a platform wheel (of pure Python files: only its name says where it runs)."""
    os.makedirs(str(folder), exist_ok=True)
    dist = name.replace("-", "_")
    modules = modules or {"%s/__init__.py" % dist: "VALUE = %r\n" % ("%s %s" % (name, version))}
    info = "%s-%s.dist-info/" % (dist, version)
    files = {path: textwrap.dedent(text).encode() for path, text in modules.items()}
    metadata = "Metadata-Version: 2.1\nName: %s\nVersion: %s\n" % (name, version)
    metadata += "".join("Requires-Dist: %s\n" % r for r in requires)
    files[info + "METADATA"] = metadata.encode()
    files[info + "WHEEL"] = (
        "Wheel-Version: 1.0\nGenerator: wheelhouse\nRoot-Is-Purelib: %s\nTag: %s\n"
        % ("true" if tag == "py3-none-any" else "false", tag)
    ).encode()
    files[info + "RECORD"] = _record(files, info)
    path = os.path.join(str(folder), "%s-%s-%s.whl" % (dist, version, tag))
    with zipfile.ZipFile(path, "w") as archive:
        for entry in sorted(files):
            archive.writestr(zipfile.ZipInfo(entry, (2020, 1, 1, 0, 0, 0)), files[entry])
    return path


_BACKEND = """
import base64, hashlib, os, zipfile
NAME, VERSION, TAG, FILES = %r, %r, %r, %r

def get_requires_for_build_wheel(config_settings=None):
    return []

def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    dist = NAME.replace("-", "_")
    info = "%%s-%%s.dist-info/" %% (dist, VERSION)
    files = {path: text.encode() for path, text in FILES.items()}
    files[info + "METADATA"] = ("Metadata-Version: 2.1\\nName: %%s\\nVersion: %%s\\n" %% (NAME, VERSION)).encode()
    files[info + "WHEEL"] = ("Wheel-Version: 1.0\\nGenerator: in-tree\\nRoot-Is-Purelib: %%s\\nTag: %%s\\n"
                             %% ("true" if TAG.endswith("none-any") else "false", TAG)).encode()
    record = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append("%%s,sha256=%%s,%%d" %% (path, digest, len(data)))
    files[info + "RECORD"] = ("\\n".join(record + [info + "RECORD,,"]) + "\\n").encode()
    name = "%%s-%%s-%%s.whl" %% (dist, VERSION, TAG)
    with zipfile.ZipFile(os.path.join(wheel_directory, name), "w") as archive:
        for path in sorted(files):
            archive.writestr(path, files[path])
    return name
"""


def sdist(folder, name, version, modules=None, tag="py3-none-any"):
    """Write NAME-VERSION.tar.gz into folder: builds (with its own backend) a wheel tagged `tag`."""
    os.makedirs(str(folder), exist_ok=True)
    dist = name.replace("-", "_")
    modules = modules or {"%s/__init__.py" % dist: "VALUE = %r\n" % ("%s %s from source" % (name, version))}
    root = "%s-%s/" % (dist, version)
    files = {
        "pyproject.toml": '[build-system]\nrequires = []\nbuild-backend = "backend"\nbackend-path = ["."]\n'
        '\n[project]\nname = "%s"\nversion = "%s"\n' % (name, version),
        "backend.py": _BACKEND % (name, version, tag, modules),
        "PKG-INFO": "Metadata-Version: 2.1\nName: %s\nVersion: %s\n" % (name, version),
    }
    path = os.path.join(str(folder), "%s-%s.tar.gz" % (dist, version))
    with tarfile.open(path, "w:gz") as archive:
        for rel in sorted(files):
            data = files[rel].encode()
            info = tarfile.TarInfo(root + rel)
            info.size, info.mtime, info.mode = len(data), 1577836800, 0o644
            archive.addfile(info, io.BytesIO(data))
    return path


class Index:
    """A PEP 503 simple index of `folder` on 127.0.0.1 (url: .../simple); counts what it served."""

    def __init__(self, folder):
        self.folder = str(folder)
        self.requests = []
        self._stalled = threading.Event()
        self._release = threading.Event()
        self._release.set()
        self.file_requested = threading.Event()
        index = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                index.requests.append(self.path)
                parts = [p for p in self.path.split("?")[0].split("/") if p]
                if parts[:1] == ["simple"] and len(parts) == 2:
                    names = [
                        n
                        for n in sorted(os.listdir(index.folder))
                        if _normal(re.split(r"-\d", n, 1)[0]) == _normal(parts[1])
                    ]
                    if not names:
                        return self._send(404, b"not here", "text/plain")
                    links = "".join('<a href="/files/%s">%s</a>\n' % (n, n) for n in names)
                    return self._send(200, ("<html><body>%s</body></html>" % links).encode(), "text/html")
                if parts[:1] == ["files"] and len(parts) == 2:
                    index.file_requested.set()
                    index._release.wait(60)
                    path = os.path.join(index.folder, parts[1])
                    if os.path.isfile(path):
                        with open(path, "rb") as handle:
                            return self._send(200, handle.read(), "application/octet-stream")
                self._send(404, b"not here", "text/plain")

            def do_HEAD(self):  # uv asks first whether a file takes range requests: it does not
                parts = [p for p in self.path.split("?")[0].split("/") if p]
                path = os.path.join(index.folder, parts[-1]) if parts[:1] == ["files"] else ""
                self.send_response(200 if os.path.isfile(path) else 404)
                self.send_header("Content-Length", str(os.path.getsize(path)) if os.path.isfile(path) else "0")
                self.end_headers()

            def _send(self, status, body, kind):
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = "http://127.0.0.1:%d/simple" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stall(self):
        """Hold every file request until release()."""
        self._release.clear()

    def release(self):
        self._release.set()

    def close(self):
        self.release()
        self.server.shutdown()
        self.server.server_close()
