"""Events in, results out: JSON with the official client's rules.

- An event whose Content-Type is JSON (or absent) is decoded; any other type is
  handed to the handler as the raw bytes, as awslambdaric does.
- bytes are returned as they are, with Content-Type application/unknown.
- Everything else is JSON-encoded. Decimal keeps its exact digits.
- Output is UTF-8 (ensure_ascii=False) as on the python3.12+ managed runtimes;
  AWS_EXECUTION_ENV naming python3.9-3.11 switches to \\u escapes as they do.
"""
import json
import os
import re

from shim import errors

_ESCAPING_RUNTIMES = ("AWS_Lambda_python3.9", "AWS_Lambda_python3.10", "AWS_Lambda_python3.11")
_ENSURE_ASCII = os.environ.get("AWS_EXECUTION_ENV") in _ESCAPING_RUNTIMES
_encode_plain = json.JSONEncoder(ensure_ascii=_ENSURE_ASCII, allow_nan=True).encode
_decimal_mark = None  # a per-process random token, made the first time a Decimal is seen


def decode_event(body, content_type):
    if content_type and not content_type.lower().startswith("application/json"):
        return body
    try:
        return json.loads(body)
    except ValueError as exc:
        raise errors.Fault(errors.UNMARSHAL_ERROR, "Unable to unmarshal input: %s" % exc) from None


def encode_result(value):
    """(body bytes, content type) or Fault(Runtime.MarshalError)."""
    if type(value) is bytes:
        return value, "application/unknown"
    try:
        try:
            text = _encode_plain(value)
        except TypeError:
            text = _encode_with_decimals(value)  # only pays for this when a Decimal is present
        return text.encode("utf-8"), "application/json"
    except errors.Fault:
        raise
    except Exception as exc:  # TypeError, ValueError (circular), RecursionError, ...
        raise errors.Fault(errors.MARSHAL_ERROR, "Unable to marshal response: %s" % exc) from None


def _encode_with_decimals(value):
    from decimal import Decimal

    global _decimal_mark
    if _decimal_mark is None:
        _decimal_mark = "shim-decimal-" + os.urandom(8).hex() + "-"
    digits = []

    def default(obj):
        if isinstance(obj, Decimal):
            if obj.is_nan():
                return float("nan")
            digits.append(str(obj))
            return "%s%d" % (_decimal_mark, len(digits) - 1)
        raise TypeError("Object of type %s is not JSON serializable" % type(obj).__name__)

    text = json.JSONEncoder(ensure_ascii=_ENSURE_ASCII, allow_nan=True, default=default).encode(value)
    if not digits:
        return text
    placeholder = re.compile('"%s(\\d+)"' % re.escape(_decimal_mark))
    return placeholder.sub(lambda m: digits[int(m.group(1))], text)
