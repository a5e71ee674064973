"""`shim invoke` and `shim serve` with --snapstart and --max-concurrency, and serve's shutdown lines."""

import http.client
import json
import re
import signal
import subprocess
import sys
import threading
import time

import pytest

SHIM = [sys.executable, "-c", "import sys; from shim.cli import main; sys.exit(main())"]
PATH = "/2015-03-31/functions/function/invocations"

HANDLER = """\
import os, time
import shim
from snapshot_restore_py import register_after_restore, register_before_snapshot

register_before_snapshot(lambda: print("hook: before snapshot", flush=True))
register_after_restore(lambda: print("hook: after restore", flush=True))

if os.environ.get("CALLBACK"):
    shim.on_shutdown(lambda: print("callback: bye from", os.getpid(), flush=True))

def Handle(event, context):
    started = time.time()
    time.sleep(event.get("wait", 0))
    return {"pid": os.getpid(), "start": started, "end": time.time()}
"""


@pytest.fixture
def function_dir(tmp_path):
    root = tmp_path / "function"
    root.mkdir()
    (root / "handler.py").write_text(HANDLER)
    return root


def shim(*args, stdin=None):
    return subprocess.run(SHIM + list(args), input=stdin, capture_output=True, text=True, timeout=60)


def test_invoke_snapstart_shows_each_phase_and_the_restore_in_report(function_dir):
    run = shim("invoke", str(function_dir), "--no-pack", "--snapstart")
    assert run.returncode == 0, run.stderr
    lines = run.stderr.splitlines()
    order = [
        "hook: before snapshot",
        "INIT_REPORT Init Duration",
        "RESTORE_START",
        "hook: after restore",
        "RESTORE_REPORT Restore Duration",
        "START RequestId",
        "END RequestId",
        "REPORT RequestId",
    ]
    positions = [next(i for i, line in enumerate(lines) if line.startswith(start)) for start in order]
    assert positions == sorted(positions), run.stderr
    report = next(line for line in lines if line.startswith("REPORT "))
    fields = dict(field.split(": ", 1) for field in report[len("REPORT ") :].split("\t"))
    assert float(fields["Restore Duration"].split()[0]) > 0
    assert int(fields["Billed Restore Duration"].split()[0]) >= float(fields["Restore Duration"].split()[0])
    assert "Init Duration" not in fields
    assert json.loads(run.stdout)["pid"] > 0


def test_invoke_with_max_concurrency_runs_workers_and_logs_json(function_dir):
    run = shim(
        "invoke", str(function_dir), "--no-pack", "--max-concurrency", "2", "--env", "AWS_LAMBDA_LOG_LEVEL=DEBUG"
    )
    assert run.returncode == 0, run.stderr
    pool = [json.loads(line) for line in run.stderr.splitlines() if "runtime_worker_pool_initializing" in line]
    assert len(pool) == 1 and pool[0]["workerCount"] == 2 and pool[0]["level"] == "DEBUG"


def test_invoke_shows_the_shutdown_only_when_the_function_asked_for_sigterm(function_dir):
    asked = shim("invoke", str(function_dir), "--no-pack", "--env", "CALLBACK=1")
    assert asked.returncode == 0, asked.stderr
    lines = asked.stderr.splitlines()
    bye = [i for i, line in enumerate(lines) if line.startswith("callback: bye from")]
    assert len(bye) == 1 and bye[0] > next(i for i, line in enumerate(lines) if line.startswith("REPORT "))
    plain = shim("invoke", str(function_dir), "--no-pack")
    assert plain.returncode == 0 and "Stopping on SIGTERM" not in plain.stderr
    assert plain.stderr.splitlines()[-1].startswith("REPORT ")


@pytest.mark.parametrize(
    "args, message",
    [
        (["--max-concurrency", "0"], "--max-concurrency must be between 1 and 64, got 0"),
        (["--max-concurrency", "x"], "--max-concurrency takes a number, got 'x'"),
        (["--snapstart", "--max-concurrency", "2"], "--snapstart and --max-concurrency do not combine"),
    ],
)
def test_bad_platform_options_are_one_line_and_status_2(function_dir, args, message):
    run = shim("invoke", str(function_dir), "--no-pack", *args)
    assert run.returncode == 2
    assert len(run.stderr.splitlines()) == 1 and message in run.stderr


class Serve:
    def __init__(self, function_dir, *args, env=None):
        import os

        environ = dict(os.environ, **(env or {}))
        self.process = subprocess.Popen(
            SHIM + ["serve", str(function_dir), "--no-pack", "--port", "0"] + list(args),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=environ,
        )
        self.lines = []
        self.listening = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()
        if not self.listening.wait(60):
            self.process.kill()
            raise AssertionError("".join(self.lines))
        self.port = int(re.search(r"http://127\.0\.0\.1:(\d+)/", self.output()).group(1))

    def _read(self):
        for line in self.process.stderr:
            self.lines.append(line)
            if "listening on" in line:
                self.listening.set()

    def output(self):
        return "".join(self.lines)

    def post(self, event):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            connection.request("POST", PATH, json.dumps(event).encode())
            response = connection.getresponse()
            return response.status, dict(response.getheaders()), json.loads(response.read())
        finally:
            connection.close()

    def stop(self):
        self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(30)
        finally:
            self.process.kill()
            time.sleep(0.05)


def test_serve_m_environments_with_n_each_overlap_m_times_n_invokes(function_dir):
    server = Serve(function_dir, "--concurrency", "2", "--max-concurrency", "2")
    try:
        assert "2 environments, 2 invokes at once in each" in server.output()
        results = [None] * 4

        def call(i):
            results[i] = server.post({"wait": 0.5})

        threads = [threading.Thread(target=call, args=(i,)) for i in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        bodies = [body for status, headers, body in results]
        assert all(status == 200 and "X-Amz-Function-Error" not in headers for status, headers, _ in results)
        assert max(b["start"] for b in bodies) < min(b["end"] for b in bodies)
        assert len({b["pid"] for b in bodies}) == 4
    finally:
        assert server.stop() == 0


def test_serve_stops_its_runtimes_with_sigterm_and_shows_what_they_said(function_dir):
    server = Serve(function_dir, env={"CALLBACK": "1"})
    try:
        status, _, body = server.post({})
        assert status == 200
    finally:
        assert server.stop() == 0
    output = server.output()
    assert "callback: bye from %d" % body["pid"] in output
    assert output.index("callback: bye from") < output.index("shim serve: stopped")
    assert "no extension was registered" not in output


def test_serve_says_when_lambda_would_not_have_sent_sigterm(function_dir):
    server = Serve(function_dir)
    assert server.stop() == 0
    assert "no extension was registered: on Lambda these environments would get SIGKILL" in server.output()


def test_serve_snapstart_restores_before_the_first_invoke(function_dir):
    server = Serve(function_dir, "--snapstart")
    try:
        status, _, body = server.post({})
        assert status == 200
        deadline = time.monotonic() + 10
        while "REPORT RequestId" not in server.output() and time.monotonic() < deadline:
            time.sleep(0.01)
        output = server.output()
        assert "Restore Duration: " in output and "Billed Restore Duration: " in output
        assert output.index("hook: before snapshot") < output.index("hook: after restore")
    finally:
        assert server.stop() == 0
