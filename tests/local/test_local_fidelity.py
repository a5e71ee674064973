"""The local tools under faults: every log line of an invoke in its result (`shim invoke`, `shim serve`,
the plugin) with threads, in both log formats; no temporary file left behind, even after a timeout kill;
`serve` answers an oversized or ambiguous body; `shim invoke` shows the timeout warning."""

import http.client
import json
import os
import re
import socket
import subprocess
import sys
import textwrap
import threading
import time

import pytest

pytest_plugins = ["pytester"]

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHIM = [sys.executable, "-c", "import sys; from shim.cli import main; sys.exit(main())"]
PATH = "/2015-03-31/functions/function/invocations"

# A thread logs while another thread's print() line is unfinished (ordered by events), records come
# from threads, and the invoke ends with output that has no newline.
HANDLER = """\
import logging, os, sys, threading, time
log = logging.getLogger("worker")

def Handle(event, context):
    wrote, logged = threading.Event(), threading.Event()

    def printer():
        sys.stdout.write("unfinished ")
        wrote.set()
        logged.wait(10)
        print("line ended")

    def logger():
        wrote.wait(10)
        log.warning("from a thread")
        logged.set()

    threads = [threading.Thread(target=printer), threading.Thread(target=logger)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sys.stdout.write(event.get("tail", ""))
    if event.get("sleep"):
        time.sleep(event["sleep"])
    return {"unbuffered": bool(os.environ.get("PYTHONUNBUFFERED")), "requestId": context.aws_request_id}
"""

TEXT_RECORD = re.compile(r"\[WARNING\]\t\S+Z\t([^\t]*)\tfrom a thread$")


def shim(*args, stdin=None, env=None):
    return subprocess.run(
        SHIM + list(args), input=stdin, capture_output=True, text=True, timeout=120, cwd=REPO, env=env
    )


@pytest.fixture
def function(tmp_path):
    root = tmp_path / "function"
    root.mkdir()
    (root / "handler.py").write_text(HANDLER)
    return root


def thread_record_ids(lines, log_format):
    """The request ids on the thread's records; every record must start its own line."""
    ids = []
    for line in lines:
        if "from a thread" not in line:
            continue
        if log_format == "JSON":
            assert line.startswith("{"), "glued: %r" % line
            ids.append(json.loads(line).get("requestId"))
        else:
            match = TEXT_RECORD.match(line)
            assert match, "glued: %r" % line
            ids.append(match.group(1))
    return ids


def without_unbuffered():
    return {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}


# -- shim invoke ----------------------------------------------------------------------------------


@pytest.mark.parametrize("log_format", ["Text", "JSON"])
def test_invoke_shows_every_line_of_the_invoke(function, log_format):
    tail = "no newline at the end " + "T" * (1 << 20)
    run = shim(
        "invoke",
        str(function),
        "--no-pack",
        "--env",
        "AWS_LAMBDA_LOG_FORMAT=" + log_format,
        "--event",
        "-",
        stdin=json.dumps({"tail": tail}),
        env=without_unbuffered(),
    )
    assert run.returncode == 0, run.stderr[-2000:]
    payload = json.loads(run.stdout)
    assert payload["unbuffered"] is False
    lines = run.stderr.split("\n")
    assert thread_record_ids(lines, log_format) == [payload["requestId"]]
    assert "unfinished " in lines and "line ended" in lines
    end = lines.index("END RequestId: %s" % payload["requestId"])
    assert lines.index(tail) < end  # the output without a newline is there, before END


# -- shim serve -----------------------------------------------------------------------------------


class Serve:
    def __init__(self, function_dir, *args):
        self.process = subprocess.Popen(
            SHIM + ["serve", str(function_dir), "--no-pack", "--port", "0"] + list(args),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO,
            env=without_unbuffered(),
        )
        self.lines = []
        self.listening = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()
        assert self.listening.wait(60), "".join(self.lines)
        self.port = int(re.search(r"http://127\.0\.0\.1:(\d+)/", "".join(self.lines)).group(1))

    def _read(self):
        for line in self.process.stderr:
            self.lines.append(line)
            if "listening on" in line:
                self.listening.set()

    def post(self, body, headers=None):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            connection.request("POST", PATH, body=body, headers=headers or {})
            response = connection.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            connection.close()

    def stop(self):
        self.process.terminate()
        self.process.wait(30)


@pytest.fixture
def serve():
    started = []

    def start(function_dir, *args):
        server = Serve(function_dir, *args)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.mark.parametrize("log_format", ["Text", "JSON"])
