"""shim.runtime.http1 on bytes alone: response and request heads, every input fed whole, in two pieces at every
split point, and byte by byte (tests/runtime/test_chunked.py does the same for chunked bodies)."""

import pytest

from shim.runtime import http1
from shim.runtime.chunked import ChunkedDecoder
from shim.runtime.http1 import CHUNKED, CLOSE, CLOSE_UNANNOUNCED, KEEP, UNTIL_CLOSE, ProtocolError
from support import splits


# -- response heads ---------------------------------------------------------------------------


def read_reply(pieces, method="GET", memo=None):
    """What a client does with http1 as the bytes come: find the head, parse it, read the body as it is framed."""
    buf, decoder, reply, body = b"", None, None, None
    for piece in pieces + [None]:  # None: the server closed the connection
        if piece is not None:
            buf += piece
        if reply is None:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                continue
            reply = http1.parse_response(buf[:end], method, memo)
            buf = buf[end + 4 :]
        length = reply[2]
        if length >= 0 and len(buf) >= length:
            body, buf = buf[:length], buf[length:]
        elif length == CHUNKED:
            decoder = decoder or ChunkedDecoder()
            decoder.feed(buf)  # (the chunks themselves are tested above)
            buf = b""
            if decoder.done:
                body, buf = b"chunked", decoder.unused
        elif length == UNTIL_CLOSE and piece is None:
            body, buf = buf, b""
        if body is not None:
            return reply[0], reply[2], reply[3], body, buf
    raise AssertionError("the reply never ended")


