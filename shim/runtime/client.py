"""The Lambda Runtime API client: one keep-alive HTTP/1.1 connection over a raw socket.

http.client costs about 300 µs more per invoke than this on loopback (it builds
an email.message for every response and imports ssl), so the requests are
precomputed bytes and the replies are read by shim.runtime.http1, which parses
only what the API sends: a status line, headers, and a body framed by
Content-Length, chunked encoding or connection close. This module does the
socket side: connections, pipelining, waiting; what only a fault or a server
unlike Lambda's needs (retries, HTTP/1.0, chunked replies, host names) is in
shim.runtime.fallbacks, loaded when first needed. The event /next hands over is
a shim.runtime.context.Invocation. Nothing here knows about handlers or JSON.

It uses _socket, the C module under socket.py: socket.py imports selectors and
enum, and create_connection() resolves even an IP literal through getaddrinfo,
which loads the idna codec; together ~5 ms of a ~25 ms cold start.
"""

import _socket
import sys

from shim import __version__
from shim.runtime import http1, protocol
from shim.runtime.context import Invocation
from shim.runtime.http1 import CHUNKED, CLOSE_UNANNOUNCED, KEEP, Headers, ProtocolError, header_value
from shim.runtime.protocol import NEXT
from shim.runtime.signals import drain

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (the cold start)
if TYPE_CHECKING:
    from typing import Callable, Tuple

    from shim.runtime.http1 import Memo

    # A reply as the client returns it: status, header fields, body.
    Reply = Tuple[int, Headers, bytes]

__all__ = ["AnswerUnconfirmed", "Headers", "Invocation", "RuntimeAPI", "RuntimeAPIError", "header_value"]
USER_AGENT = "lambda-shim/%s (Python %d.%d.%d)" % (__version__, *sys.version_info[:3])
_BIG_BODY = 64 * 1024  # above this, send head and body separately instead of copying


class RuntimeAPIError(Exception):
    """The Runtime API answered with a status we did not expect."""

    def __init__(self, method: "str", path: "str", status: "int", body: "bytes", address: "str | None" = None) -> None:
        self.method, self.path, self.status, self.body = method, path, status, body
        text = body[:500].decode("utf-8", "replace")
        where = "Runtime API at %s: " % address if address else ""
        super().__init__("%s%s %s returned HTTP %d: %s" % (where, method, path, status, text))


class AnswerUnconfirmed(ConnectionError):
    """A POST was written but the connection closed before its reply: the Runtime API may have
    taken it. It is not sent again (an answer must never arrive twice)."""


