"""Error payloads: what Lambda receives on /error and /init/error.

The body has the four keys of the official client, in its order:
errorMessage, errorType, requestId, stackTrace. stackTrace is a list of
traceback.format_list entries with the runtime's own leading frames removed.
Building a payload never raises: it runs after arbitrary user failures
(a broken __str__, MemoryError), and a request must still get its answer.
"""

import os

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (the cold start)
if TYPE_CHECKING:
    from traceback import StackSummary
    from types import TracebackType
    from typing import TypedDict

    class ErrorPayload(TypedDict):
        """The body of a post to /error or /init/error, and of the log record that says it."""

        errorMessage: str
        errorType: str
        requestId: str
        stackTrace: list[str]

    class XRayFrame(TypedDict):
        """One frame of the X-Ray error cause."""

        label: str
        path: str
        line: int | None


_SHIM_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
_IMPORTLIB = os.sep + "importlib" + os.sep + "__init__.py"
_ASYNCIO = os.sep + "asyncio" + os.sep
_PLUGIN_GLUE = _SHIM_DIR + "plugins.py"  # the plugin chain's frames between a plugin's wrapper and the handler
_XRAY_CAUSE_LIMIT = 64 * 1024  # the API takes up to 1 MiB of headers; stay far below


class Fault(Exception):
    """A failure the runtime itself detects, reported with a Runtime.* type."""

    def __init__(self, error_type: "str", message: "str", stack_trace: "list[str] | None" = None) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.stack_trace = stack_trace or []


# The official client's names (awslambdaric FaultException), plus our own for panics.
MALFORMED_HANDLER_NAME = "Runtime.MalformedHandlerName"
IMPORT_MODULE_ERROR = "Runtime.ImportModuleError"
HANDLER_NOT_FOUND = "Runtime.HandlerNotFound"
USER_CODE_SYNTAX_ERROR = "Runtime.UserCodeSyntaxError"
BUILT_IN_MODULE_CONFLICT = "Runtime.BuiltInModuleConflict"
UNMARSHAL_ERROR = "Runtime.UnmarshalError"
MARSHAL_ERROR = "Runtime.MarshalError"
CONTEXT_UNMARSHAL_ERROR = "Runtime.LambdaContextUnmarshalError"
RESPONSE_TOO_LARGE = "Runtime.ResponseSizeTooLarge"
# SnapStart (the official client's names): a failed before-snapshot hook or /restore/next is an
# init error of this type (exit status 64); a failed after-restore hook goes to /restore/error (65).
BEFORE_SNAPSHOT_ERROR = "Runtime.BeforeSnapshotError"
AFTER_RESTORE_ERROR = "Runtime.AfterRestoreError"
# A setting the runtime cannot work with (e.g. AWS_LAMBDA_MAX_CONCURRENCY=abc): an init error.
INVALID_CONFIGURATION = "Runtime.InvalidConfiguration"
# Ours: a runtime plugin (shim.runtime.plugins) failed to import, in its init or wrap hook, or in its wrapper.
PLUGIN_ERROR = "Runtime.PluginError"
# Said from outside the runtime process: by the supervising bootstrap (shim.runtime.crash) when the
# runtime died, and, locally, by the tools standing in for Lambda (as Lambda says them).
EXIT_ERROR = "Runtime.ExitError"
INVALID_ENTRYPOINT = "Runtime.InvalidEntrypoint"
UNKNOWN = "Runtime.Unknown"
TIMED_OUT = "Sandbox.Timedout"


def user_frames(tb: "TracebackType | None") -> "StackSummary":
    """The traceback's frames without the leading ones from this package or importlib,
    and without the plugin chain's glue wherever it is."""
    import traceback  # ~3 ms: paid by the first error, not by every cold start

    frames = traceback.extract_tb(tb)
    start = 0
    while start < len(frames) and is_runtime_frame(frames[start].filename):
        start += 1
    return traceback.StackSummary.from_list([f for f in frames[start:] if f.filename != _PLUGIN_GLUE])


