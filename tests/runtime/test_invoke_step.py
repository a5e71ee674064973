"""One invoke in-process (shim.runtime.invoke.run): an Invocation in, exactly one Answer out, no I/O."""

import json
import os
import signal

import pytest

from shim.runtime import errors, invoke
from shim.runtime.signals import FatalSignal, Guard

TRACE = "_X_AMZN_TRACE_ID"
pytestmark = pytest.mark.usefixtures("trace_env")


class Recording:
    """A handler that notes what it saw, then does `action`."""

    def __init__(self, guard, action=lambda event, context: {"echo": event}):
        self.guard, self.action, self.calls = guard, action, []

    def __call__(self, event, context):
        self.calls.append(
            {
                "event": event,
                "request_id": context.aws_request_id,
                "where": self.guard.where,
                "trace": os.environ.get(TRACE),
            }
        )
        return self.action(event, context)


def _run(make_invocation, action, body=b'{"n": 1}', **headers):
    guard = Guard()
    guard.where = guard.RUNTIME  # as the loop leaves it before an invoke
    handler = Recording(guard, action)
    answer = invoke.run(handler, make_invocation(body=body, **headers), guard)
    return answer, handler, guard


def test_success(make_invocation):
    answer, handler, guard = _run(make_invocation, lambda event, context: {"echo": event})
    assert answer.ok and answer.body == b'{"echo": {"n": 1}}' and answer.content_type == "application/json"
    assert (answer.error_type, answer.error, answer.xray_cause, answer.exception) == (None, None, None, None)
    assert handler.calls == [{"event": {"n": 1}, "request_id": "req-1", "where": Guard.HANDLER, "trace": None}]
    assert guard.where == Guard.RUNTIME


def test_raw_bytes_result_and_non_json_event(make_invocation):
    answer, handler, _ = _run(
        make_invocation, lambda event, context: event + b"!", body=b"<a/>", content_type="text/xml"
    )
    assert handler.calls[0]["event"] == b"<a/>"
    assert answer.ok and answer.body == b"<a/>!" and answer.content_type == "application/unknown"


def _raise_value_error(event, context):
    raise ValueError("bad value %s" % event["n"])


def test_handler_exception(make_invocation):
    answer, _, guard = _run(make_invocation, _raise_value_error)
    assert not answer.ok and answer.error_type == "ValueError"
    assert isinstance(answer.exception, ValueError)
    assert list(answer.error) == ["errorMessage", "errorType", "requestId", "stackTrace"]
    assert answer.error["errorMessage"] == "bad value 1" and answer.error["requestId"] == "req-1"
    assert json.loads(answer.body) == answer.error and answer.content_type is None
    # The trace starts in the user's code: the runtime's own frames (invoke.run) are left out.
    trace = answer.error["stackTrace"]
    assert 'test_invoke_step.py", line' in trace[0] and "in __call__" in trace[0]
    assert "in _raise_value_error" in trace[-1] and not any("shim" + os.sep + "runtime" in line for line in trace)
    cause = json.loads(answer.xray_cause)
    assert cause["exceptions"][0]["type"] == "ValueError" and cause["exceptions"][0]["message"] == "bad value 1"
    assert cause["exceptions"][0]["stack"][-1]["label"] == "_raise_value_error"
    assert guard.where == Guard.RUNTIME


def _exit(code):
    def handler(event, context):
        raise SystemExit(code)

    return handler


class Custom(BaseException):
    pass


def _raise(exc):
    def handler(event, context):
        raise exc

    return handler


