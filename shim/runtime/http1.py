"""HTTP/1.1 on bytes, in the spirit of h11: no sockets, no I/O, only what the wire carries.

Shared by the Runtime API client (shim.runtime.client), the streamed-response writer
(shim.runtime.stream) and the local Runtime API's server side (shim.local.runtime_api_http),
with shim.runtime.chunked (chunked coding, which no cold start needs):

- heads: parse_response (a reply's status, its fields, how its body is framed and whether the
  connection stays open; a memo skips the parse of a head that repeats byte for byte),
  parse_request, request_head, Headers (the fields of either), header_value;
- bodies: framing (how long a body is: Content-Length, chunked, or until the connection closes).

Malformed input raises ProtocolError, a ValueError that names what was wrong.
The warm path runs through parse_response once per reply: its common cases are the
first branches, written for few steps (Go's net/http, which serves Lambda's Runtime
API, writes every head the same way).
"""

from itertools import repeat

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (the cold start)
if TYPE_CHECKING:
    from typing import Any, List, Tuple

    # status, Headers, body length (>= 0, CHUNKED or UNTIL_CLOSE), and KEEP, CLOSE or CLOSE_UNANNOUNCED
    Reply = Tuple[int, "Headers", int, int]
    Memo = List[Any]  # [head or None, Reply]: see memo()

CHUNKED = -1  # a body length: chunked encoding
UNTIL_CLOSE = -2  # a body length: the rest of the connection
KEEP, CLOSE, CLOSE_UNANNOUNCED = 0, 1, 2  # after a reply: open, closed as it said, closed as HTTP/1.0 implies


class ProtocolError(ValueError):
    """Input that is not HTTP/1.1 as it must be; the message names what was wrong."""


def key(name: str) -> bytes:
    """A header's name as Headers keys it (HTTP's canonical spelling, as Go's net/http sends it)."""
    return name.encode("ascii").title()


_CONTENT_LENGTH, _TRANSFER_ENCODING, _CONNECTION = (
    b"Content-Length",
    b"Transfer-Encoding",
    b"Connection",
)  # as key() spells them
_SEPARATOR, _ONCE = repeat(b": "), repeat(1)  # bytes.split's arguments for every line, in map()
# The status lines the Runtime API sends, read without splitting; any other goes the long way.
_STATUS = {
    b"HTTP/1.1 200 ": 200,
    b"HTTP/1.1 202 ": 202,
    b"HTTP/1.1 400 ": 400,
    b"HTTP/1.1 403 ": 403,
    b"HTTP/1.1 404 ": 404,
    b"HTTP/1.1 413 ": 413,
    b"HTTP/1.1 500 ": 500,
    b"HTTP/1.1 502 ": 502,
}
TOKEN = b"!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"  # RFC 9110 tchar


class Headers:
    """A head's fields, split into a dict keyed by each name's canonical spelling
    (Content-Type, Lambda-Runtime-Aws-Request-Id: every word capitalized), values as bytes.

    Go's net/http writes every name in that spelling and every line as `Name: value`; such a
    head is split by one C-level map over its lines (about a third of what looking up nine
    names one by one cost). Any other head (another spelling, `Name:value`, an empty value)
    is split line by line, and its names respelled. The first line (status or request line)
    is skipped."""

    __slots__ = ("head", "fields")

    def __init__(self, head: bytes, split: bool = True) -> None:
        self.head = head
        self.fields: "dict[bytes, bytes] | None" = _split_fields(head) if split else None  # else on first get()

    def split(self) -> "dict[bytes, bytes]":
        """All the fields (split now if they were not), by canonical name; values as sent."""
        fields = self.fields
        if fields is None:
            fields = self.fields = _split_fields(self.head)
        return fields

    def get(self, name: bytes, default: "bytes | None" = None) -> "bytes | None":
        """The value of field `name` (in any case), as bytes without surrounding whitespace."""
        fields = self.fields
        if fields is None:
            fields = self.fields = _split_fields(self.head)
        value = fields.get(name)
        if value is None:
            value = fields.get(name.title())
            if value is None:
                return default
        return value.strip()


def _split_fields(head: bytes) -> "dict[bytes, bytes]":
    lines = head.split(b"\r\n")
    del lines[0]  # the status line
    try:
        fields = dict(map(bytes.split, lines, _SEPARATOR, _ONCE))
        names = b"\n".join(fields)
        if names == names.title():
            return fields
    except ValueError:  # a line without ": "
        pass
    fields = {}
    for line in lines:
        name, colon, value = line.partition(b":")
        if colon:
            fields[name.strip().title()] = value
    return fields


def find_value(head: bytes, lower: bytes, name: bytes) -> "bytes | None":
    """The value of the field whose lowercase `\\r\\nname:` is `name` in head.lower(), found without splitting."""
    start = lower.find(name)
    if start < 0:
        return None
    start += len(name)
    end = head.find(b"\r\n", start)
    return head[start:end] if end >= 0 else head[start:]


def header_value(value: str) -> str:
    """value as a header value may be: printable ASCII, anything else (CR, LF: an exception class name can
    carry them) as '?'."""
    return "".join(ch if " " <= ch <= "~" else "?" for ch in value)


# -- heads ---------------------------------------------------------------------------------------


def memo() -> "Memo":
    """A memo of the last usual reply to a request, by its head: [head, reply] (head None while empty).
    The Runtime API's 202s repeat byte for byte (Go writes a Date that changes once a second), so what
    such a head said is known and nothing in it needs reading again. parse_response fills it with a
    keep-alive reply framed by its length only. (A list, not a class: a class costs the cold start.)"""
    return [None, (0, Headers(b""), 0, CLOSE)]


