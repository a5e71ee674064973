"""shim.runtime.http1 and shim.runtime.chunked on bytes alone: every input fed whole, in two pieces at every
split point, and byte by byte."""

import pytest

from shim.runtime import chunked, http1
from shim.runtime.chunked import LINE_LIMIT, ChunkedDecoder
from shim.runtime.http1 import CHUNKED, CLOSE, CLOSE_UNANNOUNCED, KEEP, UNTIL_CLOSE, ProtocolError


def splits(data):
    """Every way the tests cut `data`: whole, two pieces at each index, and one byte at a time."""
    yield [data]
    for index in range(len(data) + 1):
        yield [data[:index], data[index:]]
    yield [data[i : i + 1] for i in range(len(data))]


def decode(pieces, limit=LINE_LIMIT):
    """Feed the pieces to one decoder: (chunks, trailers, unused)."""
    decoder = ChunkedDecoder(limit)
    chunks = []
    for piece in pieces:
        chunks += decoder.feed(piece)
    assert decoder.done
    return chunks, decoder.trailers, decoder.unused


# -- chunked bodies, decoded ------------------------------------------------------------------

VALID = {
    "empty body": (b"0\r\n\r\n", [], []),
    "one chunk": (b"5\r\nhello\r\n0\r\n\r\n", [b"hello"], []),
    "chunks whose data holds CRLF": (b"2\r\n\r\n\r\n3\r\na\r\n\r\n0\r\n\r\n", [b"\r\n", b"a\r\n"], []),
    "hex sizes, either case, leading zeros": (
        b"a\r\n0123456789\r\n00B\r\nabcdefghijk\r\n000\r\n\r\n",
        [b"0123456789", b"abcdefghijk"],
        [],
    ),
    "extensions and padding": (b"3;name=value\r\nabc\r\n4 ; x\r\ndefg\r\n0;last\r\n\r\n", [b"abc", b"defg"], []),
    "trailers": (
        b"3\r\nabc\r\n0\r\nLambda-Runtime-Function-Error-Type: Unhandled\r\nX-Other:\t two \r\nX-Empty:\r\n\r\n",
        [b"abc"],
        [(b"Lambda-Runtime-Function-Error-Type", b"Unhandled"), (b"X-Other", b"two"), (b"X-Empty", b"")],
    ),
    "binary data": (b"4\r\n\x00\xff\r\n\r\n0\r\n\r\n", [b"\x00\xff\r\n"], []),
}


@pytest.mark.parametrize("case", sorted(VALID))
def test_a_chunked_body_decodes_the_same_however_it_is_cut(case):
    body, chunks, trailers = VALID[case]
    after = b"GET /next HTTP/1.1\r\n\r\n"  # the next request on the connection: not the body's
    for pieces in splits(body + after):
        assert decode(pieces) == (chunks, trailers, after), pieces


def test_the_chunks_come_out_as_soon_as_they_are_whole():
    decoder = ChunkedDecoder()
    assert decoder.feed(b"3\r\nab") == []
    assert decoder.feed(b"c\r\n4\r\nde") == [b"abc"]
    assert decoder.feed(b"fg\r\n") == [b"defg"] and not decoder.done
    assert decoder.feed(b"0\r\n\r\nrest") == [] and decoder.done and decoder.unused == b"rest"
    assert decoder.feed(b" more") == [] and decoder.unused == b"rest more"


@pytest.mark.parametrize("case", sorted(VALID))
def test_wanted_never_reads_past_the_body(case):
    # A reader that takes `wanted` bytes (one at a time while it is 1) stops exactly at the body's end.
    body, chunks, trailers = VALID[case]
    stream = body + b"NEXT REQUEST"
    decoder = ChunkedDecoder()
    position, got = 0, []
    while not decoder.done:
        wanted = decoder.wanted
        assert wanted >= 1
        got += decoder.feed(stream[position : position + wanted])
        position += wanted
    assert decoder.unused == b"" and stream[position:] == b"NEXT REQUEST"
    assert (got, decoder.trailers, decoder.wanted) == (chunks, trailers, 0)


def test_a_long_chunk_arriving_in_pieces_is_kept_whole():
    data = bytes(range(256)) * 400
    body = b"%x\r\n" % len(data) + data + b"\r\n0\r\n\r\n"
    pieces = [body[i : i + 1000] for i in range(0, len(body), 1000)]
    decoder = ChunkedDecoder()
    assert decoder.feed(pieces[0]) == [] and decoder.wanted == len(data) + 2 - (1000 - len(b"%x\r\n" % len(data)))
    assert decode(pieces) == ([data], [], b"")


