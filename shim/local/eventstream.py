"""The binary event-stream encoding of InvokeWithResponseStream's response (for `shim serve`).

Each message: total length (uint32, big-endian), headers length (uint32), CRC32 of those
8 bytes; the headers (name length uint8, name, type 7 = string, value length uint16,
value); the payload; CRC32 of everything before it. The SDKs (botocore's
eventstream.py) check both CRCs and dispatch on the `:event-type` header.

Lambda sends PayloadChunk events, whose payload is the raw bytes of one chunk, then
one InvokeComplete, whose payload is JSON with ErrorCode, ErrorDetails and LogResult
when there is something to say.
"""

import json
import struct
import zlib

CONTENT_TYPE = "application/vnd.amazon.eventstream"


def message(headers, payload):
    """One event-stream message; `headers` are (name, string value) pairs, in order."""
    encoded = b""
    for name, value in headers:
        name_bytes, value_bytes = name.encode("utf-8"), value.encode("utf-8")
        encoded += (
            struct.pack("!B", len(name_bytes)) + name_bytes + struct.pack("!BH", 7, len(value_bytes)) + value_bytes
        )
    total = 12 + len(encoded) + len(payload) + 4
    prelude = struct.pack("!II", total, len(encoded))
    prelude += struct.pack("!I", zlib.crc32(prelude))
    body = prelude + encoded + payload
    return body + struct.pack("!I", zlib.crc32(body))


def _event(event_type, content_type, payload):
    return message([(":event-type", event_type), (":content-type", content_type), (":message-type", "event")], payload)


def payload_chunk(data):
    """A PayloadChunk event: one chunk of the function's response, as it is."""
    return _event("PayloadChunk", "application/octet-stream", bytes(data))


def invoke_complete(error_code=None, error_details=None, log_result=None):
    """The InvokeComplete event that ends the stream; ErrorCode/ErrorDetails only for a failed invoke."""
    fields = {}
    if error_code is not None:
        fields["ErrorCode"] = error_code
        fields["ErrorDetails"] = error_details or ""
    if log_result is not None:
        fields["LogResult"] = log_result
    return _event("InvokeComplete", "application/json", json.dumps(fields).encode("utf-8"))


def decode(data):
    """The messages in `data` as (headers dict, payload) pairs, checking both CRCs (for tests and tools)."""
    messages = []
    while data:
        total, headers_length, prelude_crc = struct.unpack("!III", data[:12])
        if (
            zlib.crc32(data[:8]) != prelude_crc
            or zlib.crc32(data[: total - 4]) != struct.unpack("!I", data[total - 4 : total])[0]
        ):
            raise ValueError("event-stream message with a bad CRC")
        raw, headers = data[12 : 12 + headers_length], {}
        while raw:
            name_length = raw[0]
            name = raw[1 : 1 + name_length].decode("utf-8")
            kind, value_length = struct.unpack("!BH", raw[1 + name_length : 4 + name_length])
            if kind != 7:
                raise ValueError("only string headers are decoded here, got type %d" % kind)
            headers[name] = raw[4 + name_length : 4 + name_length + value_length].decode("utf-8")
            raw = raw[4 + name_length + value_length :]
        messages.append((headers, data[12 + headers_length : total - 4]))
        data = data[total:]
    return messages
