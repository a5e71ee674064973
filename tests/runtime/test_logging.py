"""The log pipeline, observed from outside: the real bootstrap, real output, exact formats."""

import json
import os
import re
import struct
import threading

import pytest

HANDLER = """
import logging, os, sys
log = logging.getLogger("app")

def Handle(event, context):
    action = event.get("action")
    if action == "levels":
        log.debug("debug line")
        log.info("info line")
        log.warning("warning line")
        log.error("error line")
    elif action == "extra":
        log.warning("with extra %s", "arg", extra={"orderId": 7})
    elif action == "dict":
        log.warning({"structured": True, "n": 1})
    elif action == "multiline":
        log.warning("first\\nsecond\\nthird")
    elif action == "exception":
        try:
            {}["missing"]
        except KeyError:
            log.exception("lookup failed")
    elif action == "print":
        print("plain print, untouched\\twith tab")
    elif action == "raise":
        raise ValueError("handler failed\\non two lines")
    elif action == "env":
        return {"fd": os.environ.get("_LAMBDA_TELEMETRY_LOG_FD")}
    return "done"
"""

STRUCTLOG_HANDLER = """
import structlog
log = structlog.get_logger()

def Handle(event, context):
    if event.get("bind"):
        structlog.contextvars.bind_contextvars(userId=event["bind"])
    log.info("structured", step=event.get("step"))
    if event.get("fail"):
        try:
            1 / 0
        except ZeroDivisionError:
            log.exception("division")
    return structlog.contextvars.get_contextvars()
"""

LAZY_STRUCTLOG_HANDLER = """
import threading
def Handle(event, context):
    import structlog  # first in the first invoke: the request keys are bound from then on
    structlog.get_logger().info("lazy", n=event["n"])
    seen = []
    worker = threading.Thread(target=lambda: seen.append(structlog.contextvars.get_contextvars()))
    worker.start()
    worker.join()
    structlog.get_logger().info("after the thread", thread_saw=sorted(seen[0]))
    return structlog.contextvars.get_contextvars()
"""
BASIC_CONFIG_HANDLER = """
import logging, sys
logging.basicConfig(level=logging.DEBUG, format="USER-FORMAT %(levelname)s %(name)s %(message)s", stream=sys.stdout)
log = logging.getLogger("mine")

def Handle(event, context):
    log.debug("custom format wins")
    return "ok"
"""

TEXT_LINE = re.compile(
    r"^\[(DEBUG|INFO|WARNING|ERROR|CRITICAL)\]\t(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)\t([^\t]*)\t(.*)$"
)


@pytest.fixture
def function(make_function):
    return make_function(
        {
            "handler.py": HANDLER,
            "slog.py": STRUCTLOG_HANDLER,
            "basic.py": BASIC_CONFIG_HANDLER,
            "lazyslog.py": LAZY_STRUCTLOG_HANDLER,
        }
    )


def _run(start, function, event, handler="handler.Handle", **log_env):
    env = start(function, handler, env=log_env)
    mark = env.mark()
    result = env.invoke(event, timeout=10)
    return env, result, _output_since(env, mark)


def _output_since(env, mark):
    env.drain()  # the runtime flushed before answering; make sure the reader has it too
    return env.since(mark, "stdout")


def _lines(text):
    # CloudWatch's unit is the \n-terminated line; \r is how a record folds its own newlines.
    return [line for line in text.split("\n") if line]


def _json_lines(text):
    return [json.loads(line) for line in _lines(text) if line.startswith("{")]


def test_text_format_lines(start, function):
    env, result, out = _run(start, function, {"action": "levels"}, AWS_LAMBDA_LOG_LEVEL="INFO")
    lines = [TEXT_LINE.match(line) for line in _lines(out)]
    assert all(lines), out
    assert [(m.group(1), m.group(4)) for m in lines] == [
        ("INFO", "info line"),
        ("WARNING", "warning line"),
        ("ERROR", "error line"),
    ]
    assert {m.group(3) for m in lines} == {result.request_id}


def test_json_format_keys_and_values(start, function):
    env, result, out = _run(start, function, {"action": "extra"}, AWS_LAMBDA_LOG_FORMAT="JSON")
    [record] = _json_lines(out)
    assert list(record)[:5] == ["timestamp", "level", "message", "logger", "requestId"]
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", record["timestamp"])
    assert record["level"] == "WARNING" and record["message"] == "with extra arg" and record["logger"] == "app"
    assert record["requestId"] == result.request_id
    assert record["xrayTraceId"].startswith("Root=1-")
    assert record["location"].endswith("handler.py:Handle:13")
    assert record["orderId"] == 7
    assert "errorType" not in record