def format_chain(exc: "BaseException") -> "str":
    """The exception and its causes as a traceback would print them, each with user_frames only: the
    runtime's own frames (and an exception chained to it by `raise ... from None`) are not the user's story."""
    import traceback

    parts: "list[str]" = []
    seen: "set[int]" = set()

    def add(exc: "BaseException") -> None:
        seen.add(id(exc))
        if exc.__cause__ is not None and id(exc.__cause__) not in seen:
            add(exc.__cause__)
            parts.append("\nThe above exception was the direct cause of the following exception:\n\n")
        elif exc.__context__ is not None and not exc.__suppress_context__ and id(exc.__context__) not in seen:
            add(exc.__context__)
            parts.append("\nDuring handling of the above exception, another exception occurred:\n\n")
        frames = user_frames(exc.__traceback__)
        if frames:
            parts.append("Traceback (most recent call last):\n")
            parts.extend(frames.format())
        parts.extend(traceback.format_exception_only(type(exc), exc))

    add(exc)
    return "".join(parts)


def is_runtime_frame(filename: "str") -> "bool":
    # Ours, the import machinery between the loader and the user's module, and the event
    # loop between shim.runtime.aio and an async handler.
    return (
        filename.startswith(_SHIM_DIR)
        or filename.startswith("<frozen importlib")
        or filename.endswith(_IMPORTLIB)
        or _ASYNCIO in filename
    )


def safe_str(value: "object") -> "str":
    try:
        return str(value)
    except BaseException:  # noqa: BLE001 - a user __str__ may raise anything
        return "<unprintable %s object>" % type(value).__name__


def describe(exc: "BaseException", culprit: "str" = "Handler") -> "tuple[str, str]":
    """(errorType, errorMessage) for any exception, including panics."""
    kind = type(exc).__name__
    message = safe_str(exc)
    if isinstance(exc, SystemExit):
        message = "%s called sys.exit(%s)" % (culprit, "" if exc.code is None else repr(exc.code))
    elif isinstance(exc, KeyboardInterrupt):
        message = "%s was interrupted (KeyboardInterrupt)" % culprit
    return kind, message


def payload(
    error_type: "str | None", message: "str | None", stack_trace: "list[str] | None", request_id: "str | None" = ""
) -> "ErrorPayload":
    return {
        "errorMessage": message or "",
        "errorType": error_type or "",
        "requestId": request_id or "",
        "stackTrace": stack_trace or [],
    }


def from_exception(
    exc: "BaseException", request_id: "str | None" = "", culprit: "str" = "Handler"
) -> "tuple[ErrorPayload, str | None]":
    """The payload and the X-Ray cause for an exception raised by user code (culprit: who, in a
    message about sys.exit or KeyboardInterrupt)."""
    try:
        if isinstance(exc, Fault):
            return payload(exc.error_type, exc.message, exc.stack_trace, request_id), None
        error_type, message = describe(exc, culprit)
        frames = user_frames(exc.__traceback__)
        body = payload(error_type, message, frames.format(), request_id)
        return body, xray_cause(error_type, message, frames)
    except BaseException:  # noqa: BLE001 - e.g. MemoryError while formatting
        return payload(type(exc).__name__, "(the error could not be formatted)", [], request_id), None


def xray_cause(error_type: "str", message: "str", frames: "StackSummary") -> "str":
    """Lambda-Runtime-Function-XRay-Error-Cause, trimmed to stay well under the header limit."""
    import json  # the error path's, not the cold start's: marshal may be using orjson

    stack: "list[XRayFrame]" = [{"label": f.name, "path": f.filename, "line": f.lineno} for f in frames]
    message = message[:4096]
    while True:
        cause = {
            "working_directory": os.getcwd(),
            "exceptions": [{"message": message, "type": error_type, "stack": stack}],
            "paths": sorted({frame["path"] for frame in stack}),
        }
        text = json.dumps(cause)
        if len(text) <= _XRAY_CAUSE_LIMIT or not stack:
            return text
        stack = stack[len(stack) // 2 :]  # keep the innermost frames: that is where it failed


def encode(body: "ErrorPayload") -> "bytes":
    import json  # the error path's, not the cold start's: marshal may be using orjson

    return json.dumps(body).encode("utf-8")
