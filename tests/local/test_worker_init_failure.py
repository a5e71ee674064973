"""Managed Instances: one worker of three fails its init while the others serve.

As on Lambda (the AWS emulator's Managed Instances Runtime API, awslambdaric's worker pool): init
is complete once any worker polls /next; the failed worker is a lost worker, not a failed init,
and the environment serves on with the others. Its error record (stack trace, or the faulthandler
stack of a worker that crashed) is reported exactly once, the same way by the fixture's Function,
`shim invoke` and `shim serve`, and no request is left without its one answer.
"""

import http.client
import json
import re
import subprocess
import sys
import threading
import time

import pytest

from shim.local.function import Function

pytest_plugins = ["pytester"]

SHIM = [sys.executable, "-c", "import sys; from shim.cli import main; sys.exit(main())"]

HANDLER = """\
import os, time
MARK = os.environ["MARK"]
try:
    os.close(os.open(MARK + ".claimed", os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    failing = True
except FileExistsError:
    failing = False
if failing:
    time.sleep(0.3)  # the others poll /next meanwhile: the init is complete
    open(MARK + ".failed", "w").close()
    if os.environ.get("SEGV"):
        import ctypes
        ctypes.string_at(0)
    raise RuntimeError("this worker fails its init")

def Handle(event, context):
    deadline = time.time() + 10
    while not os.path.exists(MARK + ".failed") and time.time() < deadline:
        time.sleep(0.01)
    time.sleep(0.5)  # the failure is logged by now
    return {"pid": os.getpid()}
"""

NEEDLE = {"raise": "this worker fails its init", "segfault": "Segmentation fault"}


def _records_with(text, needle):
    return sum(1 for line in text.split("\n") if needle in line)


@pytest.fixture
def function_dir(tmp_path):
    root = tmp_path / "function"
    root.mkdir()
    (root / "handler.py").write_text(HANDLER)
    return root


def _env(tmp_path, kind):
    env = {"MARK": str(tmp_path / "mark")}
    if kind == "segfault":
        env["SEGV"] = "1"
    return env


@pytest.mark.parametrize("kind", ["raise", "segfault"])
def test_the_fixture_reports_a_workers_init_failure_once_and_serves_on(function_dir, tmp_path, kind):
    fn = Function(str(function_dir), "handler.Handle", max_concurrency=3, timeout_s=10, env=_env(tmp_path, kind))
    try:
        results = [fn.invoke({}) for _ in range(3)]
        answers = [len(fn.environment.api.answers(r.request_id, accepted_only=True)) for r in results]
    finally:
        fn.close()
    assert [r.kind for r in results] == ["response"] * 3, [r.body for r in results]
    assert answers == [1, 1, 1]  # every request, exactly one answer
    transcripts = "".join(r.transcript() for r in results)
    assert _records_with(transcripts, NEEDLE[kind]) == 1, transcripts
    failure = [rec for r in results for rec in r.init_records + r.records if NEEDLE[kind] in json.dumps(rec)]
    assert len(failure) == 1 and failure[0]["level"] == "ERROR" and failure[0]["stackTrace"]
    if kind == "raise":
        assert failure[0]["errorType"] == "RuntimeError"
        assert any("handler.py" in frame for frame in failure[0]["stackTrace"])
    else:  # the supervisor's report, with the faulthandler stack down to the user's line
        assert failure[0]["errorType"] == "Runtime.ExitError"
        assert any("handler.py" in frame for frame in failure[0]["stackTrace"])


def test_invoke_shows_a_workers_init_failure_once_and_succeeds(function_dir, tmp_path):
    env = _env(tmp_path, "raise")
    run = subprocess.run(
        SHIM + ["invoke", str(function_dir), "--no-pack", "--max-concurrency", "3", "--env", "MARK=%s" % env["MARK"]],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["pid"] > 0
    assert _records_with(run.stderr, NEEDLE["raise"]) == 1, run.stderr
    assert "handler.py" in next(line for line in run.stderr.split("\n") if NEEDLE["raise"] in line)


def test_serve_answers_every_request_and_shows_a_workers_init_failure_once(function_dir, tmp_path):
    env = _env(tmp_path, "raise")
    process = subprocess.Popen(
        SHIM
        + [
            "serve",
            str(function_dir),
            "--no-pack",
            "--port",
            "0",
            "--max-concurrency",
            "3",
            "--env",
            "MARK=%s" % env["MARK"],
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines = []
    listening = threading.Event()

    def read():
        for line in process.stderr:
            lines.append(line)
            if "listening on" in line:
                listening.set()

    threading.Thread(target=read, daemon=True).start()
    try:
        assert listening.wait(60), "".join(lines)
        port = int(re.search(r"http://127\.0\.0\.1:(\d+)/", "".join(lines)).group(1))
        for _ in range(3):
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            connection.request("POST", "/2015-03-31/functions/function/invocations", b"{}")
            response = connection.getresponse()
            body = response.read()
            connection.close()
            assert response.status == 200 and json.loads(body)["pid"] > 0, body
        deadline = time.monotonic() + 10
        while "".join(lines).count("REPORT RequestId") < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        process.send_signal(2)
        try:
            process.wait(30)
        finally:
            process.kill()
    output = "".join(lines)
    assert _records_with(output, NEEDLE["raise"]) == 1, output
    assert "Traceback" not in output and "TypeError" not in output  # serve itself did not crash


FIXTURE_TEST = """\
import json, os

def test_one_worker_fails(lambda_function, tmp_path):
    fn = lambda_function("fn", max_concurrency=3, timeout=10, env={"MARK": str(tmp_path / "mark")})
    results = [fn.invoke({}) for _ in range(3)]
    assert [r.kind for r in results] == ["response"] * 3
    records = [rec for r in results for rec in r.init_records + r.records
               if "this worker fails its init" in json.dumps(rec)]
    assert len(records) == 1 and records[0]["errorType"] == "RuntimeError", records
"""


def test_the_pytest_fixture_reports_it_once_too(pytester):
    fn = pytester.mkdir("fn")
    (fn / "handler.py").write_text(HANDLER)
    pytester.makepyfile(test_worker=FIXTURE_TEST)
    pytester.runpytest_subprocess("-q").assert_outcomes(passed=1)