def test_serve_transcripts_hold_every_line_of_their_invoke(serve, function, log_format):
    server = serve(function, "--env", "AWS_LAMBDA_LOG_FORMAT=" + log_format)
    ids = []
    for tail in ("first tail, no newline", "second tail, no newline"):
        status, _, body = server.post(json.dumps({"tail": tail}).encode())
        assert status == 200, body
        ids.append(json.loads(body)["requestId"])
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and sum(line.startswith("REPORT ") for line in server.lines) < 2:
        time.sleep(0.05)
    text = "".join(server.lines)
    for request_id, tail in zip(ids, ("first tail, no newline", "second tail, no newline")):
        block = text[text.index("START RequestId: %s" % request_id) : text.index("END RequestId: %s" % request_id)]
        lines = block.split("\n")
        assert thread_record_ids(lines, log_format) == [request_id]
        assert tail in lines and "unfinished " in lines and "line ended" in lines


def test_serve_reads_an_oversized_body_before_its_413(serve, function):
    server = serve(function)
    status, headers, body = server.post(b"[" + b"0," * (7 * 512 * 1024) + b"0]")  # ~7 MB, over Lambda's 6 MB
    assert status == 413 and headers["X-Amzn-ErrorType"] == "RequestTooLargeException"
    status, _, body = server.post(b'{"tail": "still serving"}')
    assert status == 200


def test_serve_refuses_two_content_lengths(serve, function):
    server = serve(function)
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(
            b"POST " + PATH.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}"
        )
        reply = b""
        while b"\r\n\r\n" not in reply:
            chunk = sock.recv(65536)
            if not chunk:
                break
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 400 "), reply
    assert b"InvalidRequestContentException" in reply


# -- the plugin -----------------------------------------------------------------------------------

PLUGIN_TEST = """\
import pytest

@pytest.mark.parametrize("log_format", ["Text", "JSON"])
def test_every_line_in_its_result(lambda_function, log_format):
    fn = lambda_function("fn", env={"AWS_LAMBDA_LOG_FORMAT": log_format})
    first = fn.invoke({"tail": "first tail"})
    second = fn.invoke({})
    for result in (first, second):
        assert result.payload["unbuffered"] is False
        threaded = [r for r in result.records if r.get("message") == "from a thread"]
        assert [r["requestId"] for r in threaded] == [result.request_id]
        assert {"message": "unfinished "} in result.records and {"message": "line ended"} in result.records
    assert {"message": "first tail"} in first.records
    assert "first tail" not in second.logs
"""


def test_the_plugins_result_holds_every_line_of_its_invoke(pytester, monkeypatch):
    fn = pytester.mkdir("fn")
    (fn / "handler.py").write_text(HANDLER)
    pytester.makepyfile(test_lines=textwrap.dedent(PLUGIN_TEST))
    monkeypatch.delenv("PYTHONUNBUFFERED", raising=False)  # not on Lambda, so not in the runtime's environment
    result = pytester.runpytest_subprocess("-q")
    result.assert_outcomes(passed=2)


# -- temporary files and the timeout warning -------------------------------------------------------


def test_nothing_is_left_in_tmp_after_a_timeout_kill(function, tmp_path):
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    for mode in ([], ["--no-pack"]):
        run = shim(
            "invoke",
            str(function),
            *mode,
            "--timeout",
            "0.3",
            "--event",
            "-",
            stdin='{"sleep": 30}',
            env=dict(os.environ, TMPDIR=str(scratch)),
        )
        assert run.returncode == 1 and "Task timed out" in run.stderr, run.stderr
        assert os.listdir(str(scratch)) == [], "left behind: %s" % os.listdir(str(scratch))


@pytest.mark.parametrize("log_format", ["Text", "JSON"])
def test_invoke_shows_the_timeout_warning_before_task_timed_out(function, log_format):
    run = shim(
        "invoke",
        str(function),
        "--no-pack",
        "--timeout",
        "1",
        "--env",
        "AWS_LAMBDA_LOG_FORMAT=" + log_format,
        "--event",
        "-",
        stdin='{"sleep": 30}',
    )
    assert run.returncode == 1
    lines = run.stderr.split("\n")
    warned = [i for i, line in enumerate(lines) if "Task is about to time out" in line]
    timed_out = [
        i
        for i, line in enumerate(lines)
        if line.endswith("Task timed out after 1.00 seconds")
        or re.search(r"Task timed out after \d+\.\d\d seconds$", line)
    ]
    assert len(warned) == 1 and timed_out and warned[0] < timed_out[0], run.stderr
    stack = "\n".join(lines[warned[0] : timed_out[0]])
    assert "time.sleep(event[" in stack and "Handle" in stack
