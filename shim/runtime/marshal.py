"""Events in, results out: JSON with the official client's rules.

- An event whose Content-Type is JSON (or absent) is decoded; any other type is
  handed to the handler as the raw bytes, as awslambdaric does.
- bytes are returned as they are, with Content-Type application/unknown.
- Everything else is JSON-encoded. Decimal keeps its exact digits.
- Output is UTF-8 (ensure_ascii=False) as on the python3.12+ managed runtimes;
  AWS_EXECUTION_ENV naming python3.9-3.11 switches to \\u escapes as they do.

orjson encodes 5-8x faster, but importing it costs ~35 ms (it loads dataclasses,
uuid, inspect), more than a whole cold start. So it is used only when the
function imported it anyway, or when SHIM_JSON=orjson asks to pay for it at
init. Anything orjson refuses goes the stdlib way, so the result or the
MarshalError is the stdlib's; what differs is documented in the README.
Events are always decoded by the stdlib: orjson turns integers above 64 bits into floats.
"""

import os
import sys

from shim.runtime import errors, jsonc

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (the cold start)
if TYPE_CHECKING:
    from types import ModuleType
    from typing import Mapping

    from orjson import Fragment

    from shim.runtime.jsonc import Encoder

_ESCAPING_RUNTIMES = ("AWS_Lambda_python3.9", "AWS_Lambda_python3.10", "AWS_Lambda_python3.11")
_ENSURE_ASCII = os.environ.get("AWS_EXECUTION_ENV") in _ESCAPING_RUNTIMES
# The C halves of json.loads and json.dumps, called directly (shim.runtime.jsonc), without importing
# the json package (with re and enum: 27 M instructions of a small function's cold start).
# JSONDecoder.decode would also match a whitespace regex twice around the scan, and JSONEncoder.encode
# build a new C encoder on every call (together ~40% of a small invoke's JSON work). What they would do
# differently (leading or trailing whitespace, a BOM, errors and their messages) goes the stdlib way,
# so results and errors stay the stdlib's.
_scan = jsonc.scanner()
_encode_c = jsonc.encoder(ensure_ascii=_ENSURE_ASCII)  # made now, not in the first invoke; remade by _c_encoder()
_C_ENCODER = _encode_c is not None  # after a failure drops it (its markers may be stale)
_decimal_mark: "str | None" = None  # a per-process random token, made the first time a Decimal is seen
_orjson: "ModuleType | None" = None  # the module, once choose_encoder() picked it
_ORJSON_OPTIONS = 0


def choose_encoder(environ: "Mapping[str, str]" = os.environ) -> "str | None":
    """After init: use orjson if asked to (SHIM_JSON=orjson) or if the function already loaded it."""
    global _orjson
    mode = (environ.get("SHIM_JSON") or "auto").lower()
    _orjson = None
    if mode == "json" or _ENSURE_ASCII or (mode == "auto" and "orjson" not in sys.modules):
        return None
    try:
        import orjson
    except ImportError:
        if mode == "orjson":
            return "SHIM_JSON=orjson, but orjson is not installed (add it to requirements.txt); using json"
        return None
    global _ORJSON_OPTIONS
    # Datetimes and dataclasses to `default` (and so to the stdlib's MarshalError), as json does.
    _ORJSON_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
    _orjson = orjson
    return None


def decode_event(body: "bytes", content_type: "str | None") -> "object":
    if content_type is not None and content_type != "application/json":
        if content_type and not content_type.lower().startswith("application/json"):
            return body
    if _scan is not None:
        try:
            text = body.decode()  # UTF-8, the default: no argument to parse
            value, end = _scan(text, 0)
            if end == len(text):
                return value
        except (StopIteration, ValueError, SystemError):  # SystemError: see jsonc.scanner
            pass  # not a bare JSON document: the full decoder says what it is, or why not
    return _decode_fully(body)


_WHITESPACE = " \t\n\r"  # JSON's, as json.decoder.WHITESPACE matches it


