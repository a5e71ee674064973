"""A deliberately small Runtime API for benchmarks: one thread, keep-alive, minimal parsing.

Unlike shim.local.emulator (threads, queues, recording), this serves one runtime in
the benchmark's own thread, so the benchmark measures the runtime, not the
server. Its own ceiling is measured first (see ceiling()) and printed.
Every answer is checked: a wrong or missing response raises BenchmarkError.
"""

import os
import socket
import time

API = b"/2018-06-01/runtime/invocation/"


class BenchmarkError(Exception):
    """A runtime answered wrongly, or not at all: the benchmark must fail, not report."""


def next_reply(request_id, body, content_type=b"application/json"):
    deadline = int((time.time() + 900) * 1000)
    head = (
        b"HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: %s\r\nLambda-Runtime-Deadline-Ms: %d\r\n"
        b"Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:000000000000:function:bench\r\n"
        b"Lambda-Runtime-Trace-Id: Root=1-00000000-000000000000000000000000;Sampled=0\r\n"
        b"Content-Type: %s\r\nContent-Length: %d\r\n\r\n" % (request_id, deadline, content_type, len(body))
    )
    return head + body


_OK = b'{"status":"OK"}'
ACCEPTED = b"HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(_OK), _OK)


class Connection:
    def __init__(self, sock):
        self.sock = sock
        self.buf = bytearray()

    def request(self):
        """(method, path, body) of the next request; None when the peer closed."""
        buf = self.buf
        while True:
            end = buf.find(b"\r\n\r\n")
            if end >= 0:
                break
            chunk = self.sock.recv(262144)
            if not chunk:
                return None
            buf += chunk
        head = bytes(buf[:end])
        del buf[: end + 4]
        method, path = head.split(b" ", 2)[:2]
        length = 0
        marker = head.lower().find(b"\r\ncontent-length:")
        if marker >= 0:
            line_end = head.find(b"\r\n", marker + 2)
            length = int(head[marker + 17 : line_end if line_end >= 0 else len(head)].strip())
        while len(buf) < length:
            chunk = self.sock.recv(max(262144, length - len(buf)))
            if not chunk:
                return None
            buf += chunk
        body = bytes(buf[:length])
        del buf[:length]
        return method, path, body


class BenchAPI:
    """Serves one runtime at a time. Timestamps are time.perf_counter()."""

    def __init__(self):
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.address = "127.0.0.1:%d" % self.listener.getsockname()[1]
        self.conn = None
        self.process = None  # when set, a dead runtime ends waits with BenchmarkError

    def close(self):
        self.drop()
        self.listener.close()

    def drop(self):
        if self.conn is not None:
            self.conn.sock.close()
            self.conn = None

    def reset(self, process):
        """Before a new runtime starts: forget the last one, including connections it left
        queued in the backlog (a dead runtime's GET /next must not get the next event)."""
        self.drop()
        self.listener.setblocking(False)
        try:
            while True:
                self.listener.accept()[0].close()
        except (BlockingIOError, socket.timeout):
            pass
        self.process = process

    def _accept(self, timeout):
        self.listener.settimeout(0.05)
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            try:
                sock, _ = self.listener.accept()
            except socket.timeout:
                if self.process is not None and self.process.poll() is not None:
                    raise BenchmarkError("runtime exited with %s before connecting" % self.process.returncode)
                continue
            sock.settimeout(None)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return Connection(sock)
        raise BenchmarkError("runtime did not connect within %.0f s" % timeout)

    def request(self, timeout=30.0):
        """The next request from the runtime, reconnecting when it opens a new connection."""
        while True:
            if self.conn is None:
                self.conn = self._accept(timeout)
            try:
                got = self.conn.request()
            except ConnectionError:
                got = None
            if got is not None:
                return got
            self.drop()

    def expect_next(self, timeout=30.0):
        method, path, _ = self.request(timeout)
        if method != b"GET" or not path.endswith(b"/next"):
            raise BenchmarkError("expected GET /next, got %s %s" % (method.decode(), path.decode()))
        return time.perf_counter()

    def hand(self, reply):
        self.conn.sock.sendall(reply)

    def expect_response(self, request_id, check=None):
        method, path, body = self.request()
        if path != API + request_id + b"/response":
            raise BenchmarkError(
                "expected the response for %s, got %s %s: %r"
                % (request_id.decode(), method.decode(), path.decode(), body[:300])
            )
        if check is not None:
            check(body)
        self.conn.sock.sendall(ACCEPTED)
        return time.perf_counter()

    def serve(self, count, reply_for, check=None):
        """Answer `count` /next polls with events and check each response; returns seconds taken.

        Expects the runtime to be polling /next already (its poll was consumed by the caller)."""
        start = time.perf_counter()
        for i in range(count):
            request_id = b"req-%d" % i
            self.hand(reply_for(request_id))
            self.expect_response(request_id, check)
            if i + 1 < count:
                self.expect_next()
        return time.perf_counter() - start


def ceiling(count=20000):
    """Invokes per second this server can take from a minimal raw-socket client (no runtime at all)."""
    api = BenchAPI()
    reply = next_reply(b"req", b"{}")
    pid = os.fork()
    if pid == 0:  # the client: the least a runtime can do per invoke (one write, the answer
        try:  # with the next poll pipelined behind it, and reads)
            sock = socket.create_connection(("127.0.0.1", int(api.address.rsplit(":", 1)[1])))
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = Connection(sock)
            poll = b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n"
            answer = (
                b"POST /2018-06-01/runtime/invocation/req/response HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}"
            )
            sock.sendall(poll)
            for i in range(count):
                _read_reply(conn)  # the event
                sock.sendall(answer + poll if i + 1 < count else answer)
                _read_reply(conn)  # 202
        finally:
            os._exit(0)
    try:
        api.expect_next()
        start = time.perf_counter()
        for i in range(count):
            api.hand(reply)
            api.expect_response(b"req")
            if i + 1 < count:
                api.expect_next()
        elapsed = time.perf_counter() - start
    finally:
        api.close()
        try:
            os.kill(pid, 9)  # done or failed, the client must not outlive the measurement
        except OSError:
            pass
        os.waitpid(pid, 0)
    return count / elapsed


def _read_reply(conn):
    buf = conn.buf
    while b"\r\n\r\n" not in buf:
        buf += _recv(conn.sock)
    end = buf.find(b"\r\n\r\n")
    head = bytes(buf[:end]).lower()
    marker = head.find(b"content-length:")
    length = int(head[marker + 15 :].split(b"\r\n", 1)[0]) if marker >= 0 else 0
    del buf[: end + 4]
    while len(buf) < length:
        buf += _recv(conn.sock)
    del buf[:length]


def _recv(sock):
    chunk = sock.recv(65536)
    if not chunk:  # the server went away: a client that kept reading b"" would spin forever
        os._exit(1)
    return chunk