def parse_response(head: bytes, method: str, memo: "Memo | None" = None) -> "Reply":
    """A reply's head (up to, without, its blank line) to the request `method`: (status, Headers,
    body length (CHUNKED, UNTIL_CLOSE or a count), KEEP, CLOSE or CLOSE_UNANNOUNCED).

    A GET's reply (an event, whose reader wants most fields) has all its fields split now; any
    other's only when asked for. With a memo, a head equal to the one it holds is not read again."""
    if memo is not None and head == memo[0]:
        return memo[1]  # type: ignore[no-any-return]
    status = _STATUS.get(head[:13])  # an HTTP/1.1 reply with a status the API uses
    if method == "GET":
        headers = Headers(head)
        fields: "dict[bytes, bytes]" = headers.fields  # type: ignore[assignment]
        length = fields.get(_CONTENT_LENGTH)
        if (
            status is not None
            and length is not None
            and _CONNECTION not in fields
            and _TRANSFER_ENCODING not in fields
            and length.isdigit()
        ):
            return status, headers, int(length), KEEP  # an event, as Lambda sends one
        coding = fields.get(_TRANSFER_ENCODING)
        closing = _CONNECTION in fields
    else:  # two or three names to look for, no need to split
        headers = Headers(head, split=False)
        lower = head.lower()
        length = find_value(head, lower, b"\r\ncontent-length:")
        coding = find_value(head, lower, b"\r\ntransfer-encoding:") if b"\r\ntransfer-e" in lower else None
        closing = b"\r\nconnection:" in lower
    usual = status is not None
    if status is None:
        status = parse_status(head)
    if status < 200 or status == 204 or status == 304 or method == "HEAD":
        size = 0  # no body, whatever the head says
    elif coding is None and length is not None and length.isdigit():
        size = int(length)
    else:
        size = framing(coding, length, request=False)
    after = KEEP if usual and not closing else _after(head, headers)
    reply = status, headers, size, after
    if memo is not None and usual and after == KEEP and size >= 0:
        memo[0], memo[1] = head, reply
    return reply


def parse_status(head: bytes) -> int:
    """The status code of a reply's head; ProtocolError unless its first line is `HTTP/1.x NNN[ reason]`."""
    line = head.split(b"\r\n", 1)[0]
    version, _, rest = line.partition(b" ")
    code = rest[:3]
    if (
        version[:7] != b"HTTP/1."
        or len(version) != 8
        or not version[7:].isdigit()
        or len(code) != 3
        or not code.isdigit()
        or rest[3:4] not in (b"", b" ")
        or code < b"100"
    ):
        raise ProtocolError("a malformed status line: %r" % line[:100])
    return int(code)


def _after(head: bytes, headers: Headers) -> int:
    """Whether the connection stays open after this reply (KEEP), or closes as it said (CLOSE) or as
    HTTP/1.0 implies without saying (CLOSE_UNANNOUNCED)."""
    tokens = (headers.get(b"connection") or b"").lower().replace(b" ", b"").replace(b"\t", b"").split(b",")
    if b"close" in tokens:
        return CLOSE
    if head.startswith(b"HTTP/1.0") and b"keep-alive" not in tokens:
        return CLOSE_UNANNOUNCED
    return KEEP


def framing(coding: "bytes | None", length: "bytes | None", request: bool) -> int:
    """A body's length from its Transfer-Encoding and Content-Length values (None when absent):
    CHUNKED, a count, or for a reply UNTIL_CLOSE (RFC 9112, 6.3)."""
    if coding is not None:
        if coding.lower().rsplit(b",", 1)[-1].strip() == b"chunked":  # the last coding
            return CHUNKED
        if request:  # a request's body must end where its framing says
            raise ProtocolError("a request whose Transfer-Encoding is not chunked last: %r" % coding[:100])
        return UNTIL_CLOSE
    if length is not None:
        text = length.strip()
        if not text.isdigit():  # no sign, no underscore, no empty value: only digits
            raise ProtocolError("a malformed Content-Length: %r" % length[:100])
        return int(text)
    return 0 if request else UNTIL_CLOSE


def parse_request(head: bytes) -> "tuple[str, str, Headers]":
    """A request's head (up to, without, its blank line): (method, target, Headers)."""
    line = head.split(b"\r\n", 1)[0]
    parts = line.split(b" ")
    if (
        len(parts) != 3
        or not parts[0]
        or parts[0].strip(TOKEN)
        or not parts[1]
        or parts[2][:7] != b"HTTP/1."
        or len(parts[2]) != 8
        or not parts[2][7:].isdigit()
    ):
        raise ProtocolError("a malformed request line: %r" % line[:100])
    return parts[0].decode("ascii"), parts[1].decode("latin-1"), Headers(head)


def request_head(method: str, target: str, fields: bytes, length: int) -> bytes:
    """A request's head: `fields` are whole header lines (each ends in CRLF), then the framing of a
    body of `length` bytes (Content-Length), or CHUNKED (Transfer-Encoding), and the blank line."""
    if not target or " " in target or "\r" in target or "\n" in target:
        raise ProtocolError("a request target may not be empty or contain spaces or line breaks: %r" % target[:100])
    framed = b"Transfer-Encoding: chunked\r\n\r\n" if length == CHUNKED else b"Content-Length: %d\r\n\r\n" % length
    return ("%s %s HTTP/1.1\r\n" % (method, target)).encode("latin-1") + fields + framed
