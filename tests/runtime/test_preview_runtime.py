"""A preview managed runtime (python3.15 in awslambdaric) gets one warning at init, as awslambdaric logs it.

awslambdaric (bootstrap.py, _log_preview_runtime_warning) logs a WARNING starting "LAMBDA_WARNING:" once
before loading the handler when AWS_EXECUTION_ENV is AWS_Lambda_python3.15, unless LAMBDA_DISABLE_PREVIEW_WARN
is set to anything; the documentation link is docs.amazonaws.cn in cn- regions. The shim meets that
variable when it runs as AWS_LAMBDA_EXEC_WRAPPER of the managed runtime.
"""

import json

import pytest

HANDLER = {"handler.py": "def Handle(event, context):\n    return 'ok'\n"}


def warnings_in(env):
    return [line for line in env.output().splitlines() if "LAMBDA_WARNING" in line]


@pytest.mark.parametrize(
    "extra,expected",
    [
        ({"AWS_EXECUTION_ENV": "AWS_Lambda_python3.15"}, "docs.aws.amazon.com"),
        ({"AWS_EXECUTION_ENV": "AWS_Lambda_python3.15", "AWS_REGION": "cn-north-1"}, "docs.amazonaws.cn"),
        ({"AWS_EXECUTION_ENV": "AWS_Lambda_python3.15", "LAMBDA_DISABLE_PREVIEW_WARN": "1"}, None),
        ({"AWS_EXECUTION_ENV": "AWS_Lambda_python3.14"}, None),
        ({}, None),
    ],
)
def test_preview_warning_once_at_init(start, make_function, extra, expected):
    env = start(make_function(HANDLER), env=dict(extra, AWS_LAMBDA_LOG_FORMAT="JSON"))
    assert env.invoke({}, timeout=20).payload == "ok"
    env.drain()
    found = warnings_in(env)
    if expected is None:
        assert found == []
        return
    [line] = found
    record = json.loads(line)
    assert record["level"] == "WARNING" and record["message"].startswith("LAMBDA_WARNING: python3.15 is a preview")
    assert expected in record["message"] and "requestId" not in record
