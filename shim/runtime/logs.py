"""The log pipeline: every record becomes one CloudWatch event, in Lambda's Text or JSON format.

Records pass through a chain of processors with structlog's signature,
`(logger, method_name, event_dict) -> event_dict`, ending in a renderer:

    merge_request_context -> add_timestamp -> add_location -> add_error_fields -> render_json | render_text

The same chain serves three sources: structlog (configured with it as soon as
anything imports structlog, see shim.runtime.logbridge), the stdlib `logging` module
(a root handler, installed when anything imports logging), and the runtime's
own diagnostics. `import structlog` costs ~80 ms and `import logging` ~8 ms,
more than our whole cold start budget, so neither is imported unless used.

Request keys live in context variables named the way structlog.contextvars
names them ("structlog_<key>"), so structlog's merge_contextvars and ours see
the same bound keys, and bind_contextvars() from user code shows up in every
record of the invoke. All of them are cleared when the invoke ends. In the usual
one-invoke-at-a-time loop they are bound only once structlog is loaded (nothing
else reads them; our records read `current`, below).

A thread the handler starts has no context variables of its own (threads do not
inherit them), so the invoke is also kept process-wide in `current`, which records
fall back on, as the official client's global request id: one invoke runs
at a time per runtime process, so the process-wide request is the right one.
"""

import contextvars
import os
import sys
import time

from shim.runtime import jsonc
from shim.runtime.errors import safe_str
from shim.runtime.linestream import LineStream

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (the cold start)
if TYPE_CHECKING:
    from types import FrameType
    from typing import Any, Callable, Literal, Mapping, MutableMapping, Protocol, TextIO

    from shim.runtime.client import Invocation
    from shim.runtime.errors import ErrorPayload

    # A record on its way through the chain: structlog's EventDict (whatever the code logging it bound).
    EventDict = MutableMapping[str, Any]
    Processor = Callable[[object, str, EventDict], EventDict]
    Renderer = Callable[[object, str, EventDict], str]

    class Sink(Protocol):
        def write(self, text: str, levelno: int) -> None: ...


# Lambda's advanced logging controls; TRACE has no stdlib level and maps to DEBUG.
LEVELS = {"TRACE": 10, "DEBUG": 10, "INFO": 20, "WARN": 30, "WARNING": 30, "ERROR": 40, "FATAL": 50, "CRITICAL": 50}
LEVEL_NAMES = {0: "NOTSET", 10: "DEBUG", 20: "INFO", 30: "WARNING", 40: "ERROR", 50: "CRITICAL"}
METHOD_LEVELS = {
    "debug": 10,
    "info": 20,
    "msg": 20,
    "warning": 30,
    "warn": 30,
    "error": 40,
    "exception": 40,
    "critical": 50,
    "fatal": 50,
}

# Frame types of Lambda's telemetry log protocol (values from awslambdaric's log utils).
_TEXT_FRAMES = {0: 0xA55A0003, 10: 0xA55A000B, 20: 0xA55A000F, 30: 0xA55A0013, 40: 0xA55A0017, 50: 0xA55A001B}
_JSON_FRAMES = {0: 0xA55A0002, 10: 0xA55A000A, 20: 0xA55A000E, 30: 0xA55A0012, 40: 0xA55A0016, 50: 0xA55A001A}

CONTEXT_PREFIX = "structlog_"  # structlog.contextvars.STRUCTLOG_KEY_PREFIX
REQUEST_KEYS = ("requestId", "tenantId", "xrayTraceId")
request_vars: "dict[str, contextvars.ContextVar[object]]" = {
    key: contextvars.ContextVar(CONTEXT_PREFIX + key, default=Ellipsis) for key in REQUEST_KEYS
}
current: "Invocation | None" = None  # the Invocation in progress, for records from threads without request keys
_FIRST_KEYS = ("timestamp", "level", "message", "logger") + REQUEST_KEYS


class Config:
    """Read once at start-up: AWS_LAMBDA_LOG_FORMAT, AWS_LAMBDA_LOG_LEVEL, _LAMBDA_TELEMETRY_LOG_FD."""

    def __init__(self, environ: "Mapping[str, str]") -> None:
        # Managed Instances (AWS_LAMBDA_MAX_CONCURRENCY) support only the JSON format.
        self.json = (
            environ.get("AWS_LAMBDA_LOG_FORMAT") or ""
        ).upper() == "JSON" or "AWS_LAMBDA_MAX_CONCURRENCY" in environ
        name = (environ.get("AWS_LAMBDA_LOG_LEVEL") or "").upper()
        self.level_name = name
        # Unset: like the managed runtime, leave stdlib's own default (WARNING on the root logger).
        self.level = LEVELS.get(name)
        self.telemetry_fd = environ.get("_LAMBDA_TELEMETRY_LOG_FD")


