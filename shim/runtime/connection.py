"""The Runtime API's keep-alive HTTP/1.1 connection over a raw socket: sending, retrying, reading replies.

http.client costs about 300 µs more per invoke than this on loopback (it builds
an email.message for every response and imports ssl), so the requests are
precomputed bytes (shim.runtime.client makes them) and the replies are read by
shim.runtime.http1, which parses only what the API sends: a status line,
headers, and a body framed by Content-Length, chunked encoding or connection
close. This module does the socket side: connections, retries, pipelining,
waiting. Nothing here knows the API's calls, handlers or JSON.

It uses _socket, the C module under socket.py: socket.py imports selectors and
enum, and create_connection() resolves even an IP literal through getaddrinfo,
which loads the idna codec; together ~5 ms of a ~25 ms cold start.
"""
import _socket

from shim.runtime import http1, protocol
from shim.runtime.http1 import CHUNKED, CLOSE_UNANNOUNCED, KEEP, ProtocolError
from shim.runtime.signals import drain

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (the cold start)
if TYPE_CHECKING:
    from typing import Callable, Tuple

    from shim.runtime.http1 import Headers, Memo

    # A reply as the connection returns it: status, header fields, body.
    Reply = Tuple[int, Headers, bytes]

__all__ = ["FAULTS", "AnswerUnconfirmed", "Connection"]
_BIG_BODY = 64 * 1024  # above this, send head and body separately instead of copying
_RESPONSE_PATH = protocol.response_path("%s")  # for messages about a POST /response


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
    # A name such as localhost: resolve it, trying each address as create_connection does.
    error = OSError("cannot resolve %s" % host)
    for family, kind, proto, _, address in _socket.getaddrinfo(host, port, 0, _socket.SOCK_STREAM):
        sock = _socket.socket(family, kind, proto)
        try:
            sock.connect(address)
            return sock
        except OSError as exc:
            sock.close()
            error = exc
    raise error


# The peer closed the connection: EOFError(started), started saying whether any byte of the reply had
# arrived (a builtin, raised only by this module's reads: a class of its own costs the cold start).
_Closed = EOFError
FAULTS = (EOFError, ConnectionResetError, BrokenPipeError)  # what a read or write raises when the peer went away


