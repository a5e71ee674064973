"""The log pipeline in-process: each processor on its own, the chain, the configuration, and the per-invoke
keys (the sinks: tests/runtime/test_logs_sinks.py). tests/runtime/test_logging.py watches the same from outside,
through the bootstrap."""

import contextvars
import io
import json
import os
import re
import sys
import time

import pytest

from shim.runtime import logs

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


@pytest.fixture(autouse=True)
def own_context():
    """Every test in a context of its own, so keys bound here never reach another test."""
    ctx = contextvars.copy_context()
    for var in logs.request_vars.values():
        ctx.run(var.set, Ellipsis)
    return ctx


class Capture:
    """A sink that keeps what it is given."""

    def __init__(self):
        self.records = []

    def write(self, text, levelno):
        self.records.append((text, levelno))


class _Invocation:
    def __init__(self, request_id, tenant_id=None, trace_id=None):
        self.request_id, self.tenant_id, self.trace_id = request_id, tenant_id, trace_id


# -- the processors, one by one ---------------------------------------------------------------


def test_merge_request_context_adds_bound_keys_without_overriding(own_context):
    def run():
        logs.start_invoke(_Invocation("req-1", trace_id="Root=1"))
        user = contextvars.ContextVar(logs.CONTEXT_PREFIX + "userId", default=Ellipsis)
        user.set(7)
        contextvars.ContextVar("unrelated").set("x")
        return logs.merge_request_context(None, "info", {"event": "e", "userId": "explicit"})

    merged = own_context.run(run)
    assert merged == {"event": "e", "userId": "explicit", "requestId": "req-1", "xrayTraceId": "Root=1"}
    assert "tenantId" not in merged  # unset keys (Ellipsis) are left out


@pytest.mark.parametrize(
    "seconds,text",
    [
        (0, "1970-01-01T00:00:00.000Z"),
        (1.2345, "1970-01-01T00:00:01.234Z"),
        (1767323045.999, "2026-01-02T03:04:05.999Z"),
    ],
)
def test_utc_timestamp(seconds, text):
    assert logs.utc_timestamp(seconds) == text


def test_add_timestamp_uses_the_records_creation_time_or_now():
    assert logs.add_timestamp(None, "info", {"_created": 1.5}) == {"timestamp": "1970-01-01T00:00:01.500Z"}
    before = time.time()
    stamped = logs.add_timestamp(None, "info", {})["timestamp"]
    assert TIMESTAMP.match(stamped)
    assert logs.utc_timestamp(before - 1) <= stamped <= logs.utc_timestamp(time.time() + 1)


def test_add_location_names_the_caller():
    line = sys._getframe().f_lineno + 1
    located = logs.add_location(None, "info", {})
    assert located == {"location": "%s:test_add_location_names_the_caller:%d" % (__file__, line), "logger": __name__}


def test_add_location_keeps_a_given_location():
    assert logs.add_location(None, "info", {"location": "elsewhere:f:1"}) == {"location": "elsewhere:f:1"}
    assert logs.add_location(None, "info", {"logger": "mine"})["logger"] == "mine"


def test_add_location_skips_logging_frames():
    # A frame whose module is named logging.* (as the stdlib's are) is passed over.
    namespace = {"__name__": "logging.fake", "logs": logs}
    exec("def emit():\n    return logs.add_location(None, 'info', {})\n", namespace)
    line = sys._getframe().f_lineno + 1
    located = namespace["emit"]()
    assert located["location"].endswith(":test_add_location_skips_logging_frames:%d" % line)


def _failing():
    try:
        {}["missing"]
    except KeyError as exc:
        raise ValueError("lookup failed") from exc


def test_add_error_fields_from_the_current_exception():
    try:
        _failing()
    except ValueError:
        fields = logs.add_error_fields(None, "error", {"event": "e", "exc_info": True})
    assert fields["errorType"] == "ValueError" and fields["errorMessage"] == "lookup failed"
    assert isinstance(fields["stackTrace"], list) and "in _failing" in fields["stackTrace"][-1]
    assert "exc_info" not in fields
    # The whole chain, for the Text format.
    assert "KeyError: 'missing'" in fields["_traceback"] and "direct cause" in fields["_traceback"]


