"""The Lambda Runtime API client: one keep-alive HTTP/1.1 connection over a raw socket.

http.client costs about 300 µs more per invoke than this on loopback (it builds
an email.message for every response and imports ssl), so the requests are
precomputed bytes and the response parser reads only what the API sends:
a status line, headers, and a body framed by Content-Length, chunked encoding
or connection close. Nothing here knows about handlers or JSON.
"""
import socket
import sys

from shim import __version__

API = "/2018-06-01/runtime"
USER_AGENT = "lambda-shim/%s (Python %d.%d.%d)" % ((__version__,) + tuple(sys.version_info[:3]))
_BIG_BODY = 64 * 1024  # above this, send head and body separately instead of copying


class RuntimeAPIError(Exception):
    """The Runtime API answered with a status we did not expect."""

    def __init__(self, method, path, status, body):
        self.method, self.path, self.status, self.body = method, path, status, body
        text = body[:500].decode("utf-8", "replace")
        super().__init__("%s %s returned HTTP %d: %s" % (method, path, status, text))


class Invocation:
    """One event from /next, with the headers the runtime cares about."""

    __slots__ = ("request_id", "deadline_ms", "function_arn", "trace_id", "client_context",
                 "cognito_identity", "tenant_id", "invocation_id", "content_type", "body")

    def __init__(self, headers, body):
        get = headers.get
        self.request_id = get("lambda-runtime-aws-request-id")
        deadline = get("lambda-runtime-deadline-ms")
        self.deadline_ms = int(deadline) if deadline and deadline.isdigit() else None
        self.function_arn = get("lambda-runtime-invoked-function-arn")
        self.trace_id = get("lambda-runtime-trace-id")
        self.client_context = get("lambda-runtime-client-context")
        self.cognito_identity = get("lambda-runtime-cognito-identity")
        self.tenant_id = get("lambda-runtime-aws-tenant-id")
        self.invocation_id = get("lambda-runtime-invocation-id")
        self.content_type = get("content-type")
        self.body = body


