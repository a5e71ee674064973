"""A local Lambda Runtime API: the server side of /2018-06-01/runtime on 127.0.0.1.

It queues events, hands them to the runtime on GET /next with Lambda's headers,
and resolves each one with the first /response or /error the runtime posts for
it. Like Lambda it refuses a second answer for the same id (403), an unknown id
(400) and an oversized response (413). Every request the runtime makes is
recorded, so tests can check the protocol itself, not only the outcome.

Each event is an Exchange (shim.local.runtime_api_exchange): a streamed answer reaches
the caller chunk by chunk, as it arrives.

    with RuntimeAPIServer() as api:            # ephemeral port
        start_runtime(env={"AWS_LAMBDA_RUNTIME_API": api.address, ...})
        result = api.invoke({"name": "x"}, timeout=5)
"""

import json
import os
import queue
import threading
import time
import uuid

from shim.local import runtime_api_http
from shim.local.lifecycle import Extensions, Restores
from shim.local.runtime_api_exchange import Exchange
from shim.local.runtime_api_http import (  # noqa: F401 - importable from here too, as before
    ERROR_BODY_HEADER,
    ERROR_TYPE_HEADER,
    KeepAliveHandler,
    Recorded,
)
from shim.runtime import errors, protocol

MAX_RESPONSE_BYTES = 6 * 1024 * 1024  # Lambda's limit for a buffered (non-streamed) response
MAX_STREAM_BYTES = 200 * 1024 * 1024  # and for a streamed one
_GENERATE = object()