# -- output ----------------------------------------------------------------------------------


class StdoutSink:
    """One line per record, always starting a line of its own (see shim.runtime.linestream).
    Text records fold their newlines to \\r, as the managed runtime does, so a traceback stays
    one CloudWatch event; JSON lines never contain a raw newline."""

    def __init__(self, stream: "TextIO | LineStream") -> None:
        self.stream = stream if isinstance(stream, LineStream) else LineStream(stream)

    def write(self, text: "str", levelno: "int") -> None:
        self.stream.write_record(text.replace("\n", "\r") + "\n")


class FramedSink:
    """Lambda's telemetry descriptor: each record a frame of type, length, µs timestamp, message."""

    def __init__(self, fd: "int", frame_types: "dict[int, int]") -> None:
        self.fd = fd
        self.frame_types = frame_types

    def write(self, text: "str", levelno: "int") -> None:
        data = text.encode("utf-8", "replace")
        head = self.frame_types[min(max(levelno, 0), 50) // 10 * 10].to_bytes(4, "big")
        head += len(data).to_bytes(4, "big") + (time.time_ns() // 1000).to_bytes(8, "big")
        frame = memoryview(head + data)
        while frame:
            frame = frame[os.write(self.fd, frame) :]


# -- processors (structlog's protocol) -------------------------------------------------------


def merge_request_context(logger: "object", method_name: "str", event_dict: "EventDict") -> "EventDict":
    for var, value in contextvars.copy_context().items():
        if value is not Ellipsis and var.name.startswith(CONTEXT_PREFIX):
            event_dict.setdefault(var.name[len(CONTEXT_PREFIX) :], value)
    invocation = current
    if invocation is not None:  # a thread of the handler's: the process-wide request
        event_dict.setdefault("requestId", invocation.request_id)
        if invocation.tenant_id is not None:
            event_dict.setdefault("tenantId", invocation.tenant_id)
        if invocation.trace_id is not None:
            event_dict.setdefault("xrayTraceId", invocation.trace_id)
    return event_dict


def utc_timestamp(seconds: "float") -> "str":
    """ISO-8601 in UTC with milliseconds, as Lambda writes them: 2026-11-22T03:06:26.646Z"""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + ".%03dZ" % (int(seconds * 1000) % 1000)


def add_timestamp(logger: "object", method_name: "str", event_dict: "EventDict") -> "EventDict":
    event_dict["timestamp"] = utc_timestamp(event_dict.pop("_created", None) or time.time())
    return event_dict


def add_location(logger: "object", method_name: "str", event_dict: "EventDict") -> "EventDict":
    """file:function:line of the call that logged (stdlib records carry it; structlog calls are found)."""
    if "location" not in event_dict:
        frame: "FrameType | None" = sys._getframe(1)
        while frame is not None and _is_logging_frame(frame.f_globals.get("__name__") or ""):
            frame = frame.f_back
        if frame is not None:
            event_dict["location"] = "%s:%s:%d" % (frame.f_code.co_filename, frame.f_code.co_name, frame.f_lineno)
            event_dict.setdefault("logger", frame.f_globals.get("__name__"))
    return event_dict


def _is_logging_frame(module: "str") -> "bool":
    # By module name, not path: a user's directory may well be called "structlog-demo".
    return module.partition(".")[0] in ("structlog", "logging", "shim")


def add_error_fields(logger: "object", method_name: "str", event_dict: "EventDict") -> "EventDict":
    """exc_info -> errorType, errorMessage, stackTrace (a list, as the official JSON format has it)."""
    exc_info = event_dict.pop("exc_info", None)
    if exc_info is None and method_name == "exception":
        exc_info = True
    if not exc_info:
        return event_dict
    if isinstance(exc_info, BaseException):
        exc_info = (type(exc_info), exc_info, exc_info.__traceback__)
    elif not isinstance(exc_info, tuple):
        exc_info = sys.exc_info()
    if exc_info[0] is None:
        return event_dict
    import traceback  # only when an exception is logged

    event_dict["errorType"] = exc_info[0].__name__
    event_dict["errorMessage"] = safe_str(exc_info[1])
    event_dict["stackTrace"] = traceback.format_tb(exc_info[2])
    # Chained causes are part of the story; the Text renderer shows the whole traceback.
    event_dict["_traceback"] = "".join(traceback.format_exception(*exc_info))
    return event_dict


def _message(event_dict: "EventDict") -> "Any":
    message = event_dict.pop("event", None)
    if message is None:
        message = event_dict.pop("message", "")
    return message


def render_json(logger: "object", method_name: "str", event_dict: "EventDict") -> "str":
    event_dict.pop("_traceback", None)
    event_dict["message"] = _message(event_dict)
    ordered = {key: event_dict.pop(key) for key in _FIRST_KEYS if key in event_dict}
    ordered.update(event_dict)
    return jsonc.dumps({k: v for k, v in ordered.items() if v is not None}, default=safe_str, ensure_ascii=False)


# Keys the Text line shows in its own columns, or leaves to the JSON format.
_TEXT_HIDDEN = frozenset(
    ("timestamp", "level", "logger", "location", "errorType", "errorMessage", "stackTrace") + REQUEST_KEYS
)


def render_text(logger: "object", method_name: "str", event_dict: "EventDict") -> "str":
    """[LEVEL]\t<timestamp>\t<requestId>\t<message> key=value ... [traceback]"""
    message = _message(event_dict)
    if isinstance(message, dict):
        message = jsonc.dumps(message, default=safe_str, ensure_ascii=False)
    traceback_text = event_dict.pop("_traceback", None)
    extras = " ".join("%s=%s" % (k, v) for k, v in event_dict.items() if k not in _TEXT_HIDDEN)
    text = " ".join(part for part in (safe_str(message), extras) if part)
    if traceback_text:
        text += "\n" + traceback_text.rstrip("\n")
    return "[%s]\t%s\t%s\t%s" % (event_dict["level"], event_dict["timestamp"], event_dict.get("requestId") or "", text)


# -- the pipeline ----------------------------------------------------------------------------


class Pipeline:
    def __init__(self, config: "Config", sink: "Sink") -> None:
        self.config = config
        self.sink = sink
        self.renderer: "Renderer" = render_json if config.json else render_text
        self.steps: "tuple[Processor, ...]" = (merge_request_context, add_timestamp, add_location, add_error_fields)
        self.processors = self.steps + (self.renderer,)  # the whole chain, as structlog takes it (logbridge)

    def enabled(self, levelno: "int") -> "bool":
        return self.config.level is None or levelno >= self.config.level

    def render(self, event_dict: "EventDict", levelno: "int", method_name: "str" = "msg") -> "str":
        """The record as the text to write: the chain of processors, ending in the renderer."""
        event_dict.setdefault("level", LEVEL_NAMES.get(min(max(levelno, 0), 50) // 10 * 10, "INFO"))
        for processor in self.steps:
            event_dict = processor(None, method_name, event_dict)
        return self.renderer(None, method_name, event_dict)

    def emit(self, event_dict: "EventDict", levelno: "int", method_name: "str" = "msg") -> None:
        """Render and write one record. Filtering is the caller's job (see enabled)."""
        self.sink.write(self.render(event_dict, levelno, method_name), levelno)


pipeline: "Pipeline" = None  # type: ignore[assignment]  # set by setup() at start-up, before anything logs


def warm_up() -> None:
    """At the end of init: run one record through the chain, unwritten, so that the first
    log line of the first invoke does not pay for first-time work (measured ~0.07 ms)."""
    pipeline.render({"event": "warm-up", "logger": "lambda-shim", "key": 1}, 20, "info")


def setup(environ: "MutableMapping[str, str]" = os.environ) -> "Pipeline":
    """Configure once, at start-up. The runtime then hands the pipeline to logbridge, which wires
    the stdlib and structlog into it lazily (logbridge imports this module, not the other way)."""
    global pipeline, streams
    config = Config(environ)
    # print() passes through untouched, but line-buffered: a pipe would otherwise hold it until exit.
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(line_buffering=True)
    streams = tuple(_line_stream(name) for name in ("stdout", "stderr") if getattr(sys, name) is not None)
    streams += (_NEVER_OPEN,) * (2 - len(streams))
    sink: "Sink"
    if config.telemetry_fd is not None:
        environ.pop("_LAMBDA_TELEMETRY_LOG_FD", None)  # as the managed runtime does: children must not inherit it
        sink = FramedSink(int(config.telemetry_fd), _JSON_FRAMES if config.json else _TEXT_FRAMES)
    elif isinstance(streams[0], LineStream):
        sink = StdoutSink(streams[0])
    else:  # neither sys.stdout nor sys.stderr (both None): records go nowhere, as print()'s output then does
        sink = StdoutSink(open(os.devnull, "w"))
    pipeline = Pipeline(config, sink)
    return pipeline


class _NeverOpen:
    open: "Literal[False]" = False


_NEVER_OPEN = _NeverOpen()
# sys.stdout and sys.stderr as LineStreams, set by setup()
streams: "tuple[LineStream | _NeverOpen, ...]" = (_NEVER_OPEN, _NEVER_OPEN)


def _line_stream(name: "str") -> "LineStream":
    stream = getattr(sys, name)
    if not isinstance(stream, LineStream):
        stream = LineStream(stream)
        setattr(sys, name, stream)
    return stream


# -- what the runtime calls ------------------------------------------------------------------


def start_invoke(invocation: "Invocation", process_wide: "bool" = True) -> None:
    """Bind the invoke's request keys. process_wide=False where several invokes run at once in one
    process (SHIM_ASYNC_CONCURRENCY): no request is then the process's, and threads get none."""
    global current
    current = invocation if process_wide else None
    if process_wide and "structlog" not in sys.modules:
        # Our records read `current`, and nothing else reads the context variables: three sets
        # now and three resets at the end were ~5% of a small invoke. logbridge binds them when
        # structlog comes in, for its merge_contextvars and get_contextvars.
        return
    _bind(invocation)


def bind_current() -> None:
    """Bind the process-wide invoke's keys as context variables (structlog arrived mid-invoke)."""
    if current is not None:
        _bind(current)


def _bind(invocation: "Invocation") -> None:
    request_vars["requestId"].set(invocation.request_id)
    request_vars["tenantId"].set(invocation.tenant_id if invocation.tenant_id is not None else Ellipsis)
    request_vars["xrayTraceId"].set(invocation.trace_id if invocation.trace_id is not None else Ellipsis)


def finish_output() -> None:
    """Before the answer leaves: a line the invoke left without its newline is ended and written
    now, so it belongs to this invoke. The loop calls it only when one is open (see `streams`)."""
    for stream in streams:
        if stream.open:
            stream.end_line()


def end_invoke() -> None:
    """Clear every bound key, ours and the user's, so nothing leaks into the next invoke."""
    global current
    current = None
    if "structlog" not in sys.modules:
        return  # nothing was bound: not by us (see start_invoke), nor by anyone else
    for var in request_vars.values():
        var.set(Ellipsis)
    for var, value in contextvars.copy_context().items():
        if value is not Ellipsis and var.name.startswith(CONTEXT_PREFIX):
            var.set(Ellipsis)


def uncaught(error: "ErrorPayload", exception: "BaseException | None" = None) -> None:
    """An error that ends an invoke or init: logged once at ERROR, whatever the configured level."""
    event: "EventDict" = {
        "event": "%s: %s" % (error["errorType"], error["errorMessage"]),
        "logger": "lambda-shim",
        "errorType": error["errorType"],
        "errorMessage": error["errorMessage"],
        "stackTrace": error["stackTrace"],
        "location": _location_of(error),
    }
    if error.get("requestId"):  # said for a request from outside its invoke (shim.runtime.crash): its id
        event["requestId"] = error["requestId"]
    if error["stackTrace"]:
        event["_traceback"] = "Traceback (most recent call last):\n" + "".join(error["stackTrace"])
    if exception is not None and (
        exception.__cause__ is not None or (exception.__context__ is not None and not exception.__suppress_context__)
    ):
        from shim.runtime.errors import format_chain  # the whole chain, which the error payload leaves out

        event["_traceback"] = format_chain(exception)
    pipeline.emit(event, 40, "error")


def _location_of(error: "ErrorPayload") -> "str | None":
    # The innermost user frame: '  File "/var/task/h.py", line 3, in Handle\n ...'
    for entry in reversed(error["stackTrace"]):
        head = entry.strip().split("\n", 1)[0]
        if head.startswith('File "'):
            path, _, rest = head[6:].partition('", line ')
            line, _, func = rest.partition(", in ")
            return "%s:%s:%s" % (path, func, line)
    return None


def runtime_error(message: "str") -> None:
    pipeline.emit({"event": message, "logger": "lambda-shim", "location": None}, 40, "error")


def runtime_warning(message: "str") -> None:
    pipeline.emit({"event": message, "logger": "lambda-shim", "location": None}, 30, "warning")


def runtime_info(message: "str") -> None:
    if pipeline.enabled(20):
        pipeline.emit({"event": message, "logger": "lambda-shim", "location": None}, 20, "info")
