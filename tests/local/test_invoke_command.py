"""`shim invoke` and the Function underneath it: Lambda's log lines, timeouts, crashes, bad input."""

import json
import os
import re
import subprocess
import sys

import pytest

from shim.local.function import Function
from shim.local.result import InvokeResult, parse_line, parse_logs

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HANDLERS = os.path.join(REPO, "shim", "local", "templates", "handlers")

# One handler for every way an invoke can end.
PROBE = """\
import os, signal, sys, time
print("init line")

def Handle(event, context):
    print("event", event.get("say", ""))
    if "sleep" in event:
        time.sleep(event["sleep"])
    if "exit" in event:
        sys.stdout.flush()
        os._exit(event["exit"])
    if "signal" in event:
        os.kill(os.getpid(), getattr(signal, event["signal"]))
    if "raise" in event:
        raise ValueError(event["raise"])
    return {"pid": os.getpid(), "say": event.get("say")}
"""


@pytest.fixture(scope="module")
def probe(tmp_path_factory):
    root = tmp_path_factory.mktemp("probe")
    (root / "handler.py").write_text(PROBE)
    return str(root)


# What the `shim` console script runs (`python -m shim.cli` would load cli twice: two UsageErrors).
SHIM = [sys.executable, "-c", "import sys; from shim.cli import main; sys.exit(main())"]


def shim(*args, stdin=None):
    return subprocess.run(SHIM + list(args), input=stdin, capture_output=True, text=True, timeout=60, cwd=REPO)


def report_of(stderr):
    lines = [line for line in stderr.splitlines() if line.startswith("REPORT ")]
    assert len(lines) == 1, stderr
    return dict(field.split(": ", 1) for field in lines[0][len("REPORT ") :].split("\t"))


# -- shim invoke --------------------------------------------------------------------------------


def test_invoke_prints_the_payload_and_lambdas_lines(tmp_path):
    event = tmp_path / "event.json"
    event.write_text('{"name": "Ada"}')
    run = shim(
        "invoke", HANDLERS, "--no-pack", "--event", str(event), "--memory", "256", "--env", "AWS_LAMBDA_LOG_LEVEL=INFO"
    )
    assert run.returncode == 0, run.stderr
    payload = json.loads(run.stdout)
    assert payload["message"] == "Hello, Ada!"
    request_id = payload["requestId"]
    lines = run.stderr.splitlines()
    start = lines.index("START RequestId: %s Version: $LATEST" % request_id)
    end = lines.index("END RequestId: %s" % request_id)
    log = [i for i, line in enumerate(lines) if line.endswith("\tgreeting Ada")]
    assert start < log[0] < end, run.stderr  # the function's own log, between START and END
    report = report_of(run.stderr)
    assert report["RequestId"] == request_id
    assert report["Memory Size"] == "256 MB"
    assert 1 <= int(report["Max Memory Used"].split()[0]) <= 1024  # a live Python's peak RSS
    assert float(report["Init Duration"].split()[0]) > 0  # a cold start
    assert float(report["Duration"].split()[0]) > 0
    assert re.fullmatch(r"\d+ ms", report["Billed Duration"])


def test_invoke_packs_the_directory_by_default_and_reads_stdin():
    run = shim(
        "invoke",
        HANDLERS,
        "--handler",
        "api.Handle",
        "--event",
        "-",
        stdin=json.dumps({"httpMethod": "GET", "path": "/hello", "queryStringParameters": {"name": "Bo"}}),
    )
    assert run.returncode == 0, run.stderr
    response = json.loads(run.stdout)
    assert response["statusCode"] == 200
    assert json.loads(response["body"])["message"] == "Hello, Bo!"


def test_invoke_runs_a_zip(tmp_path):
    from shim.pack import packer as pack

    zipped = pack.pack(HANDLERS, tmp_path / "function.zip").path
    run = shim("invoke", "--zip", zipped, "--event", "-", stdin='{"name": "Zed"}')
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["message"] == "Hello, Zed!"
    assert "Init Duration" in report_of(run.stderr)


