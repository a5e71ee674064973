"""The cold-start path: the bootstrap as a real subprocess against a real local Runtime API.

What the runtime makes of the user's code (each init error's type, each panic's answer, marshalling)
is tested in-process in test_user_code.py, test_invoke_step.py and test_marshal.py; here a few cases
of each go through the real process: posted once, logged, the process ending or serving on."""

import json
import os
import signal
import time

import pytest

from shim import __version__

HANDLERS = """
import os, signal, sys, time

state = {"calls": 0}

def Handle(event, context):
    state["calls"] += 1
    return {"event": event, "calls": state["calls"]}

def boom(event, context):
    raise ValueError("bad value: %s" % event)

def exit_(event, context):
    sys.exit(event)

def kill_self(event, context):
    os.kill(os.getpid(), getattr(signal, event))
    time.sleep(5)
    return "signal was ignored"

def string(event, context):
    return "plain"

def unencodable(event, context):
    return {"s": {1, 2}}

def trace_everywhere(event, context):
    import subprocess
    child = subprocess.run([sys.executable, "-c", "import os; print(os.environ.get('_X_AMZN_TRACE_ID'))"],
                           capture_output=True, text=True, check=True).stdout.strip()
    return {"environ": os.environ.get("_X_AMZN_TRACE_ID"), "getenv": os.getenv("_X_AMZN_TRACE_ID"), "child": child,
            "listed": "_X_AMZN_TRACE_ID" in dict(os.environ)}

def huge(event, context):
    return "x" * (7 * 1024 * 1024)

def context_fields(event, context):
    return {
        "aws_request_id": context.aws_request_id,
        "function_name": context.function_name,
        "function_version": context.function_version,
        "invoked_function_arn": context.invoked_function_arn,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "log_group_name": context.log_group_name,
        "log_stream_name": context.log_stream_name,
        "tenant_id": context.tenant_id,
        "identity": [context.identity.cognito_identity_id, context.identity.cognito_identity_pool_id],
        "client_context": None if context.client_context is None else {
            "custom": context.client_context.custom, "env": context.client_context.env,
            "client": None if context.client_context.client is None else context.client_context.client.app_title},
        "remaining": context.get_remaining_time_in_millis(),
    }
"""


@pytest.fixture
def function(make_function):
    return make_function({"handler.py": HANDLERS})


def _exactly_one_answer(env, result):
    accepted = env.api.answers(result.request_id, accepted_only=True)
    assert len(accepted) == 1, env.api.requests


@pytest.mark.parametrize("pipeline", ["1", "0"], ids=["pipelined", "SHIM_PIPELINE=0"])
def test_response_and_warm_module_state(start, function, pipeline):
    env = start(function, env={"SHIM_PIPELINE": pipeline})
    first = env.invoke({"a": 1}, timeout=10)
    second = env.invoke([1, 2], timeout=10)
    assert first.payload == {"event": {"a": 1}, "calls": 1}
    # The same process serves the second invoke: module state survives (a warm start).
    assert second.payload == {"event": [1, 2], "calls": 2}
    assert first.content_type == "application/json"
    _exactly_one_answer(env, first)
    _exactly_one_answer(env, second)


def test_handler_from_last_argument_overrides_env(start, function):
    env = start(function, "handler.missing_on_purpose", args=["handler.string"])
    assert env.invoke({}, timeout=10).payload == "plain"


def test_task_root_comes_first_on_sys_path(start, make_function):
    # A user module named like a stdlib-adjacent package must win, as on Lambda.
    function = make_function(
        {
            "handler.py": "import helpers\ndef Handle(e, c):\n    return helpers.WHO\n",
            "helpers.py": "WHO = 'task root'\n",
        }
    )
    env = start(function, cwd="/")
    assert env.invoke({}, timeout=10).payload == "task root"


# Every init error's type and message: test_user_code.py (in-process). Here: posted once, logged, exit.
INIT_ERRORS = [
    ({}, "nothere.Handle", "Runtime.ImportModuleError", "Unable to import module 'nothere': No module named 'nothere'"),
    ({"handler.py": "raise RuntimeError('config missing')\n"}, "handler.Handle", "RuntimeError", "config missing"),
]


