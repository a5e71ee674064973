"""The local Runtime API's HTTP side: one handler per connection from the runtime, routing each request to
its RuntimeAPIServer (shim.local.emulator), and the keep-alive base shim serve's handler shares."""

import base64
import itertools
import json
import select
import socket
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from shim.runtime import http1, protocol
from shim.runtime.chunked import ChunkedDecoder

PREFIX = protocol.API + "/"
ERROR_TYPE_HEADER = protocol.ERROR_TYPE.lower()  # the handler stores the runtime's headers lowercased
ERROR_BODY_HEADER = protocol.ERROR_BODY.lower()
_CONNECTIONS = itertools.count(1)  # numbers the TCP connections the server accepts


class Server(ThreadingHTTPServer):
    """The Runtime API's listening socket; `api` is the RuntimeAPIServer its handlers answer for."""

    daemon_threads = True

    def __init__(self, address, api):
        self.api = api
        super().__init__(address, RuntimeAPIHandler)

    def handle_error(self, request, client_address):
        # A runtime that dies or is killed mid-request is a normal event here, not a server fault.
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


class Recorded:
    """One HTTP request the runtime made."""

    __slots__ = ("method", "path", "headers", "body", "at", "status", "connection", "trailers")

    def __init__(self, method, path, headers, body, connection=None):
        self.method, self.path, self.headers, self.body = method, path, headers, body
        self.connection = connection  # which TCP connection it came over (a number, unique per process)
        self.at = time.monotonic()
        self.status = None  # what the server answered ('closed' when it cut a stream on purpose)
        self.trailers = {}  # of a chunked body, lowercased

    def __repr__(self):
        return "<%s %s %d bytes -> %s>" % (self.method, self.path, len(self.body), self.status)


def _peer_open(sock):
    """False once the runtime closed its end (it died while waiting for an event)."""
    try:
        readable, _, _ = select.select([sock], [], [], 0)
        return not readable or sock.recv(1, socket.MSG_PEEK) != b""
    except (OSError, ValueError):
        return False


class KeepAliveHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 keep-alive, quiet, and without Nagle's delay (shared with shim.local.invoke_api)."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # the function's own logs are what matter
        pass

    def setup(self):
        super().setup()
        # Headers and body go out in two writes; with Nagle on, a keep-alive client waits
        # 40 ms for the delayed ACK of the first.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class RuntimeAPIHandler(KeepAliveHandler):
    """One connection from the runtime to its RuntimeAPIServer (self.server.api): routes each request to it."""

    @property
    def api(self):
        return self.server.api

    def setup(self):
        super().setup()
        # One handler per connection: a client that reconnects shows up as a new number
        # (a client port could be reused; this cannot).
        self.connection_number = next(_CONNECTIONS)

    def _framing(self):
        """The request body's length, or http1.CHUNKED (http1 reads the framing headers)."""

        def value(name):
            found = self.headers.get(name)
            return found.encode("latin-1") if found is not None else None

        return http1.framing(value("Transfer-Encoding"), value("Content-Length"), request=True)

    def _body(self):
        length = self._framing()
        if length == http1.CHUNKED:
            return b"".join(self._chunks())
        return self.rfile.read(length) if length else b""

    def _chunks(self):
        """The chunks of a chunked body as they arrive (shim.runtime.chunked); then the trailers go to
        self.trailers, lowercased. Only the body's bytes are taken from rfile: what follows is the next request."""
        self.trailers = {}
        decoder = ChunkedDecoder()
        rfile = self.rfile
        while not decoder.done:
            wanted = decoder.wanted
            data = rfile.read(wanted) if wanted > 1 else rfile.peek()  # no more than the body holds
            if not data:
                raise ConnectionError("the runtime closed the connection mid-body")
            yield from decoder.feed(data)
            if wanted <= 1:
                rfile.read(len(data) - len(decoder.unused))  # what the decoder took of what was peeked
        self.trailers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in decoder.trailers}

    def _record(self, body):
        headers = {k.lower(): v for k, v in self.headers.items()}
        self.recorded = Recorded(self.command, self.path, headers, body, self.connection_number)
        self.api.requests.append(self.recorded)
        return headers

    def _reply(self, status, obj, headers=None, raw=None):
        if self.recorded.status is None:
            self.recorded.status = status
        data = raw if raw is not None else json.dumps(obj).encode()
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if raw is None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        headers = self._record(b"")
        if self.path == protocol.RESTORE_NEXT:
            self.api.extensions.close()
            fork = self.api.restores.next(self.api.stopping)
            if fork is None:
                return self._reply(500, {"errorMessage": "Runtime API is stopping", "errorType": "Shutdown"})
            return self._reply(200, None, {protocol.RESTORE_FORK: "1"} if fork else {}, raw=b"")
        if self.path == protocol.EXTENSION_NEXT:
            if not self.api.extensions.known(headers.get(protocol.EXTENSION_ID.lower())):
                return self._reply(
                    403,
                    {
                        "errorMessage": "Unknown extension identifier",
                        "errorType": "Extension.InvalidExtensionIdentifier",
                    },
                )
            self.api.stopping.wait()  # subscribed to no events: nothing ever comes
            return self._reply(500, {"errorMessage": "Runtime API is stopping", "errorType": "Shutdown"})
        if self.path != protocol.NEXT:
            return self._reply(404, {"errorMessage": "Unknown path %s" % self.path, "errorType": "NotFound"})
        pending = self.api.take_next(lambda: _peer_open(self.connection))
        if pending is None:  # shutting down, or the runtime is gone
            return self._reply(500, {"errorMessage": "Runtime API is stopping", "errorType": "Shutdown"})
        self._reply(200, None, pending.event_headers, raw=pending.event)

    def do_POST(self):
        path = self.path
        if (
            path.startswith(PREFIX + "invocation/")
            and path.endswith("/response")
            and self.headers.get("Transfer-Encoding") is not None
            and self._framing() == http1.CHUNKED
        ):
            return self._stream(path[len(PREFIX + "invocation/") : -len("/response")])
        body = self._body()
        headers = self._record(body)
        self.recorded.trailers = getattr(self, "trailers", {})
        if path == protocol.INIT_ERROR:
            return self._reply(*self.api.take_init_error(body, headers, self.recorded))
        if path == protocol.RESTORE_ERROR:  # the restored environment is torn down: like a failed init
            self.api.restores.failed(body, headers)
            return self._reply(*self.api.take_init_error(body, headers, self.recorded))
        if path == protocol.EXTENSION_REGISTER:
            status, reply, extra = self.api.extensions.register(headers.get(protocol.EXTENSION_NAME.lower()), body)
            return self._reply(status, reply, extra)
        if path.startswith(PREFIX + "invocation/"):
            request_id, _, action = path[len(PREFIX + "invocation/") :].partition("/")
            if action in ("response", "error"):
                return self._reply(*self.api.take_answer(request_id, action, body, headers, self.recorded))
        self._reply(404, {"errorMessage": "Unknown path %s" % path, "errorType": "NotFound"})

    def _stream(self, request_id):
        """A streamed response: claimed when its head arrives, each chunk handed on as it comes,
        answered (202) only once the terminating chunk and the trailers are in."""
        headers = self._record(b"")
        refused, pending = self.api.claim_stream(request_id, self.recorded)
        if refused is not None:
            self.close_connection = True  # its body is still on the wire
            return self._reply(*refused)
        pending.stream_started(headers)
        try:
            for data in self._chunks():
                room = self.api.max_stream_bytes - pending.received
                if len(data) > room:  # the chunk that crosses the cap: only what fits under it goes on
                    if room > 0:
                        pending.add_chunk(data[:room])
                    return self._too_large(pending, headers)
                pending.add_chunk(data)
                if pending.cut_stream_after is not None and len(pending.chunk_times) >= pending.cut_stream_after:
                    try:
                        self.connection.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                    return self._cut(pending, headers)
        except (OSError, ValueError):
            return self._cut(pending, headers)  # the runtime went away mid-stream (died, or killed)
        pending.trailers = self.recorded.trailers = self.trailers
        self.recorded.body = b"".join(pending.chunks)
        self.recorded.status = 202  # before the caller can see the result
        pending.resolve("response", self.recorded.body, headers)
        self._reply(202, {"status": "OK"})

    def _cut(self, pending, headers):
        self.recorded.status = "closed"
        self.close_connection = True
        pending.cut = True
        pending.resolve("response", b"".join(pending.chunks), headers)

    def _too_large(self, pending, headers):
        # As Lambda: the client's stream ends with the error, the runtime's POST gets 413.
        message = "Response payload size exceeded maximum allowed payload size (%d bytes)." % self.api.max_stream_bytes
        error = json.dumps({"errorMessage": message, "errorType": "Function.ResponseSizeTooLarge"}).encode()
        pending.trailers = {
            ERROR_TYPE_HEADER: "Function.ResponseSizeTooLarge",
            ERROR_BODY_HEADER: base64.b64encode(error).decode("ascii"),
        }
        self.close_connection = True
        pending.resolve("response", b"".join(pending.chunks), headers)
        self._reply(
            413,
            {
                "errorMessage": "Exceeded maximum allowed payload size (%d bytes)." % self.api.max_stream_bytes,
                "errorType": "RequestEntityTooLarge",
            },
        )