def test_add_error_fields_from_an_instance_a_tuple_and_exception_method():
    try:
        _failing()
    except ValueError as caught:
        exc = caught
        implicit = logs.add_error_fields(None, "exception", {})
    as_instance = logs.add_error_fields(None, "error", {"exc_info": exc})
    as_tuple = logs.add_error_fields(None, "error", {"exc_info": (type(exc), exc, exc.__traceback__)})
    for fields in (implicit, as_instance, as_tuple):
        assert (fields["errorType"], fields["errorMessage"]) == ("ValueError", "lookup failed")
        assert fields["stackTrace"] == as_tuple["stackTrace"]


def test_add_error_fields_leaves_records_without_an_exception_alone():
    assert logs.add_error_fields(None, "error", {"event": "e"}) == {"event": "e"}
    assert logs.add_error_fields(None, "error", {"event": "e", "exc_info": False}) == {"event": "e"}
    assert logs.add_error_fields(None, "error", {"event": "e", "exc_info": True}) == {"event": "e"}  # none active
    assert logs.add_error_fields(None, "exception", {"event": "e"}) == {"event": "e"}


def test_render_json_orders_keys_and_drops_nones():
    class Opaque:
        def __str__(self):
            return "opaque!"

    text = logs.render_json(
        None,
        "info",
        {
            "extra": Opaque(),
            "requestId": "r",
            "event": "caf\u00e9",
            "logger": "app",
            "level": "INFO",
            "timestamp": "T",
            "gone": None,
            "_traceback": "tb",
        },
    )
    assert (
        text == '{"timestamp": "T", "level": "INFO", "message": "caf\u00e9", "logger": "app", "requestId": "r", '
        '"extra": "opaque!"}'
    )
    assert "\n" not in logs.render_json(None, "info", {"event": "two\nlines", "level": "INFO"})


def test_render_json_takes_message_when_there_is_no_event():
    assert json.loads(logs.render_json(None, "info", {"message": "m", "level": "INFO"}))["message"] == "m"


def test_render_text_columns_extras_and_traceback():
    line = logs.render_text(
        None,
        "info",
        {
            "event": "order priced",
            "level": "INFO",
            "timestamp": "T",
            "requestId": "r-1",
            "logger": "app",
            "location": "f:g:1",
            "total": 10.0,
            "errorType": "E",
            "_traceback": "Traceback\n  boom\n",
        },
    )
    assert line == "[INFO]\tT\tr-1\torder priced total=10.0\nTraceback\n  boom"
    no_request = logs.render_text(None, "info", {"event": {"k": "\u00e9"}, "level": "WARNING", "timestamp": "T"})
    assert no_request == '[WARNING]\tT\t\t{"k": "\u00e9"}'


# -- the chain --------------------------------------------------------------------------------


def _pipeline(**environ):
    sink = Capture()
    return logs.Pipeline(logs.Config(environ), sink), sink


def test_pipeline_json_runs_every_processor(own_context):
    pipeline, sink = _pipeline(AWS_LAMBDA_LOG_FORMAT="JSON")

    def run():
        logs.start_invoke(_Invocation("req-2", tenant_id="t-1"))
        try:
            raise KeyError("k")
        except KeyError:
            pipeline.emit({"event": "failed", "exc_info": True, "orderId": 7}, 40, "error")

    own_context.run(run)
    ((text, levelno),) = sink.records
    record = json.loads(text)
    assert levelno == 40 and record["level"] == "ERROR" and record["message"] == "failed"
    assert (record["requestId"], record["tenantId"], record["orderId"]) == ("req-2", "t-1", 7)
    assert TIMESTAMP.match(record["timestamp"]) and record["errorType"] == "KeyError"
    assert record["location"].startswith(__file__ + ":run:") and record["logger"] == __name__
    assert list(record)[:4] == ["timestamp", "level", "message", "logger"]


def test_pipeline_text_and_level_names():
    pipeline, sink = _pipeline()
    for levelno in (5, 10, 20, 25, 30, 40, 50, 70):
        pipeline.emit({"event": "at %d" % levelno}, levelno)
    levels = [text.split("\t")[0] for text, _ in sink.records]
    assert levels == ["[NOTSET]", "[DEBUG]", "[INFO]", "[INFO]", "[WARNING]", "[ERROR]", "[CRITICAL]", "[CRITICAL]"]
    assert all(text.endswith("\tat %d" % levelno) for (text, levelno) in sink.records)


def test_pipeline_enabled_follows_the_configured_level():
    assert [logs.Pipeline(logs.Config({}), Capture()).enabled(n) for n in (0, 10, 50)] == [True, True, True]
    warn = logs.Pipeline(logs.Config({"AWS_LAMBDA_LOG_LEVEL": "warn"}), Capture())
    assert [warn.enabled(n) for n in (10, 20, 30, 40)] == [False, False, True, True]


