"""shim.runtime.chunked on bytes alone: chunked bodies decoded and encoded, every input fed whole, in two pieces
at every split point, and byte by byte."""

import pytest

from shim.runtime import chunked
from shim.runtime.chunked import LINE_LIMIT, ChunkedDecoder
from shim.runtime.http1 import ProtocolError
from support import splits


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
