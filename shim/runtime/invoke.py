"""One invoke: an Invocation in, exactly one Answer out, whatever the handler does.

This is the protocol logic of the loop and does no I/O of its own: the caller
posts the Answer. Every BaseException is caught here (sys.exit, KeyboardInterrupt,
signals turned into FatalSignal, MemoryError) so no request id goes unanswered.
"""
import os

from shim.runtime import errors, marshal
from shim.runtime.context import LambdaContext


class Answer:
    __slots__ = ("body", "content_type", "error_type", "xray_cause", "error", "exception")

    def __init__(self, body, content_type=None, error_type=None, xray_cause=None, error=None, exception=None):
        self.body = body                  # bytes to post
        self.content_type = content_type  # set on success
        self.error_type = error_type      # set on failure, with the payload dict in `error`
        self.xray_cause = xray_cause
        self.error = error
        self.exception = exception

    @property
    def ok(self):
        return self.error_type is None


def failure(exc, request_id):
    error, cause = errors.from_exception(exc, request_id)
    return Answer(errors.encode(error), error_type=error["errorType"], xray_cause=cause, error=error, exception=exc)


def run(handler, invocation, guard):
    export_trace_id(invocation.trace_id)
    try:
        context = LambdaContext(invocation)
        event = marshal.decode_event(invocation.body, invocation.content_type)
        guard.where = guard.HANDLER
        try:
            result = handler(event, context)
        finally:
            guard.where = guard.RUNTIME
        body, content_type = marshal.encode_result(result)
        return Answer(body, content_type)
    except BaseException as exc:  # noqa: B036 - a panic must still answer the request
        guard.where = guard.RUNTIME
        return failure(exc, invocation.request_id)


def export_trace_id(trace_id):
    # The X-Ray SDK reads the trace header from the environment, as on the managed runtimes.
    if trace_id is not None:
        os.environ["_X_AMZN_TRACE_ID"] = trace_id
    else:
        os.environ.pop("_X_AMZN_TRACE_ID", None)
