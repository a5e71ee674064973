"""A `shim serve` subprocess for the dev-loop tests (REST front, watch): started, read, stopped."""

import http.client
import os
import re
import signal
import subprocess
import sys
import threading
import time

SHIM = [sys.executable, "-c", "import sys; from shim.cli import main; sys.exit(main())"]


class ServeProcess:
    def __init__(self, *args, cwd=None, env=None):
        self.process = subprocess.Popen(
            SHIM + ["serve", "--port", "0"] + list(args),
            cwd=cwd,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines = []
        self._listening = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()  # a full pipe would stall the server
        try:
            assert self._listening.wait(60), self.output()
            self.port = int(re.search(r"http://127\.0\.0\.1:(\d+)/", self.output()).group(1))
        except BaseException:
            self.stop()
            raise

    def _read(self):
        for line in self.process.stderr:
            self.lines.append(line)
            if "listening on" in line:
                self._listening.set()

    def output(self):
        return "".join(self.lines)

    def wait_for_output(self, text, timeout=30, start=0):
        deadline = time.monotonic() + timeout
        while text not in "".join(self.lines[start:]) and time.monotonic() < deadline:
            time.sleep(0.02)
        return text in "".join(self.lines[start:])

    def request(self, method, path, body=None, headers=None, timeout=60):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            connection.request(method, path, body, headers or {})
            response = connection.getresponse()
            return response.status, response.getheaders(), response.read()
        finally:
            connection.close()

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def clean_env():
    env = dict(os.environ)
    env.pop("PYTHONUNBUFFERED", None)
    return env


def wheel(where, name, version="1.0"):
    """A minimal pure-Python wheel made here: installing it needs no index and no build."""
    import base64
    import hashlib
    import zipfile

    path = where / ("%s-%s-py3-none-any.whl" % (name, version))
    info = "%s-%s.dist-info" % (name, version)
    files = {
        "%s/__init__.py" % name: "VERSION = %r\n" % version,
        info + "/METADATA": "Metadata-Version: 2.1\nName: %s\nVersion: %s\n" % (name, version),
        info + "/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = [
        "%s,sha256=%s,%d"
        % (n, base64.urlsafe_b64encode(hashlib.sha256(t.encode()).digest()).rstrip(b"=").decode(), len(t.encode()))
        for n, t in files.items()
    ] + [info + "/RECORD,,"]
    with zipfile.ZipFile(str(path), "w") as archive:
        for n, t in files.items():
            archive.writestr(n, t)
        archive.writestr(info + "/RECORD", "\n".join(record) + "\n")
    return path