@pytest.mark.parametrize("files,spec,error_type,message", INIT_ERRORS, ids=[e[2] + ":" + e[1] for e in INIT_ERRORS])
def test_init_errors_are_posted_once_and_exit_non_zero(start, make_function, files, spec, error_type, message):
    env = start(make_function(files or {"empty.py": ""}), spec, ready=False)
    assert env.process.wait(15) != 0
    posts = [r for r in env.api.requests if r.path == "/2018-06-01/runtime/init/error"]
    assert len(posts) == 1, env.api.requests
    assert posts[0].headers["lambda-runtime-function-error-type"] == error_type
    body = json.loads(posts[0].body)
    assert set(body) == {"errorMessage", "errorType", "requestId", "stackTrace"}
    assert body["errorType"] == error_type and body["requestId"] == ""
    assert message in body["errorMessage"]
    # The runtime never asked for work it could not do.
    assert not [r for r in env.api.requests if r.path.endswith("/next")]
    env.join_readers()
    assert error_type in env.output()  # and it said so in the log


def test_exception_payload_headers_and_xray_cause(start, function):
    env = start(function, "handler.boom")
    result = env.invoke("payload", timeout=10)
    assert result.kind == "error"
    assert result.error_type == "ValueError"
    body = result.payload
    assert body["errorType"] == "ValueError"
    assert body["errorMessage"] == "bad value: payload"
    assert body["requestId"] == result.request_id
    # Frames from the user's file only: the runtime's own frames are stripped.
    assert len(body["stackTrace"]) == 1 and 'handler.py", line' in body["stackTrace"][0]
    assert "in boom" in body["stackTrace"][0] and "raise ValueError" in body["stackTrace"][0]
    cause = json.loads(result.xray_cause)
    assert cause["exceptions"][0]["type"] == "ValueError"
    assert cause["exceptions"][0]["message"] == "bad value: payload"
    assert cause["exceptions"][0]["stack"][0]["label"] == "boom"
    assert cause["paths"] == [cause["exceptions"][0]["stack"][0]["path"]]
    assert cause["working_directory"]


# Every panic's answer: test_user_code.py and test_invoke_step.py (in-process). Here: signals, which need the
# runtime's own handlers, and one sys.exit, after which the same process must go on serving.
PANICS = [
    ("exit_", 3, "SystemExit", "Handler called sys.exit(3)"),
    ("kill_self", "SIGUSR1", "FatalSignal", "Handler was interrupted by SIGUSR1"),
    ("kill_self", "SIGALRM", "FatalSignal", "Handler was interrupted by SIGALRM"),
]


@pytest.mark.parametrize("name,event,error_type,message", PANICS, ids=[p[2] + ":" + str(p[1]) for p in PANICS])
def test_panics_are_answered_and_the_runtime_keeps_serving(start, function, name, event, error_type, message):
    env = start(function, "handler." + name)
    result = env.invoke(event, timeout=10)
    assert result.kind == "error", env.output()
    assert result.payload["errorType"] == error_type
    assert message in result.payload["errorMessage"]
    _exactly_one_answer(env, result)
    # Same process, next request: still serving.
    again = env.invoke(event, timeout=10)
    assert again.kind == "error" and again.payload["errorType"] == error_type
    assert env.returncode is None


def test_sigterm_during_invoke_answers_then_stops(start, function):
    env = start(function, "handler.kill_self")
    result = env.invoke("SIGTERM", timeout=10)
    assert result.kind == "error"
    assert result.payload["errorMessage"] == "Handler was interrupted by SIGTERM"
    assert env.process.wait(10) == 0  # answered, then a graceful stop


def test_sigterm_while_idle_stops_cleanly(start, function):
    env = start(function)
    env.process.send_signal(signal.SIGTERM)
    assert env.process.wait(10) == 0
    env.join_readers()
    assert "Stopping on SIGTERM" in env.output()


def test_unmarshal_error_then_keeps_serving(start, function):
    env = start(function)
    bad = env.invoke(b"{not json", timeout=10)
    assert bad.kind == "error" and bad.error_type == "Runtime.UnmarshalError"
    assert bad.payload["errorMessage"].startswith("Unable to unmarshal input: ")
    assert env.invoke({"ok": True}, timeout=10).payload["event"] == {"ok": True}


