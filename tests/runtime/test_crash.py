"""A runtime that dies still answers: the bootstrap supervises it and reports through shim.runtime.crash."""

import json
import os
import signal

import pytest

HANDLERS = """
import ctypes, os, signal

def exit_hard(event, context):
    os._exit(7)

def segfault(event, context):
    ctypes.string_at(0)

def kill_self(event, context):
    os.kill(os.getpid(), signal.SIGKILL)

def fine(event, context):
    return "fine"
"""


@pytest.fixture
def function(make_function):
    return make_function(
        {
            "handler.py": HANDLERS,
            "dies_at_init.py": "import os\nos._exit(3)\n",
            "crashes_at_init.py": "import ctypes\nctypes.string_at(0)\n",
        }
    )


def _crash_files(env):
    """The supervisor's files for this environment (named after the bootstrap's pid: other runtimes
    on the machine, other test runs among them, have their own)."""
    tmp = env.tmpdir or os.environ.get("TMPDIR", "/tmp")  # the local tools give each environment its own
    return sorted(name for name in os.listdir(tmp) if name.startswith("lambda-shim-%d." % env.process.pid))


@pytest.mark.parametrize(
    "handler,status,reason,has_stack",
    [
        ("exit_hard", 7, "exit status 7", False),
        ("segfault", 128 + signal.SIGSEGV, "signal: SIGSEGV", True),
        ("kill_self", 128 + signal.SIGKILL, "signal: SIGKILL", False),
    ],
)
def test_death_mid_invoke_is_answered_once(start, function, handler, status, reason, has_stack):
    env = start(function, "handler." + handler)
    assert _crash_files(env) == ["lambda-shim-%d.fault" % env.process.pid, "lambda-shim-%d.inflight" % env.process.pid]
    result = env.invoke({}, timeout=20)
    assert result.kind == "error", (result, env.output())
    assert result.error_type == "Runtime.ExitError"
    body = result.payload
    assert body["errorMessage"] == "Runtime exited with %s during the invoke" % reason
    assert body["requestId"] == result.request_id
    assert env.process.wait(10) == status
    assert len(env.api.answers(result.request_id, accepted_only=True)) == 1
    if has_stack:  # faulthandler's Python stack, down to the handler's line
        trace = "".join(body["stackTrace"])
        assert "Segmentation fault" in trace and 'handler.py", line 8 in segfault' in trace
    env.join_readers()
    assert "Runtime.ExitError" in env.output("stdout")  # logged through the pipeline too
    assert _crash_files(env) == []  # the supervisor cleaned up its files


@pytest.mark.parametrize(
    "env",
    [{}, {"AWS_LAMBDA_LOG_FORMAT": "JSON"}, {"AWS_LAMBDA_MAX_CONCURRENCY": "2"}],
    ids=["text", "json", "managed instances"],
)
def test_the_crash_line_carries_the_request_id(start, function, env):
    # Every log line about a request carries its id: the supervisor's too, said from outside the invoke.
    environment = start(function, "handler.exit_hard", env=env)
    result = environment.invoke({}, timeout=20)
    assert result.error_type == "Runtime.ExitError"
    if "AWS_LAMBDA_MAX_CONCURRENCY" not in env:
        environment.process.wait(10)
    environment.join_readers(2) if environment.returncode is not None else environment.drain()
    lines = [line for line in environment.output("stdout").split("\n") if "Runtime exited with" in line]
    assert len(lines) == 1, environment.output()
    if env:
        assert json.loads(lines[0])["requestId"] == result.request_id
    else:
        assert lines[0].split("\t")[2] == result.request_id


@pytest.mark.parametrize(
    "handler,reason", [("dies_at_init.Handle", "exit status 3"), ("crashes_at_init.Handle", "signal: SIGSEGV")]
)
def test_death_during_init_is_an_init_error(start, function, handler, reason):
    env = start(function, handler, ready=False)
    env.process.wait(20)
    posts = [r for r in env.api.requests if r.path.endswith("/init/error")]
    assert len(posts) == 1
    assert posts[0].headers["lambda-runtime-function-error-type"] == "Runtime.ExitError"
    assert json.loads(posts[0].body)["errorMessage"] == "Runtime exited with %s during init" % reason


def test_clean_exits_are_not_reported_as_crashes(start, function, make_function):
    env = start(make_function({"handler.py": "x = 1\n"}, root=function.parent / "other"), ready=False)
    assert env.process.wait(10) == 1
    # Only the runtime's own init error: the supervisor saw nothing in flight.
    assert [r.path for r in env.api.requests] == ["/2018-06-01/runtime/init/error"]
    served = start(function, "handler.fine")
    assert served.invoke({}, timeout=10).payload == "fine"
    served.process.send_signal(signal.SIGTERM)
    assert served.process.wait(10) == 0  # a graceful stop
    assert not [r for r in served.api.requests if r.path.endswith("/error")]


def test_the_reporter_without_a_record_base_removes_nothing(tmp_path, monkeypatch):
    # _SHIM_CRASH_FILE set but empty names no record: the reporter used to remove ./.inflight and ./.fault.
    from shim.runtime import crash

    (tmp_path / ".inflight").write_text("kept")
    (tmp_path / ".fault").write_text("kept")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(crash.ENV, "")
    assert crash.main(["3"]) == 3
    assert sorted(os.listdir(tmp_path)) == [".fault", ".inflight"]
