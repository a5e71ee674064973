"""Tenant isolation: the invoke's tenant reaches the handler as awslambdaric gives it.

`shim serve` passes X-Amz-Tenant-Id on as Lambda-Runtime-Aws-Tenant-Id; `shim invoke --tenant-id`
sets it. As in awslambdaric: context.tenant_id (None when the invoke has none), the JSON log
records' "tenantId" key (left out when there is none), nothing in the text format's lines.
"""

import http.client
import json
import re
import signal
import subprocess

import pytest

from test_invoke_command import SHIM, shim
from test_serve import Server

HANDLER = """\
import logging

def Handle(event, context):
    logging.getLogger().warning("tenant says hi")
    return {"tenant": context.tenant_id}
"""


@pytest.fixture
def function_dir(tmp_path):
    (tmp_path / "handler.py").write_text(HANDLER)
    return tmp_path


def records(stderr):
    return [json.loads(line) for line in stderr.splitlines() if line.startswith("{") and "tenant says hi" in line]


def test_invoke_tenant_id_reaches_the_context_and_the_json_log(function_dir):
    done = shim(
        "invoke", str(function_dir), "--no-pack", "--tenant-id", "blue-7", "--env", "AWS_LAMBDA_LOG_FORMAT=JSON"
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"tenant": "blue-7"}
    [record] = records(done.stderr)
    assert record["tenantId"] == "blue-7" and record["requestId"]


def test_without_a_tenant_the_context_has_none_and_the_log_no_key(function_dir):
    done = shim("invoke", str(function_dir), "--no-pack", "--env", "AWS_LAMBDA_LOG_FORMAT=JSON")
    assert json.loads(done.stdout) == {"tenant": None}
    [record] = records(done.stderr)
    assert "tenantId" not in record


def test_the_text_format_leaves_the_tenant_out(function_dir):
    done = shim("invoke", str(function_dir), "--no-pack", "--tenant-id", "blue-7")
    [line] = [line for line in done.stderr.splitlines() if "tenant says hi" in line]
    assert line.startswith("[WARNING]\t") and "blue-7" not in line


def test_serve_passes_the_invoke_api_header_through(function_dir):
    server = Server(function_dir)
    try:
        status, _, body = server.post({}, {"X-Amz-Tenant-Id": "green-2"})
        assert (status, json.loads(body)) == (200, {"tenant": "green-2"})
        status, _, body = server.post({})
        assert (status, json.loads(body)) == (200, {"tenant": None})
    finally:
        server.stop()


PID_HANDLER = """\
import os

def Handle(event, context):
    return {"tenant": context.tenant_id, "pid": os.getpid()}
"""


def test_tenant_isolation_gives_each_tenant_environments_of_its_own(tmp_path):
    (tmp_path / "handler.py").write_text(PID_HANDLER)
    server = subprocess.Popen(
        SHIM + ["serve", str(tmp_path), "--no-pack", "--port", "0", "--tenant-isolation"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        port = None
        for line in server.stderr:
            found = re.search(r"listening on http://127\.0\.0\.1:(\d+)/", line)
            if found:
                port = int(found.group(1))
                break
        assert port, "no listening line"

        def post(headers):
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            connection.request("POST", "/2015-03-31/functions/function/invocations", b"{}", headers)
            response = connection.getresponse()
            return response.status, dict(response.getheaders()), json.loads(response.read() or b"null")

        status, headers, body = post({})
        assert status == 400 and headers["X-Amzn-ErrorType"] == "InvalidParameterValueException"
        assert "tenant isolation" in body["message"]
        _, _, blue = post({"X-Amz-Tenant-Id": "blue"})
        _, _, green = post({"X-Amz-Tenant-Id": "green"})
        _, _, blue_again = post({"X-Amz-Tenant-Id": "blue"})
        assert (blue["tenant"], green["tenant"]) == ("blue", "green")
        assert blue["pid"] != green["pid"]  # never the other tenant's environment
        assert blue_again["pid"] == blue["pid"]  # its own again, warm
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(30)
