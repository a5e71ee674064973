"""The Lambda Runtime API client: its calls (next, respond, fail, ...), the event /next hands over, its errors.

The calls are made on one keep-alive HTTP/1.1 connection over a raw socket
(shim.runtime.connection, which RuntimeAPI extends: the hot path looks its
methods up on the instance, with no hop to another object). Their requests are
bytes made once here, as far as they can be; nothing here knows about handlers
or JSON.
"""
import sys

from shim import __version__
from shim.runtime import http1, protocol
from shim.runtime.connection import FAULTS, AnswerUnconfirmed, Connection
from shim.runtime.http1 import Headers, header_value
from shim.runtime.protocol import NEXT

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (the cold start)
if TYPE_CHECKING:
    from typing import Callable

    from shim.runtime.connection import Reply

__all__ = ["AnswerUnconfirmed", "Headers", "Invocation", "RuntimeAPI", "RuntimeAPIError", "deadline_ms", "header_value"]
USER_AGENT = "lambda-shim/%s (Python %d.%d.%d)" % (__version__, *sys.version_info[:3])


class RuntimeAPIError(Exception):
    """The Runtime API answered with a status we did not expect."""

    def __init__(self, method: "str", path: "str", status: "int", body: "bytes", address: "str | None" = None) -> None:
        self.method, self.path, self.status, self.body = method, path, status, body
        text = body[:500].decode("utf-8", "replace")
        where = "Runtime API at %s: " % address if address else ""
        super().__init__("%s%s %s returned HTTP %d: %s" % (where, method, path, status, text))


class Invocation:
    """One event from /next, with the headers the runtime cares about (decoded only here)."""

    __slots__ = ("request_id", "deadline_raw", "function_arn", "trace_id", "client_context",
                 "cognito_identity", "tenant_id", "invocation_id", "content_type", "body", "headers")

    def __init__(self, headers: "Headers", body: "bytes") -> None:
        self.headers = headers
        self.body = body
        fields = headers.fields or headers.split()
        get = fields.get
        try:  # the common case, inline: the values present, ASCII or UTF-8
            self.request_id = get(_REQUEST_ID).strip().decode()  # type: ignore[union-attr]  # (caught below)
            value = get(_FUNCTION_ARN)
            self.function_arn = value.strip().decode() if value is not None else None
            value = get(_TRACE_ID)
            self.trace_id = value.strip().decode() if value is not None else None
            value = get(_CONTENT_TYPE)
            self.content_type = value.strip().decode() if value is not None else None
        except (AttributeError, UnicodeDecodeError):  # no request id, or a value that is not UTF-8
            self.request_id, self.function_arn, self.trace_id, self.content_type = map(
                _text, map(headers.get, (_REQUEST_ID, _FUNCTION_ARN, _TRACE_ID, _CONTENT_TYPE)))
        self.deadline_raw = get(_DEADLINE_MS)  # parsed when asked for (deadline_ms)
        # Usually absent: one dict lookup each, the decoding only when present.
        self.client_context = _text(headers.get(_CLIENT_CONTEXT)) if _CLIENT_CONTEXT in fields else None
        self.cognito_identity = _text(headers.get(_COGNITO_IDENTITY)) if _COGNITO_IDENTITY in fields else None
        self.tenant_id = _text(headers.get(_TENANT_ID)) if _TENANT_ID in fields else None
        self.invocation_id = _text(headers.get(_INVOCATION_ID)) if _INVOCATION_ID in fields else None

    @property
    def deadline_ms(self) -> "int | None":
        return deadline_ms(self.deadline_raw)


def deadline_ms(raw: "bytes | None") -> "int | None":
    """Lambda-Runtime-Deadline-Ms as an int, or None when it is missing or not a number."""
    if raw is None:
        return None
    raw = raw.strip()
    return int(raw) if raw.isdigit() else None


(_REQUEST_ID, _DEADLINE_MS, _FUNCTION_ARN, _TRACE_ID, _CLIENT_CONTEXT, _COGNITO_IDENTITY, _TENANT_ID,
 _INVOCATION_ID, _CONTENT_TYPE) = map(http1.key, (
    protocol.REQUEST_ID, protocol.DEADLINE_MS, protocol.FUNCTION_ARN, protocol.TRACE_ID, protocol.CLIENT_CONTEXT,
    protocol.COGNITO_IDENTITY, protocol.TENANT_ID, protocol.INVOCATION_ID, "Content-Type"))


def _text(raw: "bytes | None") -> "str | None":
    # Ids are ASCII; Client-Context is JSON and may carry UTF-8.
    if raw is None:
        return None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


_RESPONSE_PATH = protocol.response_path("%s")