EVENT = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nLambda-Runtime-Aws-Request-Id: r1\r\n"
    b'Lambda-Runtime-Deadline-Ms: 1700000000000\r\nContent-Length: 8\r\n\r\n{"a": 1}'
)
REPLIES = {  # reply, method -> status, length, after, body
    "an event": (EVENT, "GET", (200, 8, KEEP, b'{"a": 1}')),
    "an accepted answer": (
        b'HTTP/1.1 202 Accepted\r\nContent-Length: 16\r\n\r\n{"status": "OK"}',
        "POST",
        (202, 16, KEEP, b'{"status": "OK"}'),
    ),
    "chunked wins over a length": (
        b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n",
        "GET",
        (200, CHUNKED, KEEP, b"chunked"),
    ),
    "chunked to a POST, any case": (
        b"HTTP/1.1 202 Accepted\r\ntransfer-encoding: gzip, Chunked\r\n\r\n0\r\n\r\n",
        "POST",
        (202, CHUNKED, KEEP, b"chunked"),
    ),
    "until close": (b"HTTP/1.1 200 OK\r\nX-A: 1\r\n\r\nall of it", "GET", (200, UNTIL_CLOSE, KEEP, b"all of it")),
    "a coding that is not chunked": (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nzz",
        "GET",
        (200, UNTIL_CLOSE, KEEP, b"zz"),
    ),
    "204 without a length": (b"HTTP/1.1 204 No Content\r\n\r\n", "POST", (204, 0, KEEP, b"")),
    "304 with a length": (b"HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n", "GET", (304, 0, KEEP, b"")),
    "a HEAD's reply": (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", "HEAD", (200, 0, KEEP, b"")),
    "Connection: close": (
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
        "GET",
        (200, 2, CLOSE, b"ok"),
    ),
    "close among tokens": (
        b"HTTP/1.1 202 Accepted\r\nconnection: Keep-Alive, CLOSE\r\nContent-Length: 0\r\n\r\n",
        "POST",
        (202, 0, CLOSE, b""),
    ),
    "HTTP/1.0": (b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", "GET", (200, 2, CLOSE_UNANNOUNCED, b"ok")),
    "HTTP/1.0 keep-alive": (
        b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok",
        "GET",
        (200, 2, KEEP, b"ok"),
    ),
    "a status the API does not use": (
        b"HTTP/1.1 418 I'm a teapot\r\nContent-Length: 1\r\n\r\n!",
        "POST",
        (418, 1, KEEP, b"!"),
    ),
    "no reason phrase": (b"HTTP/1.1 599\r\ncontent-length:3\r\n\r\nabc", "GET", (599, 3, KEEP, b"abc")),
    "a length with spaces": (b"HTTP/1.1 200 OK\r\nContent-Length:  4 \r\n\r\nabcd", "GET", (200, 4, KEEP, b"abcd")),
}


@pytest.mark.parametrize("case", sorted(REPLIES))
def test_a_reply_reads_the_same_however_it_is_cut(case):
    reply, method, expected = REPLIES[case]
    after = b"HTTP/1.1 200 OK\r\n"  # the start of a pipelined reply: never part of this one
    for pieces in splits(reply + (b"" if expected[1] == UNTIL_CLOSE else after)):
        assert read_reply(pieces, method)[:4] == expected


@pytest.mark.parametrize(
    "status_line",
    [
        b"garbage",
        b"HTTP/1.1 abc OK",
        b"HTTP/1.1",
        b"HTTP/2 200 OK",
        b"HTTP/1.1 99 Low",
        b"HTTP/1.1 2000 Long",
        b"HTTPS/1.1 200 OK",
        b"HTTP/1.1  200 OK",
        b"HTTP/1.x 200 OK",
    ],
)
def test_a_malformed_status_line_is_refused(status_line):
    for method in ("GET", "POST"):
        with pytest.raises(ProtocolError, match="malformed status line"):
            read_reply([status_line + b"\r\nContent-Length: 0\r\n\r\n"], method)


@pytest.mark.parametrize("length", [b"abc", b"-1", b"+5", b"1_0", b"", b"0x10", b"5, 5"])
def test_a_malformed_content_length_is_refused_however_it_is_cut(length):
    reply = b"HTTP/1.1 200 OK\r\nContent-Length: " + length + b"\r\n\r\n"
    for method in ("GET", "POST"):
        for pieces in splits(reply):
            with pytest.raises(ProtocolError, match="malformed Content-Length"):
                read_reply(pieces, method)


def test_the_remembered_reply_is_the_same_head_only():
    memo = http1.memo()
    accepted = b"HTTP/1.1 202 Accepted\r\nDate: Mon, 30 Nov 2026 16:48:22 GMT\r\nContent-Length: 16"
    first = http1.parse_response(accepted, "POST", memo)
    assert memo[0] == accepted and first[::2] == (202, 16)
    assert http1.parse_response(bytes(accepted), "POST", memo) is first  # equal bytes: not read again
    later = accepted.replace(b"22 GMT", b"23 GMT")
    second = http1.parse_response(later, "POST", memo)
    assert second is not first and second[::2] == (202, 16) and memo[0] == later


@pytest.mark.parametrize(
    "head",
    [
        b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\nConnection: close",  # it closes: read every time
        b"HTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked",  # not framed by its length
        b"HTTP/1.1 202 Accepted",  # until close
        b"HTTP/1.1 201 Created\r\nContent-Length: 0",  # a status the API does not send
        b"HTTP/1.0 202 Accepted\r\nContent-Length: 0",
    ],
)
def test_only_a_usual_keep_alive_reply_with_a_length_is_remembered(head):
    memo = http1.memo()
    http1.parse_response(head, "POST", memo)
    assert memo[0] is None


def test_a_get_reply_has_its_fields_split_and_a_post_reply_on_demand():
    status, headers, length, after = http1.parse_response(EVENT.split(b"\r\n\r\n")[0], "GET")
    assert headers.fields[b"Lambda-Runtime-Aws-Request-Id"] == b"r1"
    _, answer, _, _ = http1.parse_response(b"HTTP/1.1 202 Accepted\r\nX-Thing:  v \r\nContent-Length: 0", "POST")
    assert answer.fields is None
    assert answer.get(b"x-thing") == b"v" and answer.fields is not None and answer.get(b"Content-Length") == b"0"


# -- request heads ----------------------------------------------------------------------------


def test_a_request_head_parses():
    method, target, headers = http1.parse_request(
        b"POST /2018-06-01/runtime/invocation/r1/response HTTP/1.1\r\nHost: x\r\ntransfer-encoding: chunked"
    )
    assert (method, target) == ("POST", "/2018-06-01/runtime/invocation/r1/response")
    assert http1.framing(headers.get(b"Transfer-Encoding"), headers.get(b"Content-Length"), request=True) == CHUNKED


@pytest.mark.parametrize(
    "line",
    [
        b"GET /",
        b"GET / HTTP/1.1 extra",
        b"G(T / HTTP/1.1",
        b" / HTTP/1.1",
        b"GET  HTTP/1.1",
        b"GET / HTTP/2.0",
        b"GET / HTTP/1.10",
    ],
)
def test_a_malformed_request_line_is_refused(line):
    with pytest.raises(ProtocolError, match="malformed request line"):
        http1.parse_request(line + b"\r\nHost: x")


def test_a_request_body_is_framed_by_its_length_or_chunked_and_nothing_else():
    assert http1.framing(None, None, request=True) == 0  # a request without framing has no body
    assert http1.framing(None, b" 12 ", request=True) == 12
    assert http1.framing(b"gzip, chunked", b"12", request=True) == CHUNKED
    with pytest.raises(ProtocolError, match="not chunked last"):
        http1.framing(b"chunked, gzip", None, request=True)
    with pytest.raises(ProtocolError, match="malformed Content-Length"):
        http1.framing(None, b"twelve", request=True)


def test_a_request_head_is_built_with_its_framing():
    fields = b"Host: 127.0.0.1:9001\r\nContent-Type: application/json\r\n"
    assert http1.request_head("POST", "/a/b", fields, 2) == (
        b"POST /a/b HTTP/1.1\r\nHost: 127.0.0.1:9001\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n"
    )
    assert http1.request_head("POST", "/s", b"", CHUNKED) == b"POST /s HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
    method, target, headers = http1.parse_request(http1.request_head("GET", "/n", fields, 0)[:-4])
    assert (method, target, headers.get(b"content-length")) == ("GET", "/n", b"0")


@pytest.mark.parametrize("target", ["", "/a b", "/a\r\nX-Injected: 1", "/a\n"])
def test_a_request_target_that_would_break_the_line_is_refused(target):
    with pytest.raises(ProtocolError, match="request target"):
        http1.request_head("GET", target, b"", 0)


def test_header_value_keeps_printable_ascii_only():
    assert http1.header_value("Evil\r\nX-Injected: 1\x00caf\u00e9") == "Evil??X-Injected: 1?caf?"