class Connection:
    """One keep-alive connection to the Runtime API at `address` (HOST:PORT), opened when first used
    and again after a close. shim.runtime.client.RuntimeAPI makes the API's calls on it.

    Faults. A request goes out again, on a new connection, only when that cannot
    deliver it twice: a POST only if not one of its bytes was written (the server had
    reset the connection before it); a GET /next also when the server closed the
    connection before any byte of its reply (it never took it, or it has no event in
    it to lose). A POST whose reply never came raises AnswerUnconfirmed. A server that
    closes connections without saying so (an HTTP/1.0 reply, or a close found after an
    answer) gets a new connection per request from then on, and no pipelining.
    notice(message) hears about every retry and the switch.

    A streamed answer (shim.runtime.stream) is written on this connection by stream.py's
    _post_head/_post_end/_post_abandon, which drive its socket and reply reader: kept there,
    as every cold start loads this module and only a streaming function needs them.
    """

    def __init__(self, address: "str", user_agent: "str", pipeline: "bool",
                 notice: "Callable[[str], object] | None") -> None:
        self.address = address
        self.user_agent = user_agent
        self.pipeline = pipeline  # an answer and the next GET /next may leave in one write
        self.keep_alive = True    # False once the server was seen closing connections unannounced
        self.notice = notice
        self._host, self._port = _split_address(address)
        self._sock: "_socket.socket | None" = None
        self._buf = b""  # what was received and not yet read
        self._memo: "Memo | None" = http1.memo()  # the last usual reply to a POST; None once not keep_alive
        self._next_sent = False  # a GET /next went out behind the last answer; its reply is to come
        self._wakeup_fd: "int | None" = None  # readable when a signal arrived (see wake_on)
        self._on_wake: "Callable[[], object] | None" = None
        self._poll: "Callable[[], list[tuple[int, int]]] | None" = None  # poll() on the socket and that fd, per connection
        self._common = ("Host: %s\r\nUser-Agent: %s\r\n" % (address, user_agent)).encode("latin-1")

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

    def _closes_unannounced(self, when: "str", say: "bool" = True) -> None:
        """The server drops connections without saying so: stop reusing them (said once)."""
        if self.keep_alive:
            self.keep_alive = False
            self.pipeline = False
            self._memo = None  # a remembered reply skips the check that closes
            if say:
                self._notice("Runtime API at %s closed the connection %s without `Connection: close`; using a new "
                             "connection for every request from now on" % (self.address, when))

    def _notice(self, message: "str") -> None:
        if self.notice is not None:
            self.notice(message)

    def _connect(self) -> "_socket.socket":
        try:
            sock = _connect(self._host, self._port)
        except OSError as exc:
            raise ConnectionError("cannot connect to the Runtime API at %s: %s"
                                  % (self.address, exc.strerror or exc)) from None
        sock.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
        self._sock = sock
        self._buf = b""
        self._poll = None
        return sock

    def _exchange(self, head: "bytes", body: "bytes", method: "str", path: "str", tail: "bytes" = b"") -> "Reply":
        """Send one request (and `tail`, a pipelined one) and read the first reply. `path` is for
        messages (RuntimeAPI.respond() passes only its request id: the path is formatted when a message needs it).

        Sent again on a new connection at most once, and only when that cannot deliver
        it twice (see the class): `written` turns true with the first byte the kernel took.
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
                    sent = sock.send(data)   # one syscall, as sendall; but it says whether any byte left
                    written = True
                    if sent != len(data):
                        sock.sendall(memoryview(data)[sent:])
                return self._read_response(method)
            except FAULTS as exc:
                started = self._reply_started(exc)
                self.close()
                if not path.startswith("/"):  # respond()'s request id: its path, formatted only for a message
                    path = _RESPONSE_PATH % path
                if attempt == 1 and not written:
                    # The server had reset the connection: not one byte of this request left.
                    self._notice("Runtime API at %s had closed the connection before %s %s was sent; "
                                 "sending it on a new connection" % (self.address, method, path))
                    continue
                if attempt == 1 and reused and not started and method == "GET":
                    # A keep-alive connection the server dropped while idle: it took no GET from it.
                    self._closes_unannounced("while idle")
                    continue
                if method == "POST":
                    if reused and not started:
                        self._closes_unannounced("before answering")
                    raise AnswerUnconfirmed("Runtime API at %s closed the connection after %s %s was written and "
                                            "before its reply; not sending it again, as it may have been taken"
                                            % (self.address, method, path)) from None
                raise ConnectionError("Runtime API at %s closed the connection during %s %s"
                                      % (self.address, method, path)) from None
        raise AssertionError("unreachable: the second attempt returns or raises")

    def _reply_started(self, exc: "BaseException") -> "bool":
        """Whether any byte of the reply being read had arrived when `exc` struck."""
        if type(exc) is EOFError and exc.args:
            return bool(exc.args[0])
        return bool(self._buf)

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
        rest = buf[end + 4:]
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
                body = self._read_chunked()
            else:
                body = self._read_to_close()
        if after != KEEP or not self.keep_alive:
            self.close()  # as the server said, or as HTTP/1.0 implies (no news: say nothing)
            if after == CLOSE_UNANNOUNCED:
                self._closes_unannounced("after its HTTP/1.0 reply", say=False)
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

    def _read_chunked(self) -> "bytes":
        from shim.runtime.chunked import ChunkedDecoder  # not at cold start: Lambda's API sends no chunked reply

        decoder = ChunkedDecoder()
        parts = decoder.feed(self._buf)
        while not decoder.done:
            self._buf = b""
            self._fill(True)
            parts += decoder.feed(self._buf)
        self._buf = decoder.unused
        return b"".join(parts)

    def _read_to_close(self) -> "bytes":
        parts = [self._buf]
        self._buf = b""
        try:
            while True:
                self._fill(True)
                parts.append(self._buf)
                self._buf = b""
        except _Closed:
            pass
        self.close()
        return b"".join(parts)