def _split_address(address):
    """'127.0.0.1:9001', 'localhost:9001' or '[::1]:9001' -> (host, port)."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise ValueError("AWS_LAMBDA_RUNTIME_API must be HOST:PORT, got %r" % address)
    return host.strip("[]"), int(port)


def _header_value(raw):
    # Ids are ASCII; Client-Context is JSON and may carry UTF-8.
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _clean(value):
    # A header value must not carry CR/LF (an exception class name can).
    return "".join(ch if " " <= ch <= "~" else "?" for ch in value)


class _Closed(Exception):
    """The peer closed the connection; `started` says whether any reply byte arrived."""

    def __init__(self, started):
        self.started = started


class RuntimeAPI:
    def __init__(self, address, user_agent=USER_AGENT):
        self.address = address
        self._host, self._port = _split_address(address)
        self._sock = None
        self._buf = bytearray()
        self._common = ("Host: %s\r\nUser-Agent: %s\r\n" % (address, user_agent)).encode("latin-1")
        self._next_request = b"GET " + (API + "/invocation/next").encode() + b" HTTP/1.1\r\n" + self._common + b"\r\n"

    # -- the four calls of the API -------------------------------------------------------

    def next(self):
        """Block until Lambda hands us an event."""
        status, headers, body = self._exchange(self._next_request, b"", "GET", "/invocation/next")
        if status != 200:
            raise RuntimeAPIError("GET", API + "/invocation/next", status, body)
        return Invocation(headers, body)

    def respond(self, request_id, body, content_type="application/json", invocation_id=None):
        path = "%s/invocation/%s/response" % (API, request_id)
        extra = "Content-Type: %s\r\n" % content_type
        if invocation_id:
            extra += "Lambda-Runtime-Invocation-Id: %s\r\n" % _clean(invocation_id)
        return self._post(path, body, extra)

    def fail(self, request_id, error_body, error_type, xray_cause=None, invocation_id=None):
        path = "%s/invocation/%s/error" % (API, request_id)
        return self._post(path, error_body, self._error_headers(error_type, xray_cause, invocation_id))

    def init_error(self, error_body, error_type):
        return self._post(API + "/init/error", error_body, self._error_headers(error_type, None, None))

    def close(self):
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        del self._buf[:]

    # -- plumbing ------------------------------------------------------------------------

    @staticmethod
    def _error_headers(error_type, xray_cause, invocation_id):
        extra = "Content-Type: application/json\r\nLambda-Runtime-Function-Error-Type: %s\r\n" % _clean(error_type)
        if xray_cause:
            extra += "Lambda-Runtime-Function-XRay-Error-Cause: %s\r\n" % _clean(xray_cause)
        if invocation_id:
            extra += "Lambda-Runtime-Invocation-Id: %s\r\n" % _clean(invocation_id)
        return extra

    def _post(self, path, body, extra_headers):
        head = ("POST %s HTTP/1.1\r\n" % path).encode("latin-1") + self._common
        head += (extra_headers + "Content-Length: %d\r\n\r\n" % len(body)).encode("latin-1")
        status, _, reply = self._exchange(head, body, "POST", path)
        if status != 202:
            raise RuntimeAPIError("POST", path, status, reply)
        return status

    def _connect(self):
        sock = socket.create_connection((self._host, self._port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._sock = sock
        del self._buf[:]
        return sock

    def _exchange(self, head, body, method, path):
        """Send one request and read its reply; retry once if a reused connection was stale."""
        for attempt in (1, 2):
            reused = self._sock is not None
            sock = self._sock or self._connect()
            try:
                self._send(sock, head, body)
                return self._read_response(method)
            except (_Closed, ConnectionResetError, BrokenPipeError) as exc:
                self.close()
                # A keep-alive connection the server dropped while idle fails before any
                # reply byte; resending is safe then. Anything else is a real fault.
                if attempt == 1 and reused and not getattr(exc, "started", False):
                    continue
                raise ConnectionError("Runtime API at %s closed the connection during %s %s"
                                      % (self.address, method, path)) from None

    @staticmethod
    def _send(sock, head, body):
        if len(body) > _BIG_BODY:
            sock.sendall(head)
            sock.sendall(body)
        else:
            sock.sendall(head + body)

    def _fill(self, started):
        chunk = self._sock.recv(262144)
        if not chunk:
            raise _Closed(started)
        self._buf += chunk

    def _read_response(self, method):
        buf = self._buf
        while True:
            end = buf.find(b"\r\n\r\n")
            if end >= 0:
                break
            self._fill(bool(buf))
        lines = bytes(buf[:end]).split(b"\r\n")
        del buf[:end + 4]
        try:
            status = int(lines[0].split(None, 2)[1])
        except (IndexError, ValueError):
            raise ConnectionError("Runtime API sent a malformed status line: %r" % lines[0][:100]) from None
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            headers[name.strip().lower().decode("latin-1")] = _header_value(value.strip())

        length = headers.get("content-length")
        if length is not None:
            body = self._read_exact(int(length))
        elif "chunked" in headers.get("transfer-encoding", "").lower():
            body = self._read_chunked()
        elif status in (204, 304) or 100 <= status < 200 or method == "HEAD":
            body = b""
        else:
            body = self._read_to_close()
        if headers.get("connection", "").lower() == "close":
            self.close()
        return status, headers, body

    def _read_exact(self, n):
        buf = self._buf
        if len(buf) >= n:
            body = bytes(buf[:n])
            del buf[:n]
            return body
        # Large bodies: receive straight into one preallocated buffer, no re-concatenation.
        body = bytearray(n)
        have = len(buf)
        body[:have] = buf
        del buf[:]
        view = memoryview(body)
        while have < n:
            got = self._sock.recv_into(view[have:])
            if not got:
                raise _Closed(True)
            have += got
        return bytes(body)

    def _read_line(self):
        buf = self._buf
        while True:
            end = buf.find(b"\r\n")
            if end >= 0:
                line = bytes(buf[:end])
                del buf[:end + 2]
                return line
            self._fill(True)

    def _read_chunked(self):
        parts = []
        while True:
            size = int(self._read_line().split(b";", 1)[0].strip(), 16)
            if size == 0:
                while self._read_line():  # trailers, then the blank line
                    pass
                return b"".join(parts)
            parts.append(self._read_exact(size))
            self._read_line()

    def _read_to_close(self):
        try:
            while True:
                self._fill(True)
        except _Closed:
            pass
        body = bytes(self._buf)
        self.close()
        return body
