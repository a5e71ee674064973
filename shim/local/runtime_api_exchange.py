"""The local Runtime API's Exchange: one event handed to the runtime, and the answer it posted.

RuntimeAPIServer (shim.local.emulator) makes one per submitted event and resolves it
with the runtime's first /response or /error. A streamed response (a chunked POST,
with trailers) is read chunk by chunk: each one reaches the caller as it arrives
(Exchange.next_event / iter_chunks), with its arrival time.
"""

import base64
import json
import queue
import threading
import time

from shim.local.runtime_api_http import ERROR_BODY_HEADER, ERROR_TYPE_HEADER
from shim.runtime import protocol

XRAY_CAUSE_HEADER = protocol.XRAY_CAUSE.lower()
END = ("end", None)  # the last of an Exchange's events


class Exchange:
    """One event handed to the runtime, and the answer it posted.

    The caller's side: event and event_headers as /next delivers them, then wait().
    Once answered: kind ('response', 'error', 'init_error' or 'lost'), the answer's
    body and headers, and when each step happened (monotonic seconds).
    """

    def __init__(self, request_id, event=b"", event_headers=None, keep_stream=True, cut_stream_after=None):
        self.request_id = request_id
        self.event = event
        self.event_headers = event_headers or {}
        self.submitted_at = time.monotonic()
        self.taken_at = None  # when the runtime's /next received it
        self.answered_at = None
        self.kind = None
        self.body = b""
        self.headers = {}
        # A streamed answer: when its head came, its chunks (unless keep_stream=False) and when
        # each arrived, its trailers, and whether the API cut it (cut_stream_after=N chunks).
        self.streamed = False
        self.stream_started_at = None
        self.chunks = []
        self.chunk_times = []
        self.received = 0  # body bytes of the stream so far
        self.trailers = {}
        self.cut = False
        self.keep_stream = keep_stream
        self.cut_stream_after = cut_stream_after
        self._events = queue.Queue()  # ("start", content type), ("chunk", bytes), then END
        self._done = threading.Event()

    def resolve(self, kind, body=b"", headers=None):
        self.kind, self.body, self.headers = kind, body, headers or {}
        self.answered_at = time.monotonic()
        self._done.set()
        self._events.put(END)

    # -- a streamed answer, as it arrives ----------------------------------------------------

    def stream_started(self, headers):
        self.streamed = True
        self.stream_started_at = time.monotonic()
        self.headers = headers
        self._events.put(("start", headers.get("content-type")))

    def add_chunk(self, data):
        self.chunk_times.append(time.monotonic())
        self.received += len(data)
        if self.keep_stream:
            self.chunks.append(data)
        self._events.put(("chunk", data))

    def next_event(self, timeout=None):
        """The next of ("start", content type), ("chunk", bytes) and, once answered, END; None if
        nothing came within timeout. A buffered answer has only END."""
        try:
            return self._events.get(timeout=timeout)
        except queue.Empty:
            return None

    def iter_chunks(self, timeout=None):
        """Each chunk of a streamed answer as it arrives, until the answer is complete.
        TimeoutError if `timeout` seconds pass without a chunk or the end."""
        while True:
            event = self.next_event(timeout)
            if event is None:
                raise TimeoutError("no chunk for %s within %ss" % (self.request_id, timeout))
            if event is END:
                return
            if event[0] == "chunk":
                yield event[1]

    @property
    def stream_error(self):
        """The error a stream ended with (its Error-Type/Error-Body trailers, decoded), or None."""
        error_type = self.trailers.get(ERROR_TYPE_HEADER)
        if error_type is None:
            return None
        try:
            error = json.loads(base64.b64decode(self.trailers.get(ERROR_BODY_HEADER, ""), validate=True))
        except ValueError:
            error = None
        if not isinstance(error, dict):
            error = {"errorMessage": "", "errorType": error_type}
        return error

    @property
    def done(self):
        return self._done.is_set()

    def wait(self, timeout=None):
        """Block until the runtime answered (or was lost); returns self."""
        if not self._done.wait(timeout):
            raise TimeoutError("no answer for %s within %ss" % (self.request_id, timeout))
        return self

    @property
    def ok(self):
        return self.kind == "response"

    @property
    def content_type(self):
        return self.headers.get("content-type")

    @property
    def error_type(self):
        return self.headers.get(ERROR_TYPE_HEADER)

    @property
    def xray_cause(self):
        return self.headers.get(XRAY_CAUSE_HEADER)

    @property
    def payload(self):
        """The decoded JSON body (the response, or the error object)."""
        return json.loads(self.body) if self.body else None

    @property
    def duration_ms(self):
        start = self.taken_at if self.taken_at is not None else self.submitted_at
        return (self.answered_at - start) * 1000 if self.answered_at is not None else None

    def __repr__(self):
        return "<Exchange %s %s %s>" % (self.request_id, self.kind, self.body[:200])