def test_marshal_error_names_the_type_and_keeps_serving(start, function):
    env = start(function, "handler.unencodable")
    result = env.invoke({}, timeout=10)
    assert result.error_type == "Runtime.MarshalError"
    assert "set" in result.payload["errorMessage"]
    assert result.payload["errorMessage"].startswith("Unable to marshal response: ")
    assert env.invoke({}, timeout=10).error_type == "Runtime.MarshalError"


def test_a_marshal_errors_log_shows_no_runtime_frames(start, function):
    env = start(function, "handler.unencodable")
    result = env.invoke({}, timeout=10)
    assert result.error_type == "Runtime.MarshalError"
    env.drain()
    line = next(line for line in env.output("stdout").split("\n") if "Runtime.MarshalError" in line)
    assert "Unable to marshal response" in line and result.request_id in line
    assert "shim/runtime" not in line and "Traceback" not in line and "TypeError" not in line


def test_response_too_large_becomes_an_error(start, function):
    env = start(function, "handler.huge")
    result = env.invoke({}, timeout=20)
    assert result.kind == "error" and result.error_type == "Runtime.ResponseSizeTooLarge"
    assert "7340034 bytes" in result.payload["errorMessage"]
    posts = env.api.answers(result.request_id)
    assert [r.status for r in posts] == [413, 202]
    # The pipelined GET /next is waiting on the main connection: the /error goes over a second one.
    assert posts[0].connection != posts[1].connection
    assert env.invoke({}, timeout=20).error_type == "Runtime.ResponseSizeTooLarge"  # still serving


def test_trace_id_reaches_subprocesses_and_leaves_with_the_next_invoke(start, function):
    # The runtime writes the variable into os.environ's store and the process environment (putenv)
    # directly: a child process sees it as it would after os.environ[...] = ..., and it goes away.
    env = start(function, "handler.trace_everywhere")
    assert env.invoke({}, trace_id="Root=1-abc;Sampled=1", timeout=20).payload == {
        "environ": "Root=1-abc;Sampled=1",
        "getenv": "Root=1-abc;Sampled=1",
        "child": "Root=1-abc;Sampled=1",
        "listed": True,
    }
    assert env.invoke({}, trace_id=None, timeout=20).payload == {
        "environ": None,
        "getenv": None,
        "child": "None",
        "listed": False,
    }


def test_invocation_id_is_echoed_and_user_agent_names_us(start, function):
    env = start(function)
    result = env.invoke({}, invocation_id="inv-42", timeout=10)
    post = env.api.answers(result.request_id)[0]
    assert post.headers["lambda-runtime-invocation-id"] == "inv-42"
    agents = {r.headers.get("user-agent") for r in env.api.requests}
    assert len(agents) == 1
    agent = agents.pop()
    assert agent.startswith("lambda-shim/%s " % __version__) and "Python 3." in agent
    plain = env.invoke({}, timeout=10)
    assert "lambda-runtime-invocation-id" not in env.api.answers(plain.request_id)[0].headers


def _connections(api):
    return {r.connection for r in api.requests}


@pytest.mark.parametrize("pipeline", ["1", "0"], ids=["pipelined", "SHIM_PIPELINE=0"])
def test_one_keep_alive_connection(start, function, pipeline):
    env = start(function, env={"SHIM_PIPELINE": pipeline})
    for i in range(5):
        env.invoke(i, timeout=10)
    assert env.api.wait_polls(6, timeout=10) is not None  # the poll after the last answer is in too
    assert len(env.api.requests) == 11  # 6 GET /next, 5 POSTs, every one numbered by its connection
    assert _connections(env.api) == {env.api.requests[0].connection}, env.api.requests


def test_a_reconnecting_runtime_is_seen_as_more_than_one_connection(start, function, monkeypatch):
    """The check above can fail: a server that closes after every answer makes the runtime reconnect."""
    env = start(function, env={"SHIM_PIPELINE": "0"})  # pipelined, the GET behind the POST would be cut off
    handler = env.api._server.RequestHandlerClass
    answer = handler.do_POST

    def answer_then_close(self):
        answer(self)
        self.close_connection = True

    monkeypatch.setattr(handler, "do_POST", answer_then_close)
    results = [env.invoke(i, timeout=10) for i in range(3)]
    assert [r.payload["calls"] for r in results] == [1, 2, 3]  # one process, reconnecting each time
    assert env.api.wait_polls(4, timeout=10) is not None
    # The first invoke's GET and POST share a connection; its next GET finds it closed and is asked
    # again on a new one. From then on the runtime uses a new connection per request: 2 per invoke.
    assert len(_connections(env.api)) == 6, env.api.requests