class RuntimeAPIServer:
    def __init__(
        self,
        host="127.0.0.1",
        port=0,
        function_name="function",
        memory_mb=128,
        timeout_s=3.0,
        region=None,
        max_response_bytes=MAX_RESPONSE_BYTES,
        max_stream_bytes=MAX_STREAM_BYTES,
    ):
        self.function_name = function_name
        self.memory_mb = memory_mb
        self.timeout_s = timeout_s
        self.region = region or os.environ.get("AWS_REGION", "us-east-1")
        self.max_response_bytes = max_response_bytes
        self.max_stream_bytes = max_stream_bytes
        self.requests = []  # every Recorded request, in arrival order
        self.init_error = None  # an Exchange resolved by a POST /init/error
        # Managed Instances (AWS_LAMBDA_MAX_CONCURRENCY): init is complete once any worker polls /next, and
        # an /init/error (one worker's) ends nothing by itself; only the runtime process's exit fails the init.
        self.concurrent = False
        self.first_next_at = None  # monotonic time of the runtime's first GET /next
        self.polls = 0  # GET /next requests so far, and when the last one came
        self.last_poll_at = None
        self.poll_times = []  # monotonic time of every GET /next
        self.restores = Restores()  # SnapStart's /restore/next and /restore/error (shim.local.lifecycle)
        self.extensions = Extensions()  # the Extensions API, for internal extensions
        self._polled = threading.Condition()
        self._queue = queue.Queue()
        self._pending = {}  # request id -> Exchange, until answered
        self._answered = {}  # request id -> Exchange, once answered
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self.stopping = threading.Event()
        self._server = runtime_api_http.Server((host, port), self)
        self._thread = None

    # -- lifecycle ------------------------------------------------------------------------

    @property
    def address(self):
        host, port = self._server.server_address[:2]
        return "%s:%d" % (host, port)

    @property
    def function_arn(self):
        return "arn:aws:lambda:%s:000000000000:function:%s" % (self.region, self.function_name)

    def start(self):
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="runtime-api", daemon=True
        )
        self._thread.start()
        return self

    def stop(self):
        self.stopping.set()
        if self._thread is not None:  # shutdown() waits for serve_forever, which never ran otherwise
            self._server.shutdown()
        self._server.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def environment(self, handler="handler.Handle", task_root=None):
        """The variables Lambda gives a runtime, pointing at this server."""
        env = {
            "AWS_LAMBDA_RUNTIME_API": self.address,
            "_HANDLER": handler,
            "AWS_LAMBDA_FUNCTION_NAME": self.function_name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(self.memory_mb),
            "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/" + self.function_name,
            "AWS_LAMBDA_LOG_STREAM_NAME": time.strftime("%Y/%m/%d/[$LATEST]") + uuid.uuid4().hex,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
        }
        if task_root:
            env["LAMBDA_TASK_ROOT"] = str(task_root)
        return env

    # -- the caller's side ----------------------------------------------------------------

    def submit(
        self,
        event,
        *,
        request_id=None,
        content_type="application/json",
        trace_id=_GENERATE,
        client_context=None,
        cognito_identity=None,
        tenant_id=None,
        invocation_id=None,
        deadline_ms=None,
        keep_stream=True,
        cut_stream_after=None,
    ):
        """Queue an event (a JSON-able object, or bytes sent as they are) and return its Exchange.

        For a streamed answer: keep_stream=False drops each chunk once it is handed on (the
        caller reads them with iter_chunks); cut_stream_after=N closes the runtime's connection
        after N chunks, as Lambda does when it resets an environment mid-stream."""
        request_id = request_id or str(uuid.uuid4())
        body = event if isinstance(event, bytes) else json.dumps(event).encode("utf-8")
        if trace_id is _GENERATE:
            trace_id = "Root=1-%08x-%s;Parent=%s;Sampled=0" % (
                int(time.time()),
                uuid.uuid4().hex[:24],
                uuid.uuid4().hex[:16],
            )
        headers = {
            protocol.REQUEST_ID: request_id,
            protocol.DEADLINE_MS: str(
                deadline_ms if deadline_ms is not None else int((time.time() + self.timeout_s) * 1000)
            ),
            protocol.FUNCTION_ARN: self.function_arn,
            "Content-Type": content_type,
        }
        optional = {
            protocol.TRACE_ID: trace_id,
            protocol.CLIENT_CONTEXT: _as_header(client_context),
            protocol.COGNITO_IDENTITY: _as_header(cognito_identity),
            protocol.TENANT_ID: tenant_id,
            protocol.INVOCATION_ID: invocation_id,
        }
        headers.update((k, v) for k, v in optional.items() if v)
        pending = Exchange(request_id, body, headers, keep_stream=keep_stream, cut_stream_after=cut_stream_after)
        with self._lock:
            if self.init_error is not None and not self.concurrent:
                self._resolve_as_init_error(pending)
                return pending
            self._pending[request_id] = pending
        self._queue.put(pending)
        return pending

    def invoke(self, event, timeout=None, **options):
        return self.submit(event, **options).wait(timeout)

    def wait_ready(self, timeout=None):
        """Wait for the runtime's first /next (init done) or its init error; True if ready."""
        self._ready.wait(timeout)
        return self.first_next_at is not None and (self.concurrent or self.init_error is None)

    def wait_polls(self, count, timeout=None):
        """Wait until the runtime has polled /next `count` times in all; when it last did, or None.

        A runtime polls again once it is done with an event, logs included: the
        end of the invoke as Lambda measures it.
        """
        with self._polled:
            if self._polled.wait_for(lambda: self.polls >= count, timeout):
                return self.last_poll_at
        return None

    def wait_poll_after(self, since, timeout=None):
        """When the runtime first polled /next at or after monotonic time `since`; None if not within timeout."""
        with self._polled:
            found = []

            def polled():
                found[:] = [t for t in self.poll_times[-64:] if t >= since][:1]
                return bool(found)

            if self._polled.wait_for(polled, timeout):
                return found[0]
        return None

    def answers(self, request_id, accepted_only=False):
        """The runtime's posts for a request id (for exactly-once checks)."""
        return [
            r
            for r in self.requests
            if r.method == "POST"
            and "/invocation/%s/" % request_id in r.path
            and (r.status == 202 or not accepted_only)
        ]

    def lose_pending(self, reason):
        """Resolve everything still unanswered as 'lost' (the runtime process died)."""
        with self._lock:
            lost = list(self._pending.values())
            self._pending.clear()
        for pending in lost:
            body = json.dumps({"errorMessage": reason, "errorType": errors.EXIT_ERROR}).encode()
            pending.resolve("lost", body, {"content-type": "application/json", ERROR_TYPE_HEADER: errors.EXIT_ERROR})
        return lost

    # -- the runtime's side (called from the HTTP handler threads) -------------------------

    def take_next(self, peer_open=None):
        self.extensions.close()  # Lambda closes extension registration at the first /next
        with self._lock:
            if self.first_next_at is None:
                self.first_next_at = time.monotonic()
        with self._polled:
            self.polls += 1
            self.last_poll_at = time.monotonic()
            self.poll_times.append(self.last_poll_at)
            self._polled.notify_all()
        self._ready.set()
        while not self.stopping.is_set():
            try:
                pending = self._queue.get(timeout=0.1)
            except queue.Empty:
                if peer_open is not None and not peer_open():
                    return None  # a runtime (or worker) that died while polling
                continue
            if pending.done:  # resolved while queued (init error, lost)
                continue
            if peer_open is not None and not peer_open():
                self._queue.put(pending)  # not for a dead poller: the next live one takes it
                return None
            pending.taken_at = time.monotonic()
            return pending
        return None

    def take_answer(self, request_id, kind, body, headers, record):
        status, reply, pending = self._settle(request_id, kind, body, headers)
        record.status = status  # before the caller can see the result
        if pending is not None:
            pending.resolve(kind, body, headers)
        return status, reply

    def _settle(self, request_id, kind, body, headers):
        with self._lock:
            pending = self._pending.get(request_id)
            if pending is None:
                if request_id in self._answered:
                    return (
                        403,
                        {
                            "errorMessage": "Request %s was already answered" % request_id,
                            "errorType": "InvalidStateTransition",
                        },
                        None,
                    )
                return (
                    400,
                    {"errorMessage": "Invalid request ID %s" % request_id, "errorType": "InvalidRequestID"},
                    None,
                )
            if kind == "response" and len(body) > self.max_response_bytes:
                return (
                    413,
                    {
                        "errorMessage": "Exceeded maximum allowed payload size (%d bytes)." % self.max_response_bytes,
                        "errorType": "RequestEntityTooLarge",
                    },
                    None,
                )
            del self._pending[request_id]
            self._answered[request_id] = pending
        return 202, {"status": "OK"}, pending

    def claim_stream(self, request_id, record):
        """A streamed answer's head arrived: (None, the Exchange) if it may go on, else (status, reply)."""
        with self._lock:
            pending = self._pending.get(request_id)
            if pending is None:
                record.status = 403 if request_id in self._answered else 400
                if record.status == 403:
                    return (
                        403,
                        {
                            "errorMessage": "Request %s was already answered" % request_id,
                            "errorType": "InvalidStateTransition",
                        },
                    ), None
                return (
                    400,
                    {"errorMessage": "Invalid request ID %s" % request_id, "errorType": "InvalidRequestID"},
                ), None
            del self._pending[request_id]  # the first answer wins: an /error now gets 403
            self._answered[request_id] = pending
        return None, pending

    def take_init_error(self, body, headers, record):
        with self._lock:
            if self.init_error is not None:
                record.status = 403
                return 403, {"errorMessage": "Init error already reported", "errorType": "InvalidStateTransition"}
            record.status = 202
            self.init_error = Exchange("")
            self.init_error.resolve("init_error", body, headers)
            if self.concurrent:
                # As the AWS emulator's Managed Instances Runtime API: the error is kept (the first one;
                # later ones get 403), the other workers go on, and a /next from any of them completes
                # the init. The environment fails only if the runtime process exits.
                return 202, {"status": "OK"}
            waiting = list(self._pending.values())
            self._pending.clear()
        for pending in waiting:
            self._resolve_as_init_error(pending)
        self._ready.set()
        return 202, {"status": "OK"}

    def _resolve_as_init_error(self, pending):
        pending.resolve("init_error", self.init_error.body, self.init_error.headers)


def _as_header(value):
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value)
