"""`shim serve`: the Invoke endpoint on 127.0.0.1 in front of N runtimes, started as a real subprocess."""

import http.client
import json
import re
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

from support import alive as _alive

SHIM = [sys.executable, "-c", "import sys; from shim.cli import main; sys.exit(main())"]
PATH = "/2015-03-31/functions/function/invocations"

# Waits on a flag file when asked, so a test decides when a slow invoke ends (no timing).
HANDLER = """\
import os, time

def Handle(event, context):
    if "started" in event:
        open(event["started"], "w").close()
    if "wait_for" in event:
        deadline = time.time() + 20
        while not os.path.exists(event["wait_for"]) and time.time() < deadline:
            time.sleep(0.01)
    if "exit" in event:
        os._exit(event["exit"])
    if "raise" in event:
        raise RuntimeError(event["raise"])
    return {"pid": os.getpid(), "echo": event.get("echo")}
"""


class Server:
    def __init__(self, function_dir, *args):
        self.process = subprocess.Popen(
            SHIM + ["serve", str(function_dir), "--no-pack", "--port", "0"] + list(args),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines = []
        self._listening = threading.Event()
        # Always drain stderr: a full pipe would stall the server mid-log.
        threading.Thread(target=self._read, daemon=True).start()
        try:
            assert self._listening.wait(30), "".join(self.lines)
            found = re.search(r"http://127\.0\.0\.1:(\d+)/.*runtime pids ([\d ]+)\)", self.output())
            self.port = int(found.group(1))
            self.pids = [int(pid) for pid in found.group(2).split()]
        except BaseException:
            self.stop()  # not a server left behind by a failed test
            raise

    def _read(self):
        for line in self.process.stderr:
            self.lines.append(line)
            if "listening on" in line:
                self._listening.set()

    def output(self):
        return "".join(self.lines)

    def wait_for_output(self, text, timeout=10):
        """serve writes an invoke's REPORT block as it answers: give the pipe a moment to deliver it."""
        deadline = time.monotonic() + timeout
        while text not in self.output() and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.output()

    def post(self, body, headers=None, path=PATH, timeout=30):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            connection.request("POST", path, data, headers or {})
            response = connection.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            connection.close()

    def stop(self, signum=signal.SIGINT):
        if self.process.poll() is None:
            self.process.send_signal(signum)
        return self.process.wait(30)


@pytest.fixture(scope="module")
def function_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("served")
    (root / "handler.py").write_text(HANDLER)
    return root


@pytest.fixture(scope="module")
def server(function_dir):
    server = Server(function_dir, "--concurrency", "2", "--timeout", "30")
    yield server
    server.stop()


def test_invoke_answers_like_the_emulator(server):
    status, headers, body = server.post({"echo": "hi"})
    assert status == 200
    assert json.loads(body)["echo"] == "hi"
    assert "X-Amz-Function-Error" not in headers
    assert "REPORT RequestId: " + headers["X-Amzn-RequestId"] in server.wait_for_output(headers["X-Amzn-RequestId"])


def test_a_function_error_is_marked_unhandled(server):
    status, headers, body = server.post({"raise": "nope"})
    assert status == 200
    assert headers["X-Amz-Function-Error"] == "Unhandled"
    error = json.loads(body)
    assert (error["errorType"], error["errorMessage"]) == ("RuntimeError", "nope")


def test_any_function_name_and_tail_logs_like_the_invoke_api(server):
    import base64

    status, headers, body = server.post(
        {"echo": 1}, {"X-Amz-Log-Type": "Tail"}, path="/2015-03-31/functions/my-function/invocations"
    )
    assert status == 200
    assert (
        "REPORT RequestId: %s\t" % headers["X-Amzn-RequestId"] in base64.b64decode(headers["X-Amz-Log-Result"]).decode()
    )


def test_bad_requests(server):
    status, headers, body = server.post(b"{not json")
    assert status == 400 and headers["X-Amzn-ErrorType"] == "InvalidRequestContentException"
    status, headers, body = server.post({}, path="/2015-03-31/functions/function/other")
    assert status == 404
    assert server.process.poll() is None


def test_a_slow_environment_does_not_block_another(server, tmp_path):
    flag, started = tmp_path / "release", tmp_path / "started"
    slow = _in_background(server.post, {"wait_for": str(flag), "started": str(started), "echo": "slow"})
    _wait_until(started.exists)
    status, _, body = server.post({"echo": "fast"}, timeout=15)  # answered while the slow one still waits
    assert status == 200 and json.loads(body)["echo"] == "fast"
    assert slow.is_alive()
    flag.write_text("")
    slow.join(30)
    assert slow.result[0] == 200 and json.loads(slow.result[2])["echo"] == "slow"


def test_a_crashed_environment_loses_no_other_request(server, tmp_path):
    flag, started = tmp_path / "release", tmp_path / "started"
    slow = _in_background(server.post, {"wait_for": str(flag), "started": str(started), "echo": "kept"})
    _wait_until(started.exists)
    status, headers, body = server.post({"exit": 9})  # the other environment dies
    assert headers["X-Amz-Function-Error"] == "Unhandled"
    assert json.loads(body)["errorType"] == "Runtime.ExitError"
    assert "exit status 9" in json.loads(body)["errorMessage"]
    status, _, body = server.post({"echo": "after"})  # served by a fresh runtime
    assert status == 200 and json.loads(body)["echo"] == "after"
    flag.write_text("")
    slow.join(30)
    assert slow.result[0] == 200 and json.loads(slow.result[2])["echo"] == "kept"


def test_it_stays_up_under_many_concurrent_clients(server):
    clients = [_in_background(_post_many, server, n) for n in range(12)]
    for client in clients:
        client.join(60)
    for n, client in enumerate(clients):
        assert client.result == [(200, {"n": n, "i": i}) for i in range(3)]
    assert server.post({"echo": "still here"})[0] == 200


def test_a_port_in_use_is_one_line(function_dir):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        run = subprocess.run(
            SHIM + ["serve", str(function_dir), "--no-pack", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert run.returncode == 2
    assert (
        run.stderr
        == "shim serve: port %d on 127.0.0.1 is in use (pick another with --port, or 0 for any free one)\n" % port
    )


@pytest.mark.parametrize("signum, mid_invoke", [(signal.SIGINT, True), (signal.SIGTERM, False)])
def test_ctrl_c_or_sigterm_stops_every_runtime(function_dir, tmp_path, signum, mid_invoke):
    server = Server(function_dir, "--concurrency", "2")
    try:
        busy = None
        if mid_invoke:  # one runtime inside a handler that would go on for a long time
            started = tmp_path / "started"
            busy = _in_background(server.post, {"wait_for": str(tmp_path / "never"), "started": str(started)})
            _wait_until(started.exists)
        pids = set(server.pids)
        assert len(pids) == 2 and all(_alive(pid) for pid in pids)
        assert server.stop(signum) == 0
        assert not [pid for pid in pids if _alive(pid)]
        assert "shim serve: stopped" in server.output()
        if busy is not None:  # and its client was still answered
            busy.join(10)
            status, headers, body = busy.result
            assert headers["X-Amz-Function-Error"] == "Unhandled"
            assert json.loads(body)["errorType"]  # how the runtime took the SIGTERM is its own affair
    finally:
        server.process.kill()


# -- helpers ---------------------------------------------------------------------------------


def _post_many(server, n):
    answers = []
    for i in range(3):
        status, _, body = server.post({"echo": {"n": n, "i": i}})
        answers.append((status, json.loads(body)["echo"]))
    return answers


def _in_background(fn, *args):
    def run():
        try:
            thread.result = fn(*args)
        except OSError as exc:
            thread.result = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.result = None
    thread.start()
    return thread


def _wait_until(condition, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.02)
    raise AssertionError("condition not met within %ss" % timeout)
