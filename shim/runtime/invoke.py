"""One invoke: an Invocation in, exactly one Answer out, whatever the handler does.

This is the protocol logic of the loop and does no I/O of its own: the caller
posts the Answer. Every BaseException is caught here (sys.exit, KeyboardInterrupt,
signals turned into FatalSignal, MemoryError) so no request id goes unanswered.
"""

import os
import sys

from shim.runtime import errors, marshal
from shim.runtime.context import LambdaContext

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (the cold start)
if TYPE_CHECKING:
    from typing import Any

    from shim.runtime.client import Invocation
    from shim.runtime.errors import ErrorPayload
    from shim.runtime.plugin_api import Handler
    from shim.runtime.signals import Guard


class Answer:
    __slots__ = ("body", "content_type", "error_type", "xray_cause", "error", "exception")

    def __init__(
        self,
        body: "bytes",
        content_type: "str | None" = None,
        error_type: "str | None" = None,
        xray_cause: "str | None" = None,
        error: "ErrorPayload | None" = None,
        exception: "BaseException | None" = None,
    ) -> None:
        self.body = body  # bytes to post
        self.content_type = content_type  # set on success
        self.error_type = error_type  # set on failure, with the payload dict in `error`
        self.xray_cause = xray_cause
        self.error = error
        self.exception = exception

    @property
    def ok(self) -> "bool":
        return self.error_type is None


def failure(exc: "BaseException", request_id: "str") -> "Answer":
    error, cause = errors.from_exception(exc, request_id)
    return Answer(errors.encode(error), error_type=error["errorType"], xray_cause=cause, error=error, exception=exc)


def call(handler: "Handler", invocation: "Invocation", guard: "Guard") -> "Any":
    """What the handler returns for this event (or raises): the trace id exported, the context and the
    event made, and control handed to the function; a terminating signal deferred while the event was
    read interrupts it as it starts (shim.runtime.signals). A streaming handler returns its generator."""
    export_trace_id(invocation.trace_id)
    context = LambdaContext(invocation)
    event = marshal.decode_event(invocation.body, invocation.content_type)
    guard.where = guard.HANDLER
    try:
        if guard.pending is not None:
            guard.raise_pending()
        return handler(event, context)
    finally:
        guard.where = guard.RUNTIME


def run(handler: "Handler", invocation: "Invocation", guard: "Guard") -> "Answer":
    try:
        body, content_type = marshal.encode_result(call(handler, invocation, guard))
        return Answer(body, content_type)
    except BaseException as exc:  # noqa: BLE001 - a panic must still answer the request
        guard.where = guard.RUNTIME
        return failure(exc, invocation.request_id)


_TRACE_KEY = "_X_AMZN_TRACE_ID"
_TRACE_KEY_BYTES = _TRACE_KEY.encode()
_ENVIRON = os.environ
# os.environ's own store (bytes to bytes on POSIX): written directly with putenv, as its __setitem__
# does, without its two encode calls (~5 µs of a ~30 µs invoke). Anything else goes through it.
_putenv = os.putenv
_FS_ENCODING, _FS_ERRORS = sys.getfilesystemencoding(), sys.getfilesystemencodeerrors()
_ENVIRON_DATA: "dict[bytes, bytes] | None" = (
    getattr(_ENVIRON, "_data", None) if os.name == "posix" and type(_ENVIRON) is os._Environ else None
)


def export_trace_id(trace_id: "str | None") -> None:
    # The X-Ray SDK reads the trace header from the environment, as on the managed runtimes,
    # and subprocesses inherit it.
    data = _ENVIRON_DATA
    if data is None or os.environ is not _ENVIRON:
        if trace_id is not None:
            os.environ[_TRACE_KEY] = trace_id
        else:
            os.environ.pop(_TRACE_KEY, None)
    elif trace_id is not None:
        value = trace_id.encode(_FS_ENCODING, _FS_ERRORS)  # os.environ's own encoding of values
        _putenv(_TRACE_KEY_BYTES, value)
        data[_TRACE_KEY_BYTES] = value
    elif _TRACE_KEY_BYTES in data:
        os.unsetenv(_TRACE_KEY_BYTES)
        del data[_TRACE_KEY_BYTES]