def _decode_fully(body: "bytes") -> "object":
    """A BOM, whitespace around the document (as json.loads allows), else the stdlib's decoder and its error."""
    if body[:3] == b"\xef\xbb\xbf":
        body = body[3:]  # by hand: the utf-8-sig codec is a module imported on first use
    try:
        # Lambda's events are UTF-8; json.loads(bytes) would first guess among
        # UTF-8/16/32 in Python code on every invoke.
        text = body.decode("utf-8")
        if _scan is not None:
            try:
                value, end = _scan(text, len(text) - len(text.lstrip(_WHITESPACE)))
                if not text[end:].strip(_WHITESPACE):
                    return value
            except (StopIteration, ValueError, SystemError):
                pass  # the stdlib's decoder says why
        import json  # only for an event that is not JSON: the stdlib's error message

        return json.JSONDecoder().decode(text)
    except ValueError as exc:  # UnicodeDecodeError included
        raise errors.Fault(errors.UNMARSHAL_ERROR, "Unable to unmarshal input: %s" % exc) from None


def encode_result(value: "object") -> "tuple[bytes, str]":
    """(body bytes, content type) or Fault(Runtime.MarshalError)."""
    if type(value) is bytes:
        return value, "application/unknown"
    if _orjson is not None:
        try:
            return _orjson.dumps(value, default=_orjson_default, option=_ORJSON_OPTIONS), "application/json"
        except (TypeError, ValueError):
            pass  # the stdlib gives the answer for what orjson refuses: a result, or the MarshalError
    try:
        try:
            text = "".join((_encode_c or _c_encoder())(value, 0)) if _C_ENCODER else _encode_plain(value)
        except TypeError:
            _forget_c_encoder()
            text = _encode_with_decimals(value)  # only pays for this when a Decimal is present
        return text.encode(), "application/json"  # UTF-8
    except errors.Fault:
        raise
    except Exception as exc:  # noqa: BLE001 - TypeError, ValueError (circular), RecursionError, ...
        _forget_c_encoder()
        raise errors.Fault(errors.MARSHAL_ERROR, "Unable to marshal response: %s" % exc) from None
    except BaseException:  # a signal or sys.exit() from a user's __str__ or default, mid-encoding
        _forget_c_encoder()
        raise


def _c_encoder() -> "Encoder":
    """What JSONEncoder.encode makes for every call (json.encoder's iterencode, one-shot), made once.
    Its markers dict (circular reference detection) is empty again after every successful encoding."""
    global _encode_c
    _encode_c = encode = jsonc.encoder(ensure_ascii=_ENSURE_ASCII)
    assert encode is not None  # called only where _C_ENCODER says there is a C encoder
    return encode


def _encode_plain(value: "object") -> "str":
    import json

    return json.JSONEncoder(ensure_ascii=_ENSURE_ASCII, allow_nan=True).encode(value)


def _forget_c_encoder() -> None:
    global _encode_c
    _encode_c = None


def _orjson_default(obj: "object") -> "Fragment":
    from decimal import Decimal

    from orjson import Fragment  # loaded: this is the default of its dumps

    if isinstance(obj, Decimal) and not obj.is_nan():
        return Fragment(str(obj).encode())
    raise TypeError


def _encode_with_decimals(value: "object") -> "str":
    import json
    from decimal import Decimal

    global _decimal_mark
    if _decimal_mark is None:
        _decimal_mark = "shim-decimal-" + os.urandom(8).hex() + "-"
    digits: "list[str]" = []

    def default(obj: "object") -> "float | str":
        if isinstance(obj, Decimal):
            if obj.is_nan():
                return float("nan")
            digits.append(str(obj))
            return "%s%d" % (_decimal_mark, len(digits) - 1)
        raise TypeError("Object of type %s is not JSON serializable" % type(obj).__name__)

    text = json.JSONEncoder(ensure_ascii=_ENSURE_ASCII, allow_nan=True, default=default).encode(value)
    if not digits:
        return text
    import re  # json has loaded it already (just above)

    placeholder = re.compile('"%s(\\d+)"' % re.escape(_decimal_mark))
    return placeholder.sub(lambda m: digits[int(m.group(1))], text)
