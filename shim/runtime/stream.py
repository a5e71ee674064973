"""Streamed responses: a handler that is a generator function (or an async one) streams.

    def Handle(event, context):
        yield "first line\\n"          # on its way before the next line of the handler runs
        yield b"bytes as they are"

Each yielded chunk leaves at once as one HTTP chunk of a POST to /response with
`Lambda-Runtime-Function-Response-Mode: streaming` (str is sent as UTF-8; an empty
chunk is skipped, since a zero-size chunk would end the body). Nothing is buffered:
the socket has no Nagle delay and a chunk is handed to the kernel in one sendmsg,
without being copied, so memory stays flat however much is streamed.

Errors: one raised before the first chunk is an ordinary /error. After the first
byte the body cannot be taken back, so the error goes in the trailers the POST
declared (Error-Type, and Error-Body: base64 of the same JSON an /error would
carry) and is logged like any uncaught error. Lambda still counts it as a response.

HttpResponse, yielded first, turns the stream into an HTTP response for a Function
URL: the prelude (JSON status, headers, cookies, then 8 NUL bytes) goes first,
with the content type Lambda reads it by.

If the Runtime API closes the connection mid-stream, the generator is closed (its
`finally` runs), one line is logged and the runtime goes back to /next.
"""

import json

from shim.runtime import aio, chunked, errors, http1, invoke, logs, protocol
from shim.runtime.http1 import header_value

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (the cold start)
if TYPE_CHECKING:
    from _socket import socket
    from typing import Any, AsyncGenerator, Generator, Iterable, Mapping

    from shim.runtime.client import Invocation, RuntimeAPI
    from shim.runtime.invoke import Answer
    from shim.runtime.plugin_api import Handler
    from shim.runtime.signals import Guard

    Chunks = Generator[object, None, object]
    AsyncChunks = AsyncGenerator[object, None]

_CO_ASYNC_GENERATOR = 0x200  # inspect.CO_ASYNC_GENERATOR
DEFAULT_CONTENT_TYPE = "application/octet-stream"  # as the Node.js runtime sends for a plain stream
_ERROR_BODY_LIMIT = 64 * 1024  # trailers are headers: stay far below what a server takes


def prepare(handler: "Handler") -> None:
    """At init, for a streaming handler: an async one gets the environment's loop now, not on the first invoke."""
    if aio.code_flags(handler) & _CO_ASYNC_GENERATOR:
        aio.event_loop()


class HttpResponse:
    """Status, headers and cookies of a streamed HTTP response (Function URL, API Gateway streaming).

    Yield it first, then the body:

        from shim.runtime.stream import HttpResponse

        def Handle(event, context):
            yield HttpResponse(200, {"Content-Type": "text/html"}, cookies=["theme=dark; Path=/"])
            yield "<h1>Hello</h1>"
    """

    __slots__ = ("status_code", "headers", "cookies")
    status_code: int
    headers: "dict[str, str]"
    cookies: "list[str]"

    def __init__(
        self,
        status_code: int = 200,
        headers: "Mapping[str, str | int] | None" = None,
        cookies: "Iterable[str] | None" = None,
    ) -> None:
        if type(status_code) is not int or not 100 <= status_code <= 599:
            raise ValueError("HttpResponse: status_code must be an int from 100 to 599, got %r" % (status_code,))
        headers = dict(headers or {})
        for name, value in headers.items():
            if not isinstance(name, str) or not isinstance(value, (str, int)):
                raise TypeError("HttpResponse: headers map str to str, got %r: %r" % (name, value))
        if isinstance(cookies, (str, bytes)):  # one string is not a list of cookies
            raise TypeError("HttpResponse: cookies is a list of str (Set-Cookie values), got %r" % (cookies,))
        cookies = list(cookies or ())
        if not all(isinstance(cookie, str) for cookie in cookies):
            raise TypeError("HttpResponse: cookies is a list of str (Set-Cookie values), got %r" % (cookies,))
        plain = {name: str(value) for name, value in headers.items()}
        # What would end a header line early (CR, LF) or is no header at all: refused here, in the
        # handler's own frame, so it is the function's error and never bytes on the wire.
        for name, value in plain.items():
            problem = header_problem(name, value)
            if problem:
                raise ValueError("HttpResponse: header %r: %s" % (name, problem))
        for cookie in cookies:
            if not _plain_value(cookie):
                raise ValueError("HttpResponse: cookie %r: %s" % (cookie, _VALUE_PROBLEM))
        self.status_code = status_code
        self.headers = plain
        self.cookies = cookies

    def prelude(self) -> bytes:
        """The bytes that go before the body: the JSON metadata (never a raw NUL inside) and 8 NUL bytes."""
        meta = {"statusCode": self.status_code, "headers": self.headers, "cookies": self.cookies}
        return json.dumps(meta, ensure_ascii=True).encode("ascii") + protocol.PRELUDE_DELIMITER

    def __repr__(self) -> str:
        return "HttpResponse(%d, %r, cookies=%r)" % (self.status_code, self.headers, self.cookies)