def test_json_tenant_id_when_present(start, function):
    env = start(function, env={"AWS_LAMBDA_LOG_FORMAT": "JSON"})
    mark = env.mark()
    env.invoke({"action": "extra"}, tenant_id="tenant-9", timeout=10)
    assert _json_lines(_output_since(env, mark))[0]["tenantId"] == "tenant-9"


def test_dict_message_stays_an_object(start, function):
    env, result, out = _run(start, function, {"action": "dict"}, AWS_LAMBDA_LOG_FORMAT="JSON")
    assert _json_lines(out)[0]["message"] == {"structured": True, "n": 1}


@pytest.mark.parametrize(
    "level,expected",
    [
        (None, ["WARNING", "ERROR"]),  # unset: the stdlib root default, as on the managed runtime
        ("TRACE", ["DEBUG", "INFO", "WARNING", "ERROR"]),
        ("DEBUG", ["DEBUG", "INFO", "WARNING", "ERROR"]),
        ("WARN", ["WARNING", "ERROR"]),
        ("ERROR", ["ERROR"]),
        ("FATAL", []),
    ],
)
def test_level_filtering(start, function, level, expected):
    options = {"AWS_LAMBDA_LOG_FORMAT": "JSON"}
    if level:
        options["AWS_LAMBDA_LOG_LEVEL"] = level
    env, result, out = _run(start, function, {"action": "levels"}, **options)
    assert [r["level"] for r in _json_lines(out)] == expected


@pytest.mark.parametrize("log_format", ["Text", "JSON"])
def test_uncaught_errors_are_logged_once_even_at_fatal(start, function, log_format):
    env, result, out = _run(
        start, function, {"action": "raise"}, AWS_LAMBDA_LOG_FORMAT=log_format, AWS_LAMBDA_LOG_LEVEL="FATAL"
    )
    assert result.kind == "error"
    lines = _lines(out)
    assert len(lines) == 1, out
    if log_format == "JSON":
        record = json.loads(lines[0])
        assert record["level"] == "ERROR" and record["errorType"] == "ValueError"
        assert record["errorMessage"] == "handler failed\non two lines"
        assert record["stackTrace"] and "raise ValueError" in record["stackTrace"][-1]
        assert record["requestId"] == result.request_id
    else:
        match = TEXT_LINE.match(lines[0])
        assert match.group(1) == "ERROR" and match.group(3) == result.request_id
        assert match.group(4).startswith(
            "ValueError: handler failed\ron two lines\rTraceback (most recent call last):\r"
        )


def test_exception_is_one_json_line(start, function):
    env, result, out = _run(start, function, {"action": "exception"}, AWS_LAMBDA_LOG_FORMAT="JSON")
    [record] = _json_lines(out)
    assert len(_lines(out)) == 1
    assert record["message"] == "lookup failed" and record["errorType"] == "KeyError"
    assert record["errorMessage"] == "'missing'" and isinstance(record["stackTrace"], list)
    assert "in Handle" in record["stackTrace"][0]


def test_exception_and_multiline_are_one_text_line(start, function):
    env, result, out = _run(start, function, {"action": "exception"})
    [line] = _lines(out)
    message = TEXT_LINE.match(line).group(4)
    assert message.startswith("lookup failed\rTraceback (most recent call last):\r")
    assert message.endswith("KeyError: 'missing'")
    env2, result2, out2 = _run(start, function, {"action": "multiline"})
    [line2] = _lines(out2)
    assert TEXT_LINE.match(line2).group(4) == "first\rsecond\rthird"


def test_print_passes_through_untouched(start, function):
    env, result, out = _run(start, function, {"action": "print"}, AWS_LAMBDA_LOG_FORMAT="JSON")
    assert out == "plain print, untouched\twith tab\n"


def test_user_basic_config_takes_effect(start, function):
    env, result, out = _run(start, function, {}, handler="basic.Handle")
    assert _lines(out) == ["USER-FORMAT DEBUG mine custom format wins"]


def test_structlog_is_configured_and_context_does_not_leak(start, function):
    env = start(function, "slog.Handle", env={"AWS_LAMBDA_LOG_FORMAT": "JSON"})
    mark = env.mark()
    first = env.invoke({"bind": "u-1", "step": 1}, timeout=10)
    second = env.invoke({"step": 2}, timeout=10)
    records = _json_lines(_output_since(env, mark))
    assert [(r["message"], r["step"], r["requestId"]) for r in records] == [
        ("structured", 1, first.request_id),
        ("structured", 2, second.request_id),
    ]
    assert records[0]["userId"] == "u-1" and "userId" not in records[1]
    assert records[0]["level"] == "INFO" and records[0]["logger"] == "slog"
    assert records[0]["location"].endswith("slog.py:Handle:8")
    # Inside the invoke, structlog's own view holds our request keys too.
    assert first.payload["requestId"] == first.request_id and first.payload["userId"] == "u-1"
    assert "userId" not in second.payload