# -- configuration ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value,is_json", [("JSON", True), ("json", True), ("Text", False), ("", False), (None, False), ("xml", False)]
)
def test_config_log_format(value, is_json):
    environ = {} if value is None else {"AWS_LAMBDA_LOG_FORMAT": value}
    config = logs.Config(environ)
    assert config.json is is_json
    assert logs.Pipeline(config, Capture()).renderer is (logs.render_json if is_json else logs.render_text)


@pytest.mark.parametrize(
    "value,level",
    [
        ("TRACE", 10),
        ("debug", 10),
        ("INFO", 20),
        ("WARN", 30),
        ("warning", 30),
        ("ERROR", 40),
        ("FATAL", 50),
        ("critical", 50),
        ("loud", None),
        ("", None),
        (None, None),
    ],
)
def test_config_log_level(value, level):
    environ = {} if value is None else {"AWS_LAMBDA_LOG_LEVEL": value}
    config = logs.Config(environ)
    assert config.level == level and config.level_name == (value or "").upper()


def test_config_telemetry_fd():
    assert logs.Config({"_LAMBDA_TELEMETRY_LOG_FD": "7"}).telemetry_fd == "7"
    assert logs.Config({}).telemetry_fd is None


def test_setup_with_a_telemetry_fd_frames_and_hides_the_fd_from_children(monkeypatch):
    monkeypatch.setattr(logs, "pipeline", None)
    monkeypatch.setattr(sys, "stdout", io.StringIO())  # setup() makes stdout line-buffered; not pytest's
    environ = {"_LAMBDA_TELEMETRY_LOG_FD": "9", "AWS_LAMBDA_LOG_FORMAT": "JSON"}
    pipeline = logs.setup(environ)
    assert logs.pipeline is pipeline and "_LAMBDA_TELEMETRY_LOG_FD" not in environ
    assert isinstance(pipeline.sink, logs.FramedSink) and pipeline.sink.fd == 9
    assert pipeline.sink.frame_types is logs._JSON_FRAMES and pipeline.renderer is logs.render_json
    assert isinstance(logs.setup({}).sink, logs.StdoutSink)


def test_setup_without_stdout_and_stderr_drops_records_as_print_does(monkeypatch):
    # A process started without either (both None): a record goes nowhere, like print()'s output; it used to
    # raise AttributeError in whatever code logged (the sink wrote to the placeholder for a missing stream).
    monkeypatch.setattr(logs, "pipeline", None)
    monkeypatch.setattr(logs, "streams", logs.streams)
    monkeypatch.setattr(sys, "stdout", None)
    monkeypatch.setattr(sys, "stderr", None)
    pipeline = logs.setup({})
    assert logs.streams == (logs._NEVER_OPEN, logs._NEVER_OPEN)
    logs.runtime_error("nowhere to go")
    logs.finish_output()
    assert pipeline.sink.stream._stream.name == os.devnull


# -- keys bound for one invoke ----------------------------------------------------------------


def _bound():
    return logs.merge_request_context(None, "info", {})


def test_start_invoke_binds_and_end_invoke_clears(own_context):
    def run():
        logs.start_invoke(_Invocation("req-1", tenant_id="t", trace_id="Root=1"))
        first = _bound()
        logs.start_invoke(_Invocation("req-2"))  # the next invoke's optional keys do not inherit
        second = _bound()
        logs.end_invoke()
        return first, second, _bound()

    first, second, after = own_context.run(run)
    assert first == {"requestId": "req-1", "tenantId": "t", "xrayTraceId": "Root=1"}
    assert second == {"requestId": "req-2"}
    assert after == {}


def test_end_invoke_clears_keys_bound_with_structlog(own_context):
    structlog = pytest.importorskip("structlog")

    def run():
        logs.start_invoke(_Invocation("req-1"))
        structlog.contextvars.bind_contextvars(userId="u-1", cart=3)
        during = (_bound(), structlog.contextvars.get_contextvars())
        logs.end_invoke()
        return during, (_bound(), structlog.contextvars.get_contextvars())

    (merged, seen_by_structlog), (merged_after, structlog_after) = own_context.run(run)
    assert merged == {"requestId": "req-1", "userId": "u-1", "cart": 3}
    assert seen_by_structlog == merged  # one set of keys, shared with structlog's merge_contextvars
    assert merged_after == {} and structlog_after == {}
