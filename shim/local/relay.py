"""`shim serve` streaming a function's response to its HTTP client, chunk by chunk.

Three ways, one per kind of caller; each gets Function.invoke's stream events
(("start", content type), then ("chunk", bytes)) as they arrive, and the InvokeResult
at the end. A function that does not stream gets the same answer as before, whole.

- InvokeRelay: the Invoke path. A chunked body in the function's content type; if the
  stream fails after its first byte, the error goes in HTTP trailers (X-Amz-Function-Error:
  Unhandled, and the runtime's Error-Type and base64 Error-Body), as the status line is gone.
- EventStreamRelay: InvokeWithResponseStream. A PayloadChunk event per chunk, then InvokeComplete
  (ErrorCode/ErrorDetails for a failed invoke, LogResult with X-Amz-Log-Type: Tail), as boto3 reads it.
- FunctionURLRelay: a Function URL in RESPONSE_STREAM mode. The prelude's status, headers and
  cookies become the HTTP response's, the rest of the stream its body.

The client going away stops nothing: like Lambda, the function runs to its end and the
rest of its stream is dropped.
"""

import base64
import json

from shim.local import eventstream, function_url
from shim.runtime import protocol

TAIL_BYTES = 4096  # what X-Amz-Log-Type: Tail returns, as in Lambda
_SMALL = 64 * 1024


def framing(status, headers, command="GET"):
    """How a response's body goes on the wire (RFC 9112 6.1-6.3): (headers without the function's own
    Transfer-Encoding and Content-Length, the length it declared or None, whether there is a body at all).
    1xx, 204 and 304 responses, and any answer to HEAD, have none; nothing then frames one either."""
    declared = None
    kept = []
    for name, value in headers:
        lowered = name.lower()
        if lowered == "content-length":
            declared = int(value) if value.strip().isdigit() else declared
        elif lowered != "transfer-encoding":  # the framing is ours to choose
            kept.append((name, _latin1(value)))
    bodyless = status < 200 or status in (204, 304)
    return kept, None if bodyless else declared, not bodyless and command != "HEAD"


def _latin1(value):
    """A value http.server can write (it encodes header lines as Latin-1): beyond that, its UTF-8 bytes."""
    try:
        value.encode("latin-1")
        return value
    except UnicodeEncodeError:
        return value.encode("utf-8").decode("latin-1")


class ChunkedWriter:
    """A streamed HTTP/1.1 response on a request handler: chunked, or as the Content-Length the function
    declared, or no body at all (204, 304, HEAD); a client that went away is noted, not raised."""

    def __init__(self, handler):
        self.handler = handler
        self.started = False
        self.gone = False
        self.body = True  # False: the status (or HEAD) has no body; what comes is dropped
        self.remaining = None  # bytes still due under a declared Content-Length; None: chunked

    def start(self, status, headers):
        self.started = True
        headers, self.remaining, self.body = framing(status, headers, getattr(self.handler, "command", "GET"))
        try:
            self.handler.send_response(status)
            for name, value in headers:
                self.handler.send_header(name, value)
            if self.remaining is not None:
                self.handler.send_header("Content-Length", str(self.remaining))
            elif self.body:
                self.handler.send_header("Transfer-Encoding", "chunked")
            self.handler.end_headers()
        except OSError:
            self._lost()

    def write(self, data):
        if self.gone or not data or not self.body:
            return
        if self.remaining is not None:
            return self._write_counted(data)
        head = b"%X\r\n" % len(data)
        try:
            if len(data) < _SMALL:
                self.handler.wfile.write(head + data + b"\r\n")
            else:  # no copy of a big chunk just to save two writes
                self.handler.wfile.write(head)
                self.handler.wfile.write(data)
                self.handler.wfile.write(b"\r\n")
        except OSError:
            self._lost()

    def _write_counted(self, data):
        if len(data) > self.remaining:  # more than it declared: the client gets what was declared, no more
            data = data[: self.remaining]
            self.handler.close_connection = True
        try:
            self.handler.wfile.write(data)
        except OSError:
            self._lost()
        self.remaining -= len(data)

    def end(self, trailers=()):
        if self.gone or not self.body:
            return
        if self.remaining is not None:
            if self.remaining:  # less than it declared: the client sees an incomplete body
                self.abort()
            return
        text = "0\r\n" + "".join("%s: %s\r\n" % (name, value) for name, value in trailers) + "\r\n"
        try:
            self.handler.wfile.write(text.encode("latin-1"))
        except OSError:
            self._lost()

    def abort(self):
        """End the response without its last chunk: the client sees an incomplete body."""
        self.handler.close_connection = True
        self.gone = True

    def _lost(self):
        self.gone = True
        self.handler.close_connection = True


def tail(result):
    """Base64 of the last 4 KB of an invoke's log, for X-Amz-Log-Result and LogResult."""
    return base64.b64encode(result.transcript().encode("utf-8")[-TAIL_BYTES:]).decode("ascii")


def _error_json(result):
    error = result.error if isinstance(result.error, dict) else {"errorType": result.error_type, "errorMessage": ""}
    return json.dumps(error)