def _split_address(address: "str") -> "tuple[str, int]":
    """'127.0.0.1:9001', 'localhost:9001' or '[::1]:9001' -> (host, port)."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise ValueError("AWS_LAMBDA_RUNTIME_API must be HOST:PORT, got %r" % address)
    return host.strip("[]"), int(port)


def _connect(host: "str", port: "int") -> "_socket.socket":
    for family in (_socket.AF_INET, _socket.AF_INET6):
        try:
            _socket.inet_pton(family, host)
        except OSError:
            continue
        sock = _socket.socket(family, _socket.SOCK_STREAM)
        try:
            sock.connect((host, port))
        except BaseException:
            sock.close()
            raise
        return sock
    from shim.runtime import fallbacks  # a name such as localhost (Lambda's is an IP): not at cold start

    return fallbacks.connect_by_name(host, port)


_RESPONSE_PATH = protocol.response_path("%s")


# The peer closed the connection: EOFError(started), started saying whether any byte of the reply had
# arrived (a builtin, raised only by this module's reads: a class of its own costs the cold start).
_Closed = EOFError
_FAULTS = (EOFError, ConnectionResetError, BrokenPipeError)


class RuntimeAPI:
    """The Runtime API over one keep-alive connection.

    With pipelining (the default), an answer and the next GET /next leave in one
    write: one syscall and one wake-up of the API fewer per invoke. HTTP/1.1 allows
    it and Lambda's API (Go's net/http) serves pipelined requests in order. While
    that GET is outstanding the connection is waiting for an event, so any other
    post (the /error after a 413) goes over a second, short-lived connection.
    SHIM_PIPELINE=0 turns it off for Runtime APIs that cannot take it.

    Faults are shim.runtime.fallbacks's: a request is sent again only when that cannot
    deliver it twice (else ConnectionError, or AnswerUnconfirmed for a POST); notice(message)
    hears about every retry and the switch away from keep-alive.

    A streamed answer (shim.runtime.stream) is written on this connection by stream.py's
    _post_head/_post_end/_post_abandon, which drive its socket and reply reader: kept there,
    as every cold start loads this module and only a streaming function needs them.
    """

    def __init__(
        self,
        address: "str",
        user_agent: "str" = USER_AGENT,
        pipeline: "bool" = True,
        notice: "Callable[[str], object] | None" = None,
    ) -> None:
        self.address = address
        self.user_agent = user_agent
        self.pipeline = pipeline
        self.keep_alive = True  # False once the server was seen closing connections unannounced
        self.notice = notice
        self._host, self._port = _split_address(address)
        self._sock: "_socket.socket | None" = None
        self._buf = b""  # what was received and not yet read
        self._memo: "Memo | None" = http1.memo()  # the last usual reply to a POST; None once not keep_alive
        self._next_sent = False  # a GET /next went out behind the last answer; its reply is to come
        self._wakeup_fd: "int | None" = None  # readable when a signal arrived (see wake_on)
        self._on_wake: "Callable[[], object] | None" = None
        self._poll: "Callable[[], list[tuple[int, int]]] | None" = (
            None  # poll() on the socket and that fd, per connection
        )
        self._common = ("Host: %s\r\nUser-Agent: %s\r\n" % (address, user_agent)).encode("latin-1")
        self._next_request = b"GET " + NEXT.encode() + b" HTTP/1.1\r\n" + self._common + b"\r\n"
        # POST /response heads with `%s` for the request id and `%d` for the length, by content type.
        start = b"POST " + _RESPONSE_PATH.encode() + b" HTTP/1.1\r\n" + self._common.replace(b"%", b"%%")
        self._response_heads = {
            kind: start + b"Content-Type: " + kind.encode() + b"\r\nContent-Length: %d\r\n\r\n"
            for kind in ("application/json", "application/unknown")
        }

    # -- the four calls of the API -------------------------------------------------------

    def next(self) -> "Invocation":
        """Block until Lambda hands us an event."""
        if self._next_sent:
            self._next_sent = False
            try:
                status, headers, body = self._read_response("GET")
            except _FAULTS as exc:
                from shim.runtime import fallbacks  # not at cold start: loaded by the first fault

                status, headers, body = fallbacks.next_again(self, exc)
        else:
            status, headers, body = self._exchange(self._next_request, b"", "GET", NEXT)
        if status != 200:
            raise RuntimeAPIError("GET", NEXT, status, body, self.address)
        return Invocation(headers, body)

    def respond(
        self,
        request_id: "str",
        body: "bytes",
        content_type: "str" = "application/json",
        invocation_id: "str | None" = None,
        then_next: "bool" = False,
    ) -> "int":
        head = self._response_heads.get(content_type) if not invocation_id else None
        if head is not None and not self._next_sent:  # most answers: the head is one formatting of bytes
            then_next = then_next and self.pipeline
            status, _, reply = self._exchange(
                head % (request_id.encode("latin-1"), len(body)),
                body,
                "POST",
                request_id,
                self._next_request if then_next else b"",
            )
            self._next_sent = then_next and self._sock is not None  # not if the API closed the connection
            if status != 202:
                raise RuntimeAPIError("POST", _RESPONSE_PATH % request_id, status, reply, self.address)
            return status
        path = protocol.response_path(request_id)
        extra = "Content-Type: %s\r\n" % content_type
        if invocation_id:
            extra += "%s: %s\r\n" % (protocol.INVOCATION_ID, header_value(invocation_id))
        return self._post(path, body, extra, then_next)

    def fail(
        self,
        request_id: "str",
        error_body: "bytes",
        error_type: "str",
        xray_cause: "str | None" = None,
        invocation_id: "str | None" = None,
        then_next: "bool" = False,
    ) -> "int":
        path = protocol.error_path(request_id)
        return self._post(path, error_body, protocol.error_headers(error_type, xray_cause, invocation_id), then_next)

    def init_error(self, error_body: "bytes", error_type: "str") -> "int":
        return self._post(protocol.INIT_ERROR, error_body, protocol.error_headers(error_type, None, None), False)

    def restore_next(self) -> "Headers":
        """SnapStart: block until the snapshot is restored. Returns the reply's headers."""
        status, headers, body = self.call("GET", protocol.RESTORE_NEXT)
        if status != 200:
            raise RuntimeAPIError("GET", protocol.RESTORE_NEXT, status, body, self.address)
        return headers

    def restore_error(self, error_body: "bytes", error_type: "str") -> "int":
        return self._post(protocol.RESTORE_ERROR, error_body, protocol.error_headers(error_type, None, None), False)

    def call(self, method: "str", path: "str", body: "bytes" = b"", extra_headers: "str" = "") -> "Reply":
        """Any other request (SnapStart's, the Extensions API's): (status, Headers, body), whatever the status."""
        if self._next_sent:
            raise RuntimeError("a GET /next is outstanding on this connection")
        head = http1.request_head(method, path, self._common + extra_headers.encode("latin-1"), len(body))
        return self._exchange(head, body, method, path)

    def wake_on(self, fd: "int | None", on_wake: "Callable[[], object] | None" = None) -> None:
        """Wait for a GET's reply in poll() on the socket and `fd` (shim.runtime.signals's wake-up pipe)
        instead of in recv(): a signal that arrives just before the wait, or in another thread, then
        ends the wait too, and its handler runs at once; then on_wake() (which may raise, to stop
        waiting) unless the reply is there. For the main thread's connection only."""
        self._on_wake = on_wake
        if fd != self._wakeup_fd:
            self._wakeup_fd = fd
            self._poll = None

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        self._next_sent = False
        self._buf = b""

    def fileno(self) -> "int | None":
        """The descriptor of the connection to the Runtime API, or None while there is none."""
        return self._sock.fileno() if self._sock is not None else None

    # -- plumbing ------------------------------------------------------------------------

    def _post(self, path: "str", body: "bytes", extra_headers: "str", then_next: "bool") -> "int":
        if self._next_sent:  # the connection awaits an event (the /error after a 413): not at cold start
            from shim.runtime import fallbacks

            return fallbacks.post_aside(self, path, body, extra_headers)
        head = http1.request_head("POST", path, self._common + extra_headers.encode("latin-1"), len(body))
        then_next = then_next and self.pipeline
        status, _, reply = self._exchange(head, body, "POST", path, self._next_request if then_next else b"")
        self._next_sent = then_next and self._sock is not None  # not if the API closed the connection
        if status != 202:
            raise RuntimeAPIError("POST", path, status, reply, self.address)
        return status

    def _connect(self) -> "_socket.socket":
        try:
            sock = _connect(self._host, self._port)
        except OSError as exc:
            raise ConnectionError(
                "cannot connect to the Runtime API at %s: %s" % (self.address, exc.strerror or exc)
            ) from None
        sock.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
        self._sock = sock
        self._buf = b""
        self._poll = None
        return sock

    def _exchange(self, head: "bytes", body: "bytes", method: "str", path: "str", tail: "bytes" = b"") -> "Reply":
        """Send one request (and `tail`, a pipelined one) and read the first reply. `path` is for
        messages (respond() passes only its request id: the path is formatted when a message needs it).

        Sent again on a new connection at most once, and only when that cannot deliver
        it twice (shim.runtime.fallbacks.after): `written` turns true with the first byte the kernel took.
        """
        for attempt in (1, 2):
            reused = self._sock is not None
            sock = self._sock or self._connect()
            written = False
            try:
                if len(body) > _BIG_BODY:  # no 5 MB copy just to save a syscall
                    data = head
                    sent = sock.send(data)
                    written = True
                    if sent != len(data):
                        sock.sendall(memoryview(data)[sent:])
                    sock.sendall(body)
                    if tail:
                        sock.sendall(tail)
                else:
                    data = head + body + tail
                    sent = sock.send(data)  # one syscall, as sendall; but it says whether any byte left
                    written = True
                    if sent != len(data):
                        sock.sendall(memoryview(data)[sent:])
                return self._read_response(method)
            except _FAULTS as exc:
                from shim.runtime import fallbacks  # not at cold start: loaded by the first fault

                message = fallbacks.after(self, exc, attempt, reused, written, method, path)
                if message is not None:
                    raise (AnswerUnconfirmed if method == "POST" else ConnectionError)(message) from None
        raise AssertionError("unreachable: the second attempt returns or raises")

    def _fill(self, started: "bool", idle: "bool" = False) -> None:
        # 64 KiB: a fresh buffer of that size comes from malloc's heap, no syscall but the read
        # (one of 256 KiB was mmap'ed, mremap'ed and munmap'ed on every read).
        if idle and self._wakeup_fd is not None:
            self._await_readable()
        chunk = self._sock.recv(65536)  # type: ignore[union-attr]  # (read on a connection)
        if not chunk:
            raise _Closed(started)
        self._buf = self._buf + chunk if self._buf else chunk

    def _await_readable(self) -> None:
        """Return once the socket is readable (or closed); a signal's Python handler runs meanwhile."""
        poll = self._poll
        wakeup: "int" = self._wakeup_fd  # type: ignore[assignment]  # (set: see _fill)
        if poll is None:
            import select  # loaded at start-up already by shim.runtime.lifeline, under the launcher

            poller = select.poll()
            poller.register(self._sock.fileno(), select.POLLIN)  # type: ignore[union-attr]
            poller.register(wakeup, select.POLLIN)
            poll = self._poll = poller.poll
        while True:
            for fd, _ in poll():
                if fd != wakeup:
                    return
            # Only the wake-up: its signal's handler has run by now (on the way back from poll).
            drain(wakeup)
            if self._on_wake is not None:
                self._on_wake()

    def _read_response(self, method: "str") -> "Reply":
        # The buffer is bytes, not a bytearray: a reply that arrived whole is two slices of it
        # (head, the rest), where a bytearray took six copies and moves.
        buf = self._buf
        end = buf.find(b"\r\n\r\n")
        while end < 0:
            self._fill(bool(buf), not buf and method == "GET")  # an event is awaited: idle
            buf = self._buf
            end = buf.find(b"\r\n\r\n")
        head = buf[:end]
        rest = buf[end + 4 :]
        memo = self._memo  # the last usual reply to a POST (http1.memo), looked up inline: a call costs more
        if method == "POST" and memo is not None and head == memo[0]:
            status, headers, length, after = memo[1]
        else:
            try:
                status, headers, length, after = http1.parse_response(head, method, memo if method == "POST" else None)
            except ProtocolError as exc:
                raise ConnectionError("Runtime API at %s sent %s" % (self.address, exc)) from None
        if length == len(rest):  # the usual case: the buffer holds the body and nothing after it
            self._buf = b""
            body = rest
        else:
            self._buf = rest
            if length >= 0:
                body = self._read_exact(length)
            elif length == CHUNKED:
                from shim.runtime import fallbacks  # Lambda's API sends no chunked reply: not at cold start

                body = fallbacks.read_chunked(self)
            else:
                from shim.runtime import fallbacks  # an HTTP/1.0 server's: not at cold start

                body = fallbacks.read_to_close(self)
        if after != KEEP or not self.keep_alive:
            self.close()  # as the server said, or as HTTP/1.0 implies (no news: say nothing)
            if after == CLOSE_UNANNOUNCED:
                from shim.runtime import fallbacks

                fallbacks.closes_unannounced(self, "after its HTTP/1.0 reply", say=False)
        return status, headers, body

    def _read_exact(self, n: "int") -> "bytes":
        buf = self._buf
        have = len(buf)
        if have >= n:
            if have == n:  # the usual case: the buffer holds the body and nothing after it
                self._buf = b""
                return buf
            self._buf = buf[n:]
            return buf[:n]
        # Large bodies: receive straight into one preallocated buffer, no re-concatenation.
        body = bytearray(n)
        body[:have] = buf
        self._buf = b""
        view = memoryview(body)
        while have < n:
            got = self._sock.recv_into(view[have:])  # type: ignore[union-attr]
            if not got:
                raise _Closed(True)
            have += got
        return bytes(body)