def test_context_fields(start, function):
    env = start(function, "handler.context_fields")
    deadline = int((time.time() + 60) * 1000)
    result = env.invoke(
        {},
        deadline_ms=deadline,
        tenant_id="tenant-7",
        client_context={"custom": {"k": "v"}, "env": {"e": "1"}, "client": {"app_title": "app"}},
        cognito_identity={"cognitoIdentityId": "id-1", "cognitoIdentityPoolId": "pool-1"},
        timeout=10,
    )
    fields = result.payload
    assert fields["aws_request_id"] == result.request_id
    assert fields["function_name"] == "function" and fields["function_version"] == "$LATEST"
    assert fields["invoked_function_arn"] == env.api.function_arn
    assert fields["memory_limit_in_mb"] == "128"  # a string, as the official client gives it
    assert fields["log_group_name"] == "/aws/lambda/function"
    assert fields["tenant_id"] == "tenant-7"
    assert fields["identity"] == ["id-1", "pool-1"]
    assert fields["client_context"] == {"custom": {"k": "v"}, "env": {"e": "1"}, "client": "app"}
    assert 50000 < fields["remaining"] <= 60000

    bare = env.invoke({}, timeout=10).payload
    assert bare["tenant_id"] is None and bare["client_context"] is None and bare["identity"] == [None, None]


def test_missing_runtime_api_is_a_clear_error(start, function):
    env = start(function, ready=False, env={"AWS_LAMBDA_RUNTIME_API": ""})
    assert env.process.wait(10) == 2
    env.join_readers()
    assert "AWS_LAMBDA_RUNTIME_API must be set" in env.output()
    assert "could not report" not in env.output()  # the supervisor had nothing to report


def test_every_request_id_answered_exactly_once_across_failures(start, function):
    env = start(function, "handler.boom")
    results = [env.invoke(i, timeout=10) for i in range(5)]
    results.append(env.invoke(b"not json", timeout=10))
    for result in results:
        _exactly_one_answer(env, result)
    assert [r.status for r in env.api.requests if r.method == "POST"] == [202] * 6


@pytest.mark.parametrize(
    "source,env,compact",
    [
        ("import orjson\n", {}, True),  # the function loaded it: used at no extra cost
        ("", {"SHIM_JSON": "orjson"}, True),  # asked for
        ("import orjson\n", {"SHIM_JSON": "json"}, False),  # refused
        ("", {}, False),  # default: the stdlib, nothing extra imported
    ],
)
def test_orjson_encoder_choice(start, make_function, source, env, compact):
    pytest.importorskip("orjson")
    function = make_function(
        {
            "handler.py": source + "import decimal\ndef Handle(e, c):\n"
            "    return {'d': decimal.Decimal('1.10'), 'l': [1, 2]}\n"
        }
    )
    body = start(function, env=env, runtime_packages=("orjson",)).invoke({}, timeout=10).body
    assert body == (b'{"d":1.10,"l":[1,2]}' if compact else b'{"d": 1.10, "l": [1, 2]}')


def test_the_documented_command_line(tmp_path):
    """SHIM_PYTHON=.venv/bin/python AWS_LAMBDA_RUNTIME_API=... _HANDLER=handler.Handle LAMBDA_TASK_ROOT=handlers shim/runtime/bootstrap"""
    import subprocess
    import sys

    from shim.local.emulator import RuntimeAPIServer
    from shim.local.environment import SHIM_PARENT

    with RuntimeAPIServer() as api:
        env = {
            "PATH": os.environ["PATH"],
            "SHIM_PYTHON": sys.executable,
            "AWS_LAMBDA_RUNTIME_API": api.address,
            "_HANDLER": "handler.Handle",
            "LAMBDA_TASK_ROOT": "shim/local/templates/handlers",
        }
        process = subprocess.Popen(
            ["shim/runtime/bootstrap"], cwd=SHIM_PARENT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            first = api.invoke({"name": "CLI"}, timeout=15)
            second = api.invoke({}, timeout=15)
        finally:
            process.terminate()
            process.wait(10)
    assert first.payload["message"] == "Hello, CLI!" and first.payload["calls"] == 1
    assert second.payload["calls"] == 2
