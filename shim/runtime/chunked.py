"""Chunked transfer coding on bytes, no I/O: the other half of the HTTP/1.1 core with shim.runtime.http1.

- chunk and last_chunk encode a body (the last chunk with its trailer fields): the streamed
  response writer's (shim.runtime.stream);
- ChunkedDecoder decodes one fed in pieces of any size as they come: its chunks, then its
  trailers; the local Runtime API reads streamed responses with it, and the client a reply the
  API would send chunked (Lambda's never is).

A module of its own, apart from http1's heads and framing, because no cold start needs it.
Malformed input raises http1.ProtocolError (a ValueError) naming what was wrong.
"""

from shim.runtime.http1 import TOKEN, ProtocolError

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from typing import Iterable

LINE_LIMIT = 65536  # the longest chunk-size line, and trailer section, a ChunkedDecoder takes by default
_HEX = b"0123456789abcdefABCDEF"

_END = b"0\r\n\r\n"


def chunk(data: bytes) -> "tuple[bytes, bytes, bytes]":
    """One chunk as three parts (size line, data, CRLF) for one sendmsg, the data not copied."""
    if not data:
        raise ProtocolError("an empty chunk: a zero-size chunk is the last one, it would end the body")
    return b"%X\r\n" % len(data), data, b"\r\n"


def last_chunk(trailers: "Iterable[tuple[str, str]]" = ()) -> bytes:
    """The zero-size chunk that ends a chunked body, its trailer fields, and the blank line."""
    lines = [b"0\r\n"]
    for name, value in trailers:
        if not (name.isascii() and value.isascii() and value.isprintable()) or not name or name.encode().strip(TOKEN):
            raise ProtocolError("a trailer field is a token and printable ASCII: %r: %r" % (name, value))
        lines.append(("%s: %s\r\n" % (name, value)).encode("ascii"))
    lines.append(b"\r\n")
    return b"".join(lines) if len(lines) > 2 else _END


_SIZE, _TRAILERS = -1, -2  # what a ChunkedDecoder reads next, when not a chunk's data (its size)


class ChunkedDecoder:
    """A chunked body, decoded from pieces of any size as they come.

    feed(data) returns the chunks it completed, each whole as the sender framed it (none
    empty); once `done`, `trailers` holds the trailer fields as (name, value) pairs and
    `unused` the bytes fed after the body's end. `wanted` is how many more bytes the body
    certainly has (at least 1 until done): a reader may take that many from its source
    without reading past the body. Malformed framing raises ProtocolError."""

    __slots__ = ("done", "trailers", "unused", "limit", "_state", "_parts", "_have")

    def __init__(self, limit: int = LINE_LIMIT) -> None:
        self.limit = limit  # the longest chunk-size line, and trailer section, taken
        self.done = False
        self.trailers: "list[tuple[bytes, bytes]]" = []
        self.unused = b""
        self._state = _SIZE  # or a chunk's size: its data and CRLF come next
        self._parts: "list[bytes]" = []  # what was fed and not yet decoded
        self._have = 0  # their length

    @property
    def wanted(self) -> int:
        state = self._state
        if self.done:
            return 0
        return state + 2 - self._have if state >= 0 else 1

    def feed(self, data: bytes) -> "list[bytes]":
        if self.done:
            self.unused += data
            return []
        chunks: "list[bytes]" = []
        if not data:
            return chunks
        state = self._state
        self._have += len(data)
        if state >= 0 and self._have < state + 2:  # the middle of a long chunk: keep it, join once
            self._parts.append(data)
            return chunks
        parts = self._parts
        if parts:
            parts.append(data)
            data = b"".join(parts)
            parts.clear()
        pos = 0
        end = len(data)
        while True:
            if state >= 0:  # a chunk's data, then CRLF
                stop = pos + state
                if end < stop + 2:
                    break
                if data[stop : stop + 2] != b"\r\n":
                    raise ProtocolError("a chunk of %d bytes not followed by CRLF: %r" % (state, data[stop : stop + 2]))
                chunks.append(data[pos:stop])
                pos = stop + 2
                state = _SIZE
                continue
            eol = data.find(b"\r\n", pos)
            if eol < 0 and end - pos <= self.limit + 1:  # (+1: its CR may be here, its LF not yet)
                break
            if eol < 0 or eol - pos > self.limit:
                raise ProtocolError("a chunk-size line or trailer line longer than %d bytes" % self.limit)
            line = data[pos:eol]
            pos = eol + 2
            if state == _SIZE:
                state = _chunk_size(line)
                if state == 0:
                    state = _TRAILERS
            elif line:
                self._trailer(line)
            else:  # the blank line after the trailers: the end of the body
                self.done = True
                self.unused = data[pos:]
                self._have = 0
                self._state = state
                return chunks
        rest = data[pos:] if pos else data
        if rest:
            parts.append(rest)
        self._have = len(rest)
        self._state = state
        return chunks

    def _trailer(self, line: bytes) -> None:
        name, colon, value = line.partition(b":")
        if not colon or not name or name.strip(TOKEN):
            raise ProtocolError("a malformed trailer field: %r" % line[:100])
        self.trailers.append((name, value.strip(b" \t")))
        if sum(len(n) + len(v) for n, v in self.trailers) > self.limit:
            raise ProtocolError("a trailer section longer than %d bytes" % self.limit)


def _chunk_size(line: bytes) -> int:
    text = line.split(b";", 1)[0].strip(b" \t")
    if not text or text.strip(_HEX) or len(text) > 16:
        raise ProtocolError("a malformed chunk-size line: %r" % line[:100])
    return int(text, 16)
