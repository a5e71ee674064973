"""One invoke's Exchange (shim.local.runtime_api_exchange) followed from the caller's side, as Function runs it.

wait() waits for the runtime's answer under the function's timeout (a streamed one
event by event), wait_for_next_poll() for the /next that ends Lambda's Duration, and
stream_fields() gives a streamed answer's InvokeResult fields. When the answer does
not come, the error bodies are Lambda's own: timed_out(), runtime_exited(), and
init_failure() for an init that failed (reported /init/error, exited, or timed out).
"""

import math
import time

from shim.local.runtime_api_exchange import END
from shim.local.environment import exit_reason
from shim.local.result import json_bytes
from shim.runtime import errors
from shim.runtime.logs import utc_timestamp

AFTER_ANSWER_S = 2.0  # how long to wait for the runtime's next /next once it has answered


def wait(function, environment, pending, on_stream=None):
    """(the answered Exchange, ms since the runtime took it), or (None, ms) after the function's timeout_s.
    A streamed answer's events go to on_stream as they come; the timeout covers the whole stream. It is
    not enforced while function.timeout_enforced is False (a debugger can turn it off mid-invoke)."""
    while True:
        # The clock starts when the runtime takes the event (at once, as it is waiting for it).
        started = pending.taken_at or pending.submitted_at
        deadline = started + (function.timeout_s if function.timeout_enforced else math.inf)
        event = pending.next_event(max(0.0, min(0.05, deadline - time.monotonic())))
        if event is END:
            return pending, pending.duration_ms or 0.0
        if event is not None:
            if on_stream is not None:
                on_stream(event)
            continue
        now = time.monotonic()
        if now >= deadline:
            return None, (now - started) * 1000
        if environment.returncode is not None and not pending.done:
            # It died before taking the event, after lose_pending had run.
            environment.api.lose_pending("Runtime exited with %s" % exit_reason(environment.returncode))


def wait_for_next_poll(environment, count):
    """When the runtime polled /next again; None if it exited instead (or took too long)."""
    deadline = time.monotonic() + AFTER_ANSWER_S
    while time.monotonic() < deadline:
        polled = environment.api.wait_polls(count, 0.05)
        if polled is not None or environment.returncode is not None:
            return polled
    return None


def stream_fields(pending):
    """The InvokeResult fields of a streamed answer (none for a buffered one)."""
    if not pending.streamed:
        return {}
    taken = pending.taken_at or pending.submitted_at
    times = [(at - taken) * 1000 for at in pending.chunk_times]
    return {
        "streamed": True,
        "chunks": list(pending.chunks),
        "chunk_times_ms": times,
        "first_byte_ms": times[0] if times else None,
        "stream_error": pending.stream_error,
        "trailers": dict(pending.trailers),
    }


def exited(environment, wait_s=1.0):
    """Whether the runtime process exits within wait_s (a stream cut by a dying runtime)."""
    try:
        environment.process.wait(wait_s)
        return True
    except Exception:  # noqa: BLE001 - still running
        return False


def timed_out(request_id, elapsed_ms):
    """Lambda's error body for an invoke that ran out of time."""
    message = "%s %s Task timed out after %.2f seconds" % (utc_timestamp(time.time()), request_id, elapsed_ms / 1000)
    return json_bytes({"errorMessage": message, "errorType": errors.TIMED_OUT})


def runtime_exited(request_id, returncode):
    """Lambda's error body for an invoke whose runtime exited before it answered."""
    message = "RequestId: %s Error: Runtime exited with error: %s" % (request_id, exit_reason(returncode))
    return json_bytes({"errorMessage": message, "errorType": errors.EXIT_ERROR})


def init_failure(environment, init_timeout_s):
    """(error body, errorType) of an init that did not end in the runtime's first /next; one still
    running after init_timeout_s is killed."""
    api = environment.api
    if api.init_error is not None:
        return api.init_error.body, api.init_error.error_type or errors.UNKNOWN
    if environment.returncode is not None:
        environment.join_readers()
        message = "Runtime exited with error: %s" % exit_reason(environment.returncode)
        return json_bytes({"errorMessage": message, "errorType": errors.EXIT_ERROR}), errors.EXIT_ERROR
    environment.sample_memory()
    environment.kill()
    message = "Init timed out after %.2f seconds" % init_timeout_s
    return json_bytes({"errorMessage": message, "errorType": errors.TIMED_OUT}), errors.TIMED_OUT