# RFC 9110's token characters: what a header name may be made of.
_TOKEN = frozenset("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
_VALUE_PROBLEM = "a header value may not contain CR, LF or other control characters (only tab)"


def header_problem(name: "str", value: "str") -> "str | None":
    """Why (name, value) cannot be one HTTP header line, or None if it can (shared with the local Function URL)."""
    if not name or not _TOKEN.issuperset(name):
        return "a header name is one or more of A-Z a-z 0-9 and !#$%&'*+-.^_`|~ (no spaces, colons or line breaks)"
    if not _plain_value(value):
        return _VALUE_PROBLEM
    return None


def _plain_value(value: "str") -> "bool":
    if value.isprintable():  # the usual case, at C speed; it refuses tab and some Unicode spaces too
        return True
    return not any(c != "\t" and (c < " " or c == "\x7f") for c in value)


class _Disconnected(Exception):
    """The Runtime API closed the connection while the response was being written."""


def run(api: "RuntimeAPI", handler: "Handler", invocation: "Invocation", guard: "Guard") -> "Answer | None":
    """One streamed invoke. Returns an Answer for the caller to post when nothing was streamed
    (an error before the first chunk is an ordinary /error); None when the stream answered."""
    try:
        chunks = invoke.call(handler, invocation, guard)  # a generator: runs none of its code yet
    except BaseException as exc:  # noqa: BLE001 - a panic must still answer the request
        guard.where = guard.RUNTIME
        return invoke.failure(exc, invocation.request_id)
    writer = _Writer(api, invocation)
    if not hasattr(chunks, "__anext__"):
        return _drive(chunks, writer, guard)
    try:
        return aio.event_loop().run_until_complete(_drive_async(chunks, writer, guard))
    except BaseException as exc:  # noqa: BLE001 - raised in the loop itself (a signal while it waited)
        guard.where = guard.RUNTIME
        return None if writer.done else writer.fail(exc)


def _drive(chunks: "Chunks", writer: "_Writer", guard: "Guard") -> "Answer | None":
    try:
        guard.where = guard.HANDLER
        try:
            for chunk in chunks:
                guard.where = guard.RUNTIME  # a signal now waits until the chunk is out...
                writer.write(chunk)
                guard.where = guard.HANDLER
                if guard.pending is not None:  # ...and then interrupts the handler
                    guard.raise_pending()
        finally:
            guard.where = guard.RUNTIME
    except _Disconnected as exc:
        _close(chunks, guard)
        writer.disconnected(exc)
        return None
    except BaseException as exc:  # noqa: BLE001
        _close(chunks, guard)  # a bad chunk: the generator is suspended, let its finally run
        return writer.fail(exc)
    return writer.finish()


async def _drive_async(chunks: "AsyncChunks", writer: "_Writer", guard: "Guard") -> "Answer | None":
    # One task for the whole stream, so context variables bound by the handler last across its steps.
    try:
        guard.where = guard.HANDLER
        try:
            async for chunk in chunks:
                guard.where = guard.RUNTIME
                writer.write(chunk)  # blocking, on purpose: the loop is the handler's, and it waits for its chunk
                guard.where = guard.HANDLER
                if guard.pending is not None:
                    guard.raise_pending()
        finally:
            guard.where = guard.RUNTIME
    except _Disconnected as exc:
        await _aclose(chunks, guard)
        writer.disconnected(exc)
        return None
    except BaseException as exc:  # noqa: BLE001
        await _aclose(chunks, guard)
        return writer.fail(exc)
    return writer.finish()


def _close(chunks: "Chunks", guard: "Guard") -> None:
    guard.where = guard.HANDLER
    try:
        chunks.close()
    except BaseException as exc:  # noqa: BLE001 - its finally raised: say so, the answer goes on
        logs.runtime_error(
            "The streaming handler raised while being closed: %s: %s" % (type(exc).__name__, errors.safe_str(exc))
        )
    finally:
        guard.where = guard.RUNTIME


async def _aclose(chunks: "AsyncChunks", guard: "Guard") -> None:
    guard.where = guard.HANDLER
    try:
        await chunks.aclose()
    except BaseException as exc:  # noqa: BLE001
        logs.runtime_error(
            "The streaming handler raised while being closed: %s: %s" % (type(exc).__name__, errors.safe_str(exc))
        )
    finally:
        guard.where = guard.RUNTIME


class _Writer:
    """The body of one streamed POST: head on the first chunk, one HTTP chunk per yield, then the end."""

    __slots__ = ("api", "request_id", "invocation_id", "sock", "sent", "done")

    def __init__(self, api: "RuntimeAPI", invocation: "Invocation") -> None:
        self.api = api
        self.request_id = invocation.request_id
        self.invocation_id = invocation.invocation_id
        self.sock: "socket | None" = None  # once the POST's head is out
        self.sent = 0  # body bytes so far
        self.done = False

    def write(self, chunk: "object") -> None:
        if type(chunk) is bytes:
            data = chunk
        elif type(chunk) is str:
            data = chunk.encode("utf-8")
        elif type(chunk) is HttpResponse:
            if self.sock is not None:
                raise errors.Fault(
                    errors.MARSHAL_ERROR,
                    "Unable to marshal response: an HttpResponse must be the"
                    " first thing a streaming handler yields, before any body",
                )
            self._begin(protocol.HTTP_INTEGRATION_RESPONSE)
            data = chunk.prelude()
        elif isinstance(chunk, (bytes, bytearray, memoryview)):
            data = bytes(chunk)
        else:
            raise errors.Fault(
                errors.MARSHAL_ERROR,
                "Unable to marshal response: a streaming handler yields bytes"
                " or str (and an HttpResponse first), got %s" % type(chunk).__name__,
            )
        if not data:
            return  # a zero-size chunk would end the body
        sock = self.sock if self.sock is not None else self._begin(DEFAULT_CONTENT_TYPE)
        parts = chunked.chunk(data)  # size line, data (not copied), CRLF
        size = len(data)
        try:
            sent = sock.sendmsg(parts)
            if sent < len(parts[0]) + size + 2:
                _send_rest(sock, parts, sent)
        except OSError as exc:
            raise _Disconnected(exc) from None
        self.sent += size

    def finish(self) -> "Answer | None":
        if self.sock is None:
            self._begin(DEFAULT_CONTENT_TYPE)  # an empty stream: a valid, empty chunked body
        self._end(chunked.last_chunk())
        return None

    def fail(self, exc: "BaseException") -> "Answer | None":
        """An Answer to post as an ordinary /error if nothing was sent yet; else the error in the trailers."""
        answer = invoke.failure(exc, self.request_id)
        if self.sock is None:
            self.done = True
            return answer
        error, error_type = answer.error, answer.error_type
        assert error is not None and error_type is not None  # (a failure's Answer has both)
        logs.uncaught(error, answer.exception)
        self._end(
            chunked.last_chunk(
                ((protocol.ERROR_TYPE, header_value(error_type)), (protocol.ERROR_BODY, error_body(error)))
            )
        )
        return None

    def disconnected(self, exc: "BaseException") -> None:
        self.done = True
        reply = _post_abandon(self.api)
        said = ""
        if reply is not None:
            said = "; it said HTTP %d: %s" % (reply[0], reply[1][:200].decode("utf-8", "replace"))
        logs.runtime_error(
            "The Runtime API closed the connection %d bytes into the streamed response for %s (%s)%s;"
            " the handler was stopped" % (self.sent, self.request_id, errors.safe_str(exc) or type(exc).__name__, said)
        )

    def _begin(self, content_type: "str") -> "socket":
        extra = "Content-Type: %s\r\n%s: %s\r\nTrailer: %s, %s\r\n" % (
            content_type,
            protocol.RESPONSE_MODE,
            protocol.STREAMING,
            protocol.ERROR_TYPE,
            protocol.ERROR_BODY,
        )
        if self.invocation_id:
            extra += "%s: %s\r\n" % (protocol.INVOCATION_ID, header_value(self.invocation_id))
        try:
            sock = self.sock = _post_head(self.api, protocol.response_path(self.request_id), extra)
        except OSError as exc:
            raise _Disconnected(exc) from None
        return sock

    def _end(self, last: "bytes") -> None:
        try:
            status, reply = _post_end(self.api, last)
        except OSError as exc:
            self.disconnected(exc)
            return
        self.done = True
        if status != 202:
            logs.runtime_error(
                "The Runtime API refused the streamed response for %s: HTTP %d: %s"
                % (self.request_id, status, reply[:200].decode("utf-8", "replace"))
            )
        return None


# The client's connection, driven for a streamed answer: the RuntimeAPI's socket and reply reader (these
# are not its methods so that the module every cold start loads carries only what a buffered answer needs).


def _post_head(api: "RuntimeAPI", path: "str", extra_headers: "str") -> "socket":
    """Send the head of a chunked POST on the client's connection; the socket to write its body to.

    The connection has just carried the event (GET /next was not pipelined behind a
    streamed answer), so it is live and the first chunk waits for no connect."""
    head = http1.request_head("POST", path, api._common + extra_headers.encode("latin-1"), http1.CHUNKED)
    sock = api._sock or api._connect()
    sock.sendall(head)
    return sock


def _post_end(api: "RuntimeAPI", last: "bytes") -> "tuple[int, bytes]":
    """Send the body's last bytes, read the reply (the API answers once it has read the whole
    body), then close: the Runtime API asks for a fresh connection after a streamed response."""
    try:
        api._sock.sendall(last)  # type: ignore[union-attr]  # (_post_head connected)
        status, _, body = api._read_response("POST")
    except EOFError:  # the client's "the peer closed the connection"
        raise ConnectionError("the Runtime API closed the connection before replying") from None
    finally:
        api.close()
    return status, body


def _post_abandon(api: "RuntimeAPI") -> "tuple[int, bytes] | None":
    """After a failed write: the status and body the API sent before it closed (say a 413),
    or None; the connection is closed either way."""
    try:
        if api._sock is not None:
            api._sock.settimeout(0.5)
            return api._read_response("POST")[::2]
    except (OSError, EOFError, ValueError):
        pass
    finally:
        api.close()
    return None


def _send_rest(sock: "socket", parts: "tuple[bytes, ...]", sent: "int") -> None:
    """What sendmsg left over (a full socket buffer, or a signal), without joining the parts."""
    for part in parts:
        if sent >= len(part):
            sent -= len(part)
            continue
        sock.sendall(memoryview(part)[sent:])
        sent = 0


def error_body(error: "Any") -> "str":  # an errors.ErrorPayload
    """Lambda-Runtime-Function-Error-Body: base64 of the error JSON, the innermost frames kept if it is long."""
    import binascii  # the error path's: an extension module, ~0.4 ms to load

    while True:
        text = binascii.b2a_base64(errors.encode(error), newline=False).decode("ascii")
        if len(text) <= _ERROR_BODY_LIMIT or not error["stackTrace"]:
            return text
        error = {**error, "stackTrace": error["stackTrace"][len(error["stackTrace"]) // 2 + 1 :]}