def test_a_function_error_prints_the_error_payload_and_exits_1():
    run = shim("invoke", HANDLERS, "--no-pack", "--handler", "failing.Handle", "--event", "-", stdin='{"quantity": 0}')
    assert run.returncode == 1
    error = json.loads(run.stdout)
    assert error["errorType"] == "OrderRejected"
    assert error["errorMessage"] == "quantity must be at least 1, got 0"
    assert "REPORT RequestId: %s\t" % error["requestId"] in run.stderr
    assert run.stderr.splitlines()[-1] == "shim invoke: the function failed: OrderRejected: " + error["errorMessage"]


def test_a_timeout_kills_the_runtime_and_says_so_like_lambda(probe):
    run = shim("invoke", probe, "--no-pack", "--timeout", "0.3", "--event", "-", stdin='{"sleep": 30}')
    assert run.returncode == 1
    error = json.loads(run.stdout)
    match = re.fullmatch(r"(\S+Z) (\S+) Task timed out after (\d+\.\d\d) seconds", error["errorMessage"])
    assert match, error
    assert float(match.group(3)) >= 0.3
    report = report_of(run.stderr)
    assert report["RequestId"] == match.group(2)
    assert report["Status"] == "timeout"
    assert error["errorMessage"] in run.stderr.splitlines()  # Lambda's own log line for it
    assert run.stderr.splitlines()[-1] == "shim invoke: Task timed out after %s seconds" % match.group(3)