class InvokeRelay:
    """The Invoke path: a streamed response goes out as a chunked body as it is produced."""

    TRAILERS = ("X-Amz-Function-Error", protocol.ERROR_TYPE, protocol.ERROR_BODY, "X-Amz-Log-Result")

    def __init__(self, handler, request_id, want_tail=False):
        self.writer = ChunkedWriter(handler)
        self.request_id = request_id
        self.want_tail = want_tail

    @property
    def started(self):
        return self.writer.started

    def on_stream(self, event):
        kind, value = event
        if kind == "start":
            self.writer.start(
                200,
                [
                    ("Content-Type", value or "application/octet-stream"),
                    ("X-Amz-Executed-Version", "$LATEST"),
                    ("X-Amzn-RequestId", self.request_id),
                    ("Trailer", ", ".join(self.TRAILERS)),
                ],
            )
        else:
            self.writer.write(value)

    def finish(self, result):
        trailers = []
        if not result.ok:
            trailers += [
                ("X-Amz-Function-Error", "Unhandled"),
                (protocol.ERROR_TYPE, result.error_type or "Unhandled"),
                (protocol.ERROR_BODY, base64.b64encode(_error_json(result).encode()).decode("ascii")),
            ]
        if self.want_tail:
            trailers.append(("X-Amz-Log-Result", tail(result)))
        self.writer.end(trailers)


class EventStreamRelay:
    """InvokeWithResponseStream: PayloadChunk events as chunks arrive, then InvokeComplete."""

    def __init__(self, handler, request_id, want_tail=False):
        self.writer = ChunkedWriter(handler)
        self.request_id = request_id
        self.want_tail = want_tail

    def _start(self):
        if not self.writer.started:
            self.writer.start(
                200,
                [
                    ("Content-Type", eventstream.CONTENT_TYPE),
                    ("X-Amz-Executed-Version", "$LATEST"),
                    ("X-Amzn-RequestId", self.request_id),
                ],
            )

    def on_stream(self, event):
        kind, value = event
        self._start()
        if kind == "chunk":
            self.writer.write(eventstream.payload_chunk(value))

    def finish(self, result):
        streamed = self.writer.started
        self._start()
        if result.ok and not streamed and result.body:
            self.writer.write(eventstream.payload_chunk(result.body))  # a buffered answer: one chunk
        code = details = None
        if not result.ok:
            code, details = result.error_type or "Unhandled", _error_json(result)
        self.writer.write(eventstream.invoke_complete(code, details, tail(result) if self.want_tail else None))
        self.writer.end()


class FunctionURLRelay:
    """A Function URL (RESPONSE_STREAM): the prelude's status and headers, then the body as it streams."""

    def __init__(self, handler, log):
        self.handler = handler
        self.writer = ChunkedWriter(handler)
        self.log = log
        self.reader = None  # a PreludeReader while the stream is an HTTP integration response
        self.failed = False

    def on_stream(self, event):
        kind, value = event
        if self.failed:
            return
        if kind == "start":
            if value == protocol.HTTP_INTEGRATION_RESPONSE:
                self.reader = function_url.PreludeReader()
            else:  # a plain stream: a 200 in the function's content type
                self.writer.start(200, [("Content-Type", value or "application/octet-stream")])
            return
        if self.reader is None or self.reader.complete:
            return self.writer.write(value)
        try:
            prelude, body = self.reader.feed(value)
            if prelude is not None:
                self.writer.start(*function_url.response_head(prelude))
        except function_url.PreludeError as exc:
            self.failed = True
            self.log("shim serve: the function's HTTP response prelude is unusable: %s\n" % exc)
            return self._send(502, [("Content-Type", "application/json")], b'{"Message":"Internal Server Error"}')
        self.writer.write(body)

    def finish(self, result):
        if self.failed:
            return
        if self.writer.started:
            if result.ok:
                self.writer.end()
            else:
                self.writer.abort()  # as a proxy does when its upstream fails mid-body
            return
        if self.reader is not None and result.ok:  # the prelude never came whole
            self.log("shim serve: the function's streamed HTTP response ended before its prelude\n")
        if self.reader is not None or not result.ok:
            return self._send(502, [("Content-Type", "application/json")], b'{"Message":"Internal Server Error"}')
        try:
            response = function_url.buffered_response(result.body)
        except function_url.PreludeError as exc:
            self.log("shim serve: the function's HTTP response is unusable: %s\n" % exc)
            response = 502, [("Content-Type", "application/json")], b'{"Message":"Internal Server Error"}'
        self._send(*response)

    def _send(self, status, headers, body):
        headers, _, has_body = framing(status, headers, self.handler.command)
        try:
            self.handler.send_response(status)
            for name, value in headers:
                self.handler.send_header(name, value)
            if status >= 200 and status not in (204, 304):  # RFC 9110 8.6: none on a 1xx or 204 (nor our 304)
                self.handler.send_header("Content-Length", str(len(body)))
            self.handler.end_headers()
            if has_body:
                self.handler.wfile.write(body)
        except OSError:
            self.handler.close_connection = True
