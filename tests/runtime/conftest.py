"""Shared by the runtime's in-process tests: a scripted socket server and Invocations built from raw heads."""

import os
import socket
import threading
import time

import pytest

from shim.runtime import protocol
from shim.runtime.client import Headers, Invocation


class ScriptedServer:
    """Accepts connections on 127.0.0.1 and answers each request with the next scripted reply.

    A reply is sent byte for byte as given, so a test controls the framing exactly:
    bytes are written at once (or `piece_size` bytes at a time, with a pause between),
    b"" says nothing yet (a pipelined request's reply can then go out with the next
    one's), and None drops the connection without answering. Requests are parsed
    from one buffer per connection, so pipelined requests are seen one by one.
    """

    def __init__(self, replies, close_after_each=False, piece_size=None):
        self.replies = list(replies)
        self.close_after_each = close_after_each
        self.piece_size = piece_size
        self.requests = []  # (head, body) in arrival order
        self.connections = 0
        self._conn = None
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.address = "127.0.0.1:%d" % self.sock.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def close(self):
        # shutdown() wakes a thread blocked in accept() or recv(); close() alone would not.
        for sock in (self.sock, self._conn):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except (OSError, AttributeError):
                pass
        self.sock.close()
        self._thread.join(5)
        assert not self._thread.is_alive()

    def _serve(self):
        try:
            while self.replies:
                conn, _ = self.sock.accept()
                self.connections += 1
                self._conn = conn
                with conn:
                    self._converse(conn)
        except OSError:  # closed by close()
            pass

    def _converse(self, conn):
        buf = b""
        while self.replies:
            while b"\r\n\r\n" not in buf:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                buf += chunk
            head, _, buf = buf.partition(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            while len(buf) < length:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                buf += chunk
            self.requests.append((head, buf[:length]))
            buf = buf[length:]
            reply = self.replies.pop(0)
            if reply is None:
                return
            self._send(conn, reply)
            if self.close_after_each:
                return

    def _send(self, conn, reply):
        if not self.piece_size:
            conn.sendall(reply)
            return
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for start in range(0, len(reply), self.piece_size):
            conn.sendall(reply[start : start + self.piece_size])
            time.sleep(0.0005)


@pytest.fixture
def scripted_server():
    """scripted_server(replies, close_after_each=False, piece_size=None) -> a started ScriptedServer, closed at teardown."""
    servers = []

    def make(replies, **options):
        server = ScriptedServer(replies, **options)
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.close()


NAMES = {
    "request_id": protocol.REQUEST_ID,
    "deadline_ms": protocol.DEADLINE_MS,
    "function_arn": protocol.FUNCTION_ARN,
    "trace_id": protocol.TRACE_ID,
    "client_context": protocol.CLIENT_CONTEXT,
    "cognito_identity": protocol.COGNITO_IDENTITY,
    "tenant_id": protocol.TENANT_ID,
    "invocation_id": protocol.INVOCATION_ID,
    "content_type": "Content-Type",
}


def raw_head(**headers):
    """The head of a GET /next reply as the client keeps it (no blank line); values are str or bytes."""
    head = b"HTTP/1.1 200 OK"
    for name, value in headers.items():
        if value is not None:
            value = value if isinstance(value, bytes) else str(value).encode("utf-8")
            head += b"\r\n" + NAMES[name].encode("ascii") + b": " + value
    return head


@pytest.fixture
def make_invocation():
    """make_invocation(body=b"{}", request_id="req-1", content_type="application/json", **headers) -> client.Invocation,
    parsed from a raw head exactly as the client parses one from /next."""

    def make(body=b"{}", request_id="req-1", content_type="application/json", **headers):
        return Invocation(Headers(raw_head(request_id=request_id, content_type=content_type, **headers)), body)

    return make


@pytest.fixture
def trace_env():
    """invoke.run sets or removes _X_AMZN_TRACE_ID in this process's environment: put it back afterwards."""
    saved = os.environ.get("_X_AMZN_TRACE_ID")
    yield
    if saved is None:
        os.environ.pop("_X_AMZN_TRACE_ID", None)
    else:
        os.environ["_X_AMZN_TRACE_ID"] = saved


@pytest.fixture
def socket_timeout():
    """Sockets made during the test (the client's _socket ones too) give up after 10 s, so a client
    waiting for bytes that never come fails the test instead of hanging the suite."""
    saved = socket.getdefaulttimeout()
    socket.setdefaulttimeout(10)
    yield
    socket.setdefaulttimeout(saved)