@pytest.mark.parametrize(
    "args, stdin, message",
    [
        (["--event", "-"], "{not json", "the event on stdin is not JSON: "),
        (["--event", "missing.json"], None, "cannot read the event missing.json: "),
        (["--timeout", "0"], None, "--timeout must be more than 0"),
        (["--timeout", "soon"], None, "--timeout takes a number"),
        (["--memory", "64"], None, "--memory must be between 128 and 10240 MB"),
        (["--env", "NOVALUE"], None, "--env takes KEY=VALUE"),
        (["--zip", "missing.zip"], None, "give a FUNCTION_DIR or --zip, not both"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(probe, args, stdin, message):
    run = shim("invoke", probe, "--no-pack", *args, stdin=stdin)
    assert run.returncode == 2
    assert run.stderr.count("\n") == 1 and run.stderr.startswith("shim invoke: " + message), run.stderr
    assert run.stdout == ""


def test_a_missing_directory_is_one_line():
    run = shim("invoke", "no/such/dir")
    assert (run.returncode, run.stderr) == (2, "shim invoke: no such function directory: no/such/dir\n")


def test_a_handler_that_does_not_resolve_shows_the_init_error(probe):
    run = shim("invoke", probe, "--no-pack", "--handler", "nowhere.Handle")
    assert run.returncode == 1
    error = json.loads(run.stdout)
    assert error["errorType"] == "Runtime.ImportModuleError"
    last = run.stderr.splitlines()[-1]
    assert last == "shim invoke: init failed: Runtime.ImportModuleError: " + error["errorMessage"]
    assert "shim/run.py" not in run.stderr and "shim/cli.py" not in run.stderr  # no traceback of our own
    assert report_of(run.stderr)["Error Type"] == "Runtime.ImportModuleError"


# -- the Function underneath --------------------------------------------------------------------


def test_after_a_timeout_the_next_invoke_gets_a_fresh_runtime(probe):
    with Function(probe, timeout_s=0.3) as fn:
        fn.start()
        first_pid = fn.pid
        timed_out = fn.invoke({"sleep": 30})
        assert timed_out.kind == "timeout" and timed_out.error_type == "Sandbox.Timedout"
        assert not os.path.exists("/proc/%d/cmdline" % first_pid) or _is_zombie(first_pid)
        again = fn.invoke({"say": "hi"})
        assert again.ok, again
        assert again.payload["pid"] != first_pid
        assert again.cold and again.init_ms > 0  # a cold start again, as on Lambda
        assert "init line" in again.init_logs
        assert fn.starts == 2


@pytest.mark.parametrize("event, reason", [({"exit": 3}, "exit status 3"), ({"signal": "SIGKILL"}, "signal: SIGKILL")])
def test_a_runtime_that_dies_is_runtime_exit_error(probe, event, reason):
    with Function(probe) as fn:
        died = fn.invoke(event)
        # The supervising bootstrap answers for its dead runtime (shim/crash.py).
        assert died.kind == "lost"
        assert died.error_type == "Runtime.ExitError"
        assert died.error["errorMessage"] == "Runtime exited with %s during the invoke" % reason
        assert died.error["requestId"] == died.request_id
        assert "Status: error\tError Type: Runtime.ExitError" in died.report_line()
        assert fn.invoke({}).ok  # and the next one gets a new environment


def test_invocation_logs_records_and_durations(probe):
    with Function(probe) as fn:
        first = fn.invoke({"say": "one"})
        second = fn.invoke({"say": "two"})
    assert first.cold and not second.cold
    assert "init line" in first.init_logs and "init line" not in first.logs
    assert [r["message"] for r in first.records] == ["event one"]
    assert [r["message"] for r in second.records] == ["event two"]
    assert second.duration_ms > 0 and second.max_memory_mb > 0
    assert "Init Duration" in first.report_line() and "Init Duration" not in second.report_line()


def test_a_runtime_error_during_init_is_reported(tmp_path):
    (tmp_path / "handler.py").write_text("import os\nos._exit(7)\n")
    with Function(tmp_path) as fn:
        assert fn.start() is None
        result = fn.invoke({})
    assert result.kind == "init_error"
    assert result.error["errorMessage"] == "Runtime exited with exit status 7 during init"


# -- pure formatting ---------------------------------------------------------------------------


def test_report_line_like_lambda():
    cold = InvokeResult(
        request_id="id-1",
        kind="response",
        body=b"{}",
        duration_ms=1.234,
        init_ms=45.678,
        memory_mb=128,
        max_memory_kb=20 * 1024 + 1,
    )
    assert cold.report_line() == (
        "REPORT RequestId: id-1\tDuration: 1.23 ms\tBilled Duration: 47 ms\t"
        "Memory Size: 128 MB\tMax Memory Used: 21 MB\tInit Duration: 45.68 ms"
    )
    warm = InvokeResult(
        request_id="id-2", kind="response", body=b"{}", duration_ms=0.2, memory_mb=512, max_memory_kb=1024
    )
    assert warm.report_line() == (
        "REPORT RequestId: id-2\tDuration: 0.20 ms\tBilled Duration: 1 ms\tMemory Size: 512 MB\tMax Memory Used: 1 MB"
    )


def test_parse_line_reads_text_json_and_plain_lines():
    text = parse_line("[ERROR]\t2024-05-01T10:00:00.123Z\tabc-1\tboom\rTraceback: x\n")
    assert text == {
        "level": "ERROR",
        "timestamp": "2024-05-01T10:00:00.123Z",
        "requestId": "abc-1",
        "message": "boom\nTraceback: x",
    }
    record = {"timestamp": "2024-05-01T10:00:00.123Z", "level": "INFO", "message": "hi", "requestId": "r", "k": 1}
    assert parse_line(json.dumps(record) + "\n") == record
    assert parse_line("just print output\n") == {"message": "just print output"}
    assert parse_line("[1, 2]") == {"message": "[1, 2]"}
    assert parse_logs("a\n\nb\n") == [{"message": "a"}, {"message": "b"}]
    folded = parse_logs("[ERROR]\t2024-05-01T10:00:00.123Z\tr\tboom\r  File x\nnext\n")
    assert [r["message"] for r in folded] == ["boom\n  File x", "next"]


def _is_zombie(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def test_a_bootstrap_that_cannot_start_is_an_init_error(tmp_path):
    (tmp_path / "handler.py").write_text("def Handle(event, context):\n    return 1\n")
    (tmp_path / "bootstrap").write_text("#!/bin/sh\nexit 0\n")  # not executable
    run = shim("invoke", str(tmp_path), "--no-pack")
    assert run.returncode == 1
    assert json.loads(run.stdout)["errorType"] == "Runtime.InvalidEntrypoint"
    assert run.stderr.splitlines()[-1].startswith("shim invoke: init failed: Runtime.InvalidEntrypoint: Couldn't start")