class RuntimeAPI(Connection):
    """The Runtime API's calls, over one keep-alive connection (shim.runtime.connection.Connection:
    its retries on faults, AnswerUnconfirmed, its switch away from keep-alive).

    With pipelining (the default), an answer and the next GET /next leave in one
    write: one syscall and one wake-up of the API fewer per invoke. HTTP/1.1 allows
    it and Lambda's API (Go's net/http) serves pipelined requests in order. While
    that GET is outstanding the connection is waiting for an event, so any other
    post (the /error after a 413) goes over a second, short-lived connection.
    SHIM_PIPELINE=0 turns it off for Runtime APIs that cannot take it.
    """

    def __init__(self, address: "str", user_agent: "str" = USER_AGENT, pipeline: "bool" = True,
                 notice: "Callable[[str], object] | None" = None) -> None:
        Connection.__init__(self, address, user_agent, pipeline, notice)
        self._next_request = b"GET " + NEXT.encode() + b" HTTP/1.1\r\n" + self._common + b"\r\n"
        # POST /response heads with `%s` for the request id and `%d` for the length, by content type.
        start = b"POST " + _RESPONSE_PATH.encode() + b" HTTP/1.1\r\n" + self._common.replace(b"%", b"%%")
        self._response_heads = {kind: start + b"Content-Type: " + kind.encode() + b"\r\nContent-Length: %d\r\n\r\n"
                                for kind in ("application/json", "application/unknown")}

    # -- the four calls of the API -------------------------------------------------------

    def next(self) -> "Invocation":
        """Block until Lambda hands us an event."""
        if self._next_sent:
            self._next_sent = False
            try:
                status, headers, body = self._read_response("GET")
            except FAULTS as exc:
                if self._reply_started(exc):
                    self.close()
                    raise ConnectionError("Runtime API at %s closed the connection in the middle of the reply "
                                          "to GET %s" % (self.address, NEXT)) from None
                # It answered the post and closed without a `Connection: close` (HTTP/1.0 style),
                # so it never read the GET that went out behind it: ask again, never lose it.
                self.close()
                self._closes_unannounced("after answering a post")
                status, headers, body = self._exchange(self._next_request, b"", "GET", NEXT)
        else:
            status, headers, body = self._exchange(self._next_request, b"", "GET", NEXT)
        if status != 200:
            raise RuntimeAPIError("GET", NEXT, status, body, self.address)
        return Invocation(headers, body)

    def respond(self, request_id: "str", body: "bytes", content_type: "str" = "application/json",
                invocation_id: "str | None" = None, then_next: "bool" = False) -> "int":
        head = self._response_heads.get(content_type) if not invocation_id else None
        if head is not None and not self._next_sent:  # most answers: the head is one formatting of bytes
            then_next = then_next and self.pipeline
            status, _, reply = self._exchange(head % (request_id.encode("latin-1"), len(body)), body, "POST",
                                              request_id, self._next_request if then_next else b"")
            self._next_sent = then_next and self._sock is not None  # not if the API closed the connection
            if status != 202:
                raise RuntimeAPIError("POST", _RESPONSE_PATH % request_id, status, reply, self.address)
            return status
        path = protocol.response_path(request_id)
        extra = "Content-Type: %s\r\n" % content_type
        if invocation_id:
            extra += "%s: %s\r\n" % (protocol.INVOCATION_ID, header_value(invocation_id))
        return self._post(path, body, extra, then_next)

    def fail(self, request_id: "str", error_body: "bytes", error_type: "str", xray_cause: "str | None" = None,
             invocation_id: "str | None" = None, then_next: "bool" = False) -> "int":
        path = protocol.error_path(request_id)
        return self._post(path, error_body, self._error_headers(error_type, xray_cause, invocation_id), then_next)

    def init_error(self, error_body: "bytes", error_type: "str") -> "int":
        return self._post(protocol.INIT_ERROR, error_body, self._error_headers(error_type, None, None), False)

    def restore_next(self) -> "Headers":
        """SnapStart: block until the snapshot is restored. Returns the reply's headers."""
        status, headers, body = self.call("GET", protocol.RESTORE_NEXT)
        if status != 200:
            raise RuntimeAPIError("GET", protocol.RESTORE_NEXT, status, body, self.address)
        return headers

    def restore_error(self, error_body: "bytes", error_type: "str") -> "int":
        path = protocol.RESTORE_ERROR
        status, _, reply = self.call("POST", path, error_body, self._error_headers(error_type, None, None))
        if status != 202:
            raise RuntimeAPIError("POST", path, status, reply, self.address)
        return status

    def call(self, method: "str", path: "str", body: "bytes" = b"", extra_headers: "str" = "") -> "Reply":
        """Any other request (SnapStart's, the Extensions API's): (status, Headers, body), whatever the status."""
        if self._next_sent:
            raise RuntimeError("a GET /next is outstanding on this connection")
        head = http1.request_head(method, path, self._common + extra_headers.encode("latin-1"), len(body))
        return self._exchange(head, body, method, path)

    # -- plumbing ------------------------------------------------------------------------

    @staticmethod
    def _error_headers(error_type: "str", xray_cause: "str | None", invocation_id: "str | None") -> "str":
        extra = "Content-Type: application/json\r\n%s: %s\r\n" % (protocol.ERROR_TYPE, header_value(error_type))
        if xray_cause:
            extra += "%s: %s\r\n" % (protocol.XRAY_CAUSE, header_value(xray_cause))
        if invocation_id:
            extra += "%s: %s\r\n" % (protocol.INVOCATION_ID, header_value(invocation_id))
        return extra

    def _post(self, path: "str", body: "bytes", extra_headers: "str", then_next: "bool") -> "int":
        if self._next_sent:
            side = RuntimeAPI(self.address, self.user_agent, pipeline=False, notice=self.notice)
            try:
                return side._post(path, body, extra_headers, False)
            finally:
                side.close()
        head = http1.request_head("POST", path, self._common + extra_headers.encode("latin-1"), len(body))
        then_next = then_next and self.pipeline
        status, _, reply = self._exchange(head, body, "POST", path, self._next_request if then_next else b"")
        self._next_sent = then_next and self._sock is not None  # not if the API closed the connection
        if status != 202:
            raise RuntimeAPIError("POST", path, status, reply, self.address)
        return status
