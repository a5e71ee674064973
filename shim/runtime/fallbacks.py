"""The Runtime API client (shim.runtime.client) off Lambda's usual path: faults, and servers unlike Lambda's.

Lambda's Runtime API is at an IP address, keeps its connections open and frames every
body by Content-Length, and the client posts on its one connection. The rest is here,
loaded when first needed, never on a usual cold start: a host name to resolve, replies
framed by chunks or by the close, a post while a GET /next waits for an event (the
/error after a 413: post_aside), and connections the server closed or reset.

Faults. A request goes out again, on a new connection, only when that cannot deliver
it twice. A POST only if not one of its bytes was written (the server had reset the
connection before it); a GET /next also when the server closed the connection before
any byte of its reply (it never took it, or it has no event in it to lose). A POST
whose reply never came raises AnswerUnconfirmed. A server that closes connections
without saying so (an HTTP/1.0 reply, or a close found after an answer) gets a new
connection per request from then on, and no pipelining; its replies may end with the
close (read_to_close).
"""

import _socket

from shim.runtime.protocol import NEXT, response_path

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (the cold start)
if TYPE_CHECKING:
    from shim.runtime.client import Reply, RuntimeAPI


def after(
    api: "RuntimeAPI", exc: "BaseException", attempt: "int", reused: "bool", written: "bool", method: "str", path: "str"
) -> "str | None":
    """A request's exchange failed with `exc` (one of client._FAULTS) on its `attempt`th sending: None to send
    it again on a new connection, else the message of the error to raise (AnswerUnconfirmed for a POST)."""
    started = reply_started(api, exc)
    api.close()
    if not path.startswith("/"):  # respond()'s request id: its path, formatted only for a message
        path = response_path(path)
    if attempt == 1 and not written:
        # The server had reset the connection: not one byte of this request left.
        _say(
            api,
            "Runtime API at %s had closed the connection before %s %s was sent; "
            "sending it on a new connection" % (api.address, method, path),
        )
        return None
    if attempt == 1 and reused and not started and method == "GET":
        # A keep-alive connection the server dropped while idle: it took no GET from it.
        closes_unannounced(api, "while idle")
        return None
    if method == "POST":
        if reused and not started:
            closes_unannounced(api, "before answering")
        return (
            "Runtime API at %s closed the connection after %s %s was written and before its reply; "
            "not sending it again, as it may have been taken" % (api.address, method, path)
        )
    return "Runtime API at %s closed the connection during %s %s" % (api.address, method, path)


def next_again(api: "RuntimeAPI", exc: "BaseException") -> "Reply":
    """The reply to a pipelined GET /next failed with `exc`: ask again if the server never read it."""
    if reply_started(api, exc):
        api.close()
        raise ConnectionError(
            "Runtime API at %s closed the connection in the middle of the reply to GET %s" % (api.address, NEXT)
        ) from None
    # It answered the post and closed without a `Connection: close` (HTTP/1.0 style),
    # so it never read the GET that went out behind it: ask again, never lose it.
    api.close()
    closes_unannounced(api, "after answering a post")
    return api._exchange(api._next_request, b"", "GET", NEXT)


def reply_started(api: "RuntimeAPI", exc: "BaseException") -> "bool":
    """Whether any byte of the reply being read had arrived when `exc` struck."""
    if type(exc) is EOFError and exc.args:
        return bool(exc.args[0])
    return bool(api._buf)


def closes_unannounced(api: "RuntimeAPI", when: "str", say: "bool" = True) -> None:
    """The server drops connections without saying so: stop reusing them (said once)."""
    if api.keep_alive:
        api.keep_alive = False
        api.pipeline = False
        api._memo = None  # a remembered reply skips the check that closes
        if say:
            _say(
                api,
                "Runtime API at %s closed the connection %s without `Connection: close`; using a new "
                "connection for every request from now on" % (api.address, when),
            )


def read_to_close(api: "RuntimeAPI") -> "bytes":
    """A reply's body that ends when the server closes the connection (HTTP/1.0 without a length)."""
    parts = [api._buf]
    api._buf = b""
    try:
        while True:
            api._fill(True)
            parts.append(api._buf)
            api._buf = b""
    except EOFError:  # client._Closed: the server closed the connection
        pass
    api.close()
    return b"".join(parts)


def read_chunked(api: "RuntimeAPI") -> "bytes":
    """A reply's body in chunked coding, read from api's connection."""
    from shim.runtime.chunked import ChunkedDecoder

    decoder = ChunkedDecoder()
    parts = decoder.feed(api._buf)
    while not decoder.done:
        api._buf = b""
        api._fill(True)
        parts += decoder.feed(api._buf)
    api._buf = decoder.unused
    return b"".join(parts)


def connect_by_name(host: "str", port: "int") -> "_socket.socket":
    """A connection to a host name such as localhost, each of its addresses tried as create_connection does."""
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


def post_aside(api: "RuntimeAPI", path: "str", body: "bytes", extra_headers: "str") -> "int":
    """A post while a GET /next waits on api's connection for an event: over a second, short-lived one."""
    side = type(api)(api.address, api.user_agent, pipeline=False, notice=api.notice)
    try:
        return side._post(path, body, extra_headers, False)
    finally:
        side.close()


def _say(api: "RuntimeAPI", message: "str") -> None:
    if api.notice is not None:
        api.notice(message)