@pytest.mark.parametrize(
    "action,error_type,message",
    [
        (_exit(3), "SystemExit", "Handler called sys.exit(3)"),
        (_exit(None), "SystemExit", "Handler called sys.exit()"),
        (_exit("bye"), "SystemExit", "Handler called sys.exit('bye')"),
        (_raise(KeyboardInterrupt()), "KeyboardInterrupt", "Handler was interrupted (KeyboardInterrupt)"),
        (_raise(Custom("not an Exception")), "Custom", "not an Exception"),
        (_raise(FatalSignal(signal.SIGUSR1)), "FatalSignal", "Handler was interrupted by SIGUSR1"),
        (_raise(MemoryError("full")), "MemoryError", "full"),
    ],
    ids=["exit-3", "exit-none", "exit-str", "KeyboardInterrupt", "BaseException", "FatalSignal", "MemoryError"],
)
def test_base_exceptions_are_answered(make_invocation, action, error_type, message):
    answer, _, guard = _run(make_invocation, action)
    assert not answer.ok and answer.error_type == answer.error["errorType"] == error_type
    assert answer.error["errorMessage"] == message and answer.error["requestId"] == "req-1"
    assert json.loads(answer.xray_cause)["exceptions"][0]["type"] == error_type
    assert guard.where == Guard.RUNTIME


def test_marshal_error(make_invocation):
    answer, handler, guard = _run(make_invocation, lambda event, context: {"s": {1, 2}})
    assert len(handler.calls) == 1
    assert answer.error_type == errors.MARSHAL_ERROR and answer.error["errorMessage"].startswith(
        "Unable to marshal response: "
    )
    assert "set" in answer.error["errorMessage"] and answer.error["requestId"] == "req-1"
    assert answer.xray_cause is None  # a runtime fault, not the user's exception
    assert guard.where == Guard.RUNTIME


@pytest.mark.parametrize(
    "headers,error_type",
    [
        ({"body": b"{not json"}, errors.UNMARSHAL_ERROR),
        ({"client_context": "{broken"}, errors.CONTEXT_UNMARSHAL_ERROR),
        ({"cognito_identity": "{broken"}, errors.CONTEXT_UNMARSHAL_ERROR),
    ],
)
def test_bad_input_is_answered_without_calling_the_handler(make_invocation, headers, error_type):
    answer, handler, guard = _run(make_invocation, lambda event, context: "never", **headers)
    assert handler.calls == []
    assert answer.error_type == error_type and answer.error["requestId"] == "req-1"
    assert guard.where == Guard.RUNTIME


def test_guard_is_in_handler_only_while_the_handler_runs(make_invocation):
    guard = Guard()
    seen = []

    def handler(event, context):
        seen.append(guard.where)
        return None

    guard.where = guard.RUNTIME
    invoke.run(handler, make_invocation(), guard)
    assert seen == [Guard.HANDLER] and guard.where == Guard.RUNTIME
    invoke.run(_raise(KeyboardInterrupt()), make_invocation(), guard)
    assert guard.where == Guard.RUNTIME


def test_a_signal_during_the_handler_is_raised_there_and_left_pending(make_invocation):
    guard = Guard()
    guard.where = guard.RUNTIME

    def handler(event, context):
        guard._on_signal(signal.SIGTERM, None)  # what the installed signal handler does on SIGTERM
        return "not reached"

    answer = invoke.run(handler, make_invocation(), guard)
    assert answer.error_type == "FatalSignal" and answer.error["errorMessage"] == "Handler was interrupted by SIGTERM"
    assert guard.pending == signal.SIGTERM  # the loop stops once the answer is posted
    with pytest.raises(FatalSignal):
        guard.take_pending()
    assert guard.pending is None


def test_trace_id_is_exported_for_the_handler_and_removed_without_one(make_invocation):
    os.environ[TRACE] = "stale"
    answer, handler, _ = _run(
        make_invocation, lambda event, context: os.environ.get(TRACE), trace_id="Root=1-a;Sampled=1"
    )
    assert answer.body == b'"Root=1-a;Sampled=1"' and os.environ[TRACE] == "Root=1-a;Sampled=1"
    answer, handler, _ = _run(make_invocation, lambda event, context: os.environ.get(TRACE))
    assert answer.body == b"null" and TRACE not in os.environ


def test_failure_from_a_fault():
    answer = invoke.failure(errors.Fault(errors.RESPONSE_TOO_LARGE, "too big"), "req-9")
    assert answer.error == {
        "errorMessage": "too big",
        "errorType": "Runtime.ResponseSizeTooLarge",
        "requestId": "req-9",
        "stackTrace": [],
    }
    assert answer.error_type == "Runtime.ResponseSizeTooLarge" and answer.xray_cause is None
    assert json.loads(answer.body) == answer.error
