"""`shim invoke --durable`, `shim serve --durable` and `shim durable`, driven as subprocesses."""

import importlib.util
import json
import os
import re
import subprocess
import sys
import threading
import time

import pytest

# Found, not imported: `make test` collects this file in every pytest-xdist worker only to leave it out.
if importlib.util.find_spec("aws_durable_execution_sdk_python_testing") is None:
    pytest.skip("needs Python >= 3.11 and the durable SDK", allow_module_level=True)

# The slow tier (`make test-slow`, and CI): real installs and whole executions, many seconds each.
pytestmark = pytest.mark.slow

FN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fn")
SHIM = [sys.executable, "-c", "import sys; from shim.cli import main; sys.exit(main())"]


def shim(*args, timeout=120):
    return subprocess.run(SHIM + list(args), capture_output=True, text=True, timeout=timeout)


def test_invoke_durable_prints_only_the_result_and_reports_every_invocation(tmp_path):
    event = tmp_path / "event.json"
    event.write_text('{"start": 1}')
    done = shim("invoke", FN, "--no-pack", "--handler", "shapes.wait", "--durable", "--event", str(event))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"value": 3} and done.stdout.count("\n") == 1
    reports = [line for line in done.stderr.splitlines() if line.startswith("REPORT RequestId: ")]
    assert len(reports) == 2 and "Init Duration" in reports[0] and "Init Duration" not in reports[1]
    assert "durable execution SUCCEEDED: 3 operations, 2 invocations (1 replay), 1h skipped" in done.stderr


def test_invoke_durable_failure_names_the_sdks_error_and_the_users(tmp_path):
    done = shim("invoke", FN, "--no-pack", "--handler", "shapes.failing", "--durable")
    assert done.returncode == 1 and done.stdout == ""
    assert re.search(r"the durable execution FAILED: \S*StepError: card declined", done.stderr), done.stderr
    assert "in step 'charge': ValueError: card declined" in done.stderr


def test_invoke_durable_bad_event_is_a_usage_error():
    done = shim("invoke", FN, "--no-pack", "--handler", "shapes.wait", "--durable", "--event", "/nonexistent")
    assert done.returncode == 2 and "cannot read the event" in done.stderr


def test_durable_needs_3_11_and_says_so(monkeypatch):
    from shim.pack.errors import UsageError
    from shim.local import durable_service

    monkeypatch.setattr(sys, "version_info", (3, 10, 4, "final", 0))
    with pytest.raises(UsageError, match="Python 3.11 or later"):
        durable_service.require()


class Serve:
    def __init__(self, *args):
        self.process = subprocess.Popen(
            SHIM + ["serve", FN, "--no-pack", "--port", "0", "--durable"] + list(args),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines, self.ready = [], threading.Event()
        threading.Thread(target=self._read, daemon=True).start()
        assert self.ready.wait(60), self.output()
        self.port = int(re.search(r"http://127\.0\.0\.1:(\d+)/2015", self.output()).group(1))
        self.url = "http://127.0.0.1:%d" % self.port

    def _read(self):
        for line in self.process.stderr:
            self.lines.append(line)
            if "listening on" in line:
                self.ready.set()

    def output(self):
        return "".join(self.lines)

    def wait_for(self, pattern, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = re.search(pattern, self.output())
            if found:
                return found
            time.sleep(0.05)
        raise AssertionError("no %r in: %s" % (pattern, self.output()))

    def stop(self):
        self.process.terminate()
        self.process.wait(30)


@pytest.fixture
def boto3_lambda():
    boto3 = pytest.importorskip("boto3")
    from botocore.config import Config

    def make(url):
        return boto3.client(
            "lambda",
            endpoint_url=url,
            region_name="us-east-1",
            aws_access_key_id="x",
            aws_secret_access_key="x",
            config=Config(retries={"max_attempts": 0}, read_timeout=120),
        )

    return make


def test_serve_durable_runs_an_execution_per_invoke_and_answers_the_api(boto3_lambda):
    server = Serve("--handler", "shapes.callback")
    try:
        client = boto3_lambda(server.url)
        started = client.invoke(FunctionName="function", InvocationType="Event", Payload=b"{}")
        assert started["StatusCode"] == 202
        arn = started["DurableExecutionArn"]
        callback_id = server.wait_for(r"callback (\S+) is waiting").group(1)
        assert client.get_durable_execution(DurableExecutionArn=arn)["Status"] == "RUNNING"
        answered = shim("durable", "--endpoint", server.url, "callback", callback_id, "--result", '"yes"')
        assert answered.returncode == 0, answered.stderr
        deadline = time.monotonic() + 60
        while client.get_durable_execution(DurableExecutionArn=arn)["Status"] == "RUNNING":
            assert time.monotonic() < deadline
            time.sleep(0.1)
        execution = client.get_durable_execution(DurableExecutionArn=arn)
        assert (execution["Status"], json.loads(execution["Result"])) == ("SUCCEEDED", {"approved": '"yes"'})
        events = [e["EventType"] for e in client.get_durable_execution_history(DurableExecutionArn=arn)["Events"]]
        assert events[0] == "ExecutionStarted" and "CallbackSucceeded" in events and events[-1] == "ExecutionSucceeded"
        listed = json.loads(shim("durable", "--endpoint", server.url, "list").stdout)
        assert [e["DurableExecutionArn"] for e in listed["DurableExecutions"]] == [arn]
        # A synchronous Invoke answers with the handler's result when the execution ends.
        answer = {}
        call = threading.Thread(target=lambda: answer.update(client.invoke(FunctionName="function", Payload=b"{}")))
        call.start()
        second = server.wait_for(r"callback (\S+) is waiting(?:.*\n)+.*callback (\S+) is waiting").group(2)
        assert shim("durable", "--endpoint", server.url, "callback", second, "--result", '"later"').returncode == 0
        call.join(60)
        assert answer["StatusCode"] == 200 and "FunctionError" not in answer
        assert json.loads(answer["Payload"].read()) == {"approved": '"later"'}
        assert answer["DurableExecutionArn"] != arn
    finally:
        server.stop()