def test_structlog_imported_in_an_invoke_sees_the_request_keys(start, function):
    # The runtime binds its request keys as context variables only once structlog is loaded: one
    # imported halfway through the first invoke must see them at once, and in every invoke after.
    env = start(function, "lazyslog.Handle", env={"AWS_LAMBDA_LOG_FORMAT": "JSON"})
    mark = env.mark()
    first = env.invoke({"n": 1}, tenant_id="t-1", timeout=10)
    second = env.invoke({"n": 2}, timeout=10)
    assert first.payload["requestId"] == first.request_id and first.payload["tenantId"] == "t-1"
    assert second.payload["requestId"] == second.request_id and "tenantId" not in second.payload
    records = _json_lines(_output_since(env, mark))
    assert [(r["message"], r["requestId"]) for r in records] == [
        ("lazy", first.request_id),
        ("after the thread", first.request_id),
        ("lazy", second.request_id),
        ("after the thread", second.request_id),
    ]
    assert records[1]["thread_saw"] == []  # a thread has no context variables: its records use the process's


def test_structlog_exception_and_level_filter(start, function):
    env = start(function, "slog.Handle", env={"AWS_LAMBDA_LOG_FORMAT": "JSON", "AWS_LAMBDA_LOG_LEVEL": "ERROR"})
    mark = env.mark()
    env.invoke({"fail": True}, timeout=10)
    [record] = _json_lines(_output_since(env, mark))  # the info line is filtered out
    assert record["message"] == "division" and record["errorType"] == "ZeroDivisionError"


def test_stdlib_context_does_not_leak_between_invokes(start, function):
    env = start(function, env={"AWS_LAMBDA_LOG_FORMAT": "JSON"})
    mark = env.mark()
    env.invoke({"action": "extra"}, tenant_id="t-1", timeout=10)
    env.invoke({"action": "extra"}, trace_id=None, timeout=10)
    first, second = _json_lines(_output_since(env, mark))
    assert first["tenantId"] == "t-1" and "tenantId" not in second and "xrayTraceId" not in second


def test_runtime_diagnostics_use_the_pipeline(start, make_function):
    env = start(make_function({"handler.py": "x = 1\n"}), ready=False, env={"AWS_LAMBDA_LOG_FORMAT": "JSON"})
    env.process.wait(10)
    env.join_readers()
    [record] = _json_lines(env.output("stdout"))
    assert record["errorType"] == "Runtime.HandlerNotFound" and record["level"] == "ERROR"
    assert record["logger"] == "lambda-shim"


def _read_frames(fd, frames, stop):
    data = b""
    while True:
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        data += chunk
        while len(data) >= 16:
            frame_type, length, micros = struct.unpack(">IIQ", data[:16])
            if len(data) < 16 + length:
                break
            frames.append((frame_type, micros, data[16 : 16 + length].decode()))
            data = data[16 + length :]
    stop.set()


@pytest.mark.parametrize(
    "log_format,types",
    [
        ("Text", {"WARNING": 0xA55A0013, "ERROR": 0xA55A0017}),
        ("JSON", {"WARNING": 0xA55A0012, "ERROR": 0xA55A0016}),
    ],
)
def test_telemetry_descriptor_gets_framed_records(start, function, log_format, types):
    read_fd, write_fd = os.pipe()
    frames, done = [], threading.Event()
    reader = threading.Thread(target=_read_frames, args=(read_fd, frames, done), daemon=True)
    reader.start()
    try:
        env = start(
            function,
            pass_fds=[write_fd],
            env={"_LAMBDA_TELEMETRY_LOG_FD": str(write_fd), "AWS_LAMBDA_LOG_FORMAT": log_format},
        )
        os.close(write_fd)
        exception = env.invoke({"action": "exception"}, timeout=10)
        leaked = env.invoke({"action": "env"}, timeout=10)
        env.stop()
        done.wait(10)
    finally:
        os.close(read_fd)
    # The variable is gone from the environment the handler (and its children) see.
    assert leaked.payload == {"fd": None}
    error_frames = [f for f in frames if f[0] == types["ERROR"]]
    assert len(error_frames) == 1, frames
    frame_type, micros, message = error_frames[0]
    assert micros > 1_600_000_000_000_000
    # One frame holds the whole record, newlines included: no folding needed.
    assert "lookup failed" in message and "KeyError" in message
    if log_format == "Text":
        assert "\nTraceback (most recent call last):\n" in message
        assert TEXT_LINE.match(message.split("\n", 1)[0]).group(3) == exception.request_id
    else:
        assert json.loads(message)["errorType"] == "KeyError"
    # Nothing of it went to stdout.
    assert "lookup failed" not in env.output("stdout")
