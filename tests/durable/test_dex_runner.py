"""The SDK testing package's own local runner server (`dex-local-runner start-server`) driving `shim serve`.

This is the setup issue 20 started from: the runner keeps the executions and sends each invocation as
an Invoke to shim serve, marked as a handler invocation; the function checkpoints to the runner
(AWS_ENDPOINT_URL_LAMBDA given with --env, which wins over what --durable sets). shim serve --durable
passes such an Invoke to the function as one invocation. Everything binds 127.0.0.1.
"""

import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request

import pytest

# Found, not imported: `make test` collects this file in every pytest-xdist worker only to leave it out.
if importlib.util.find_spec("aws_durable_execution_sdk_python_testing") is None:
    pytest.skip("needs Python >= 3.11 and the durable SDK", allow_module_level=True)

# The slow tier (`make test-slow`, and CI): real installs and whole executions, many seconds each.
pytestmark = pytest.mark.slow

from test_durable_cli import Serve  # noqa: E402

RUNNER = os.path.join(os.path.dirname(sys.executable), "dex-local-runner")


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def call(url, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        url, data=data, method="GET" if body is None else "POST", headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


@pytest.mark.skipif(
    not os.path.exists(RUNNER) and not shutil.which("dex-local-runner"), reason="dex-local-runner is not installed"
)
def test_the_testing_packages_runner_server_drives_shim_serve(tmp_path):
    runner_port = free_port()
    runner_url = "http://127.0.0.1:%d" % runner_port
    server = Serve("--handler", "shapes.wait", "--env", "AWS_ENDPOINT_URL_LAMBDA=" + runner_url)
    log = open(str(tmp_path / "runner.log"), "w")
    runner = subprocess.Popen(
        [
            RUNNER if os.path.exists(RUNNER) else "dex-local-runner",
            "start-server",
            "--host",
            "127.0.0.1",
            "--port",
            str(runner_port),
            "--lambda-endpoint",
            server.url,
            "--skip-time",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=dict(os.environ, AWS_ACCESS_KEY_ID="x", AWS_SECRET_ACCESS_KEY="x"),
    )  # for its boto3
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                call(runner_url + "/health")
                break
            except OSError:
                assert time.monotonic() < deadline and runner.poll() is None, (tmp_path / "runner.log").read_text()
                time.sleep(0.1)
        started = call(
            runner_url + "/start-durable-execution",
            {
                "AccountId": "000000000000",
                "FunctionName": "function",
                "FunctionQualifier": "$LATEST",
                "ExecutionName": "from-the-runner",
                "ExecutionTimeoutSeconds": 120,
                "ExecutionRetentionPeriodDays": 1,
                "Input": "{}",
            },
        )
        arn = started["ExecutionArn"]
        url = runner_url + "/2025-12-01/durable-executions/" + urllib.parse.quote(arn, safe="")
        deadline = time.monotonic() + 90
        while call(url)["Status"] == "RUNNING":
            assert time.monotonic() < deadline, server.output()
            time.sleep(0.2)
        execution = call(url)
        assert "Result" in execution, (
            execution.get("Error"),
            server.output(),
            (tmp_path / "runner.log").read_text()[-3000:],
        )
        assert (execution["Status"], json.loads(execution["Result"])) == ("SUCCEEDED", {"value": 3})
        # Each of the runner's invocations went through shim serve's environment: its REPORT lines.
        assert server.output().count("REPORT RequestId:") == 2
        assert "shim serve: callback" not in server.output()
    finally:
        runner.terminate()
        runner.wait(30)
        log.close()
        server.stop()