MALFORMED = {
    "a size that is not hex": (b"5g\r\nhello\r\n0\r\n\r\n", "malformed chunk-size line"),
    "an empty size line": (b"\r\nhello\r\n0\r\n\r\n", "malformed chunk-size line"),
    "a 0x prefix": (b"0x5\r\nhello\r\n0\r\n\r\n", "malformed chunk-size line"),
    "a sign": (b"+5\r\nhello\r\n0\r\n\r\n", "malformed chunk-size line"),
    "a negative size": (b"-1\r\nhello\r\n0\r\n\r\n", "malformed chunk-size line"),
    "an underscore": (b"1_0\r\n0123456789abcdef\r\n0\r\n\r\n", "malformed chunk-size line"),
    "seventeen hex digits": (b"1" + b"0" * 16 + b"\r\n", "malformed chunk-size line"),
    "data longer than its size": (b"3\r\nhello\r\n0\r\n\r\n", "chunk of 3 bytes not followed by CRLF"),
    "data shorter than its size": (b"6\r\nhello\r\n0\r\n\r\n", "chunk of 6 bytes not followed by CRLF"),
    "a bare LF after the data": (b"5\r\nhello\n0\r\n\r\n", "not followed by CRLF"),
    "a trailer without a colon": (b"0\r\nX-Trailer one\r\n\r\n", "malformed trailer field"),
    "a folded trailer line": (b"0\r\nX-A: one\r\n two\r\n\r\n", "malformed trailer field"),
    "a trailer with no name": (b"0\r\n: one\r\n\r\n", "malformed trailer field"),
    "a space in a trailer name": (b"0\r\nX A: one\r\n\r\n", "malformed trailer field"),
    "a size line too long": (b"5;" + b"x" * 40 + b"\r\nhello\r\n0\r\n\r\n", "longer than 32 bytes"),
    "a size line too long, unended": (b"5;" + b"x" * 40, "longer than 32 bytes"),
    "a trailer section too long": (
        b"0\r\nX-A: " + b"a" * 20 + b"\r\nX-B: " + b"b" * 20 + b"\r\n\r\n",
        "trailer section longer than 32 bytes",
    ),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_chunked_framing_is_refused_however_it_is_cut(case):
    body, message = MALFORMED[case]
    for pieces in splits(body):
        decoder = ChunkedDecoder(limit=32)
        with pytest.raises(ProtocolError, match=message):
            for piece in pieces:
                decoder.feed(piece)
        assert not decoder.done


def test_a_protocol_error_is_a_value_error():
    assert issubclass(ProtocolError, ValueError)


def test_the_longest_line_the_limit_allows_is_taken_however_it_is_cut():
    body = b"5;" + b"x" * 30 + b"\r\nhello\r\n0\r\n\r\n"  # a size line of exactly 32 bytes
    for pieces in splits(body):
        assert decode(pieces, limit=32) == ([b"hello"], [], b"")


# -- chunked bodies, encoded ------------------------------------------------------------------


def test_a_chunk_is_its_size_in_hex_the_data_and_crlf():
    data = b"x" * 300
    parts = chunked.chunk(data)
    assert parts == (b"12C\r\n", data, b"\r\n") and parts[1] is data  # not copied
    with pytest.raises(ProtocolError, match="empty chunk"):
        chunked.chunk(b"")


def test_the_last_chunk_carries_the_trailers():
    assert chunked.last_chunk() == b"0\r\n\r\n"
    end = chunked.last_chunk(
        [
            ("Lambda-Runtime-Function-Error-Type", "Runtime.Unknown"),
            ("Lambda-Runtime-Function-Error-Body", "eyJhIjogMX0="),
        ]
    )
    assert end == (
        b"0\r\nLambda-Runtime-Function-Error-Type: Runtime.Unknown\r\n"
        b"Lambda-Runtime-Function-Error-Body: eyJhIjogMX0=\r\n\r\n"
    )


@pytest.mark.parametrize(
    "name, value",
    [
        ("X-A", "one\r\nX-Injected: 1"),
        ("X-A", "tab\there"),
        ("X A", "v"),
        ("", "v"),
        ("X:A", "v"),
        ("X-A", "caf\u00e9"),
    ],
)
def test_a_trailer_that_is_not_one_header_line_is_refused(name, value):
    with pytest.raises(ProtocolError, match="trailer field"):
        chunked.last_chunk([(name, value)])


def test_what_is_encoded_decodes_to_the_same_chunks_and_trailers_however_it_is_cut():
    chunks = [b"first line\n", b"\x00" * 17, b"0\r\n\r\n", b"z"]
    trailers = [("Lambda-Runtime-Function-Error-Type", "ValueError"), ("Lambda-Runtime-Function-Error-Body", "e30=")]
    wire = b"".join(b"".join(chunked.chunk(c)) for c in chunks) + chunked.last_chunk(trailers)
    expected = (chunks, [(n.encode(), v.encode()) for n, v in trailers], b"")
    for pieces in splits(wire):
        assert decode(pieces) == expected


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
