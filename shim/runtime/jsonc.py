"""JSON through the interpreter's C accelerator (`_json`), without importing the `json` package.

`import json` cost the runtime's cold start 27 M of its 72.5 M instructions (make bench, Python 3.11):
json.decoder and json.encoder compile regular expressions at import, which loads `re`, its
compiler and `enum`. The work itself is
done by `_json` in C either way; this module builds the same C scanner and encoder that
json.loads and json.dumps use, with the same settings, so their output is the stdlib's byte
for byte. Whatever the C parts do not cover (a document with surrounding whitespace, a BOM,
an error and its message, an object `default` cannot encode) goes to the `json` package,
imported then: the results and errors stay the stdlib's.

Without `_json` (not CPython), `json` is imported at once and used throughout.
"""

try:
    import _json
except ImportError:  # pragma: no cover - CPython always has it
    _json = None  # type: ignore[assignment]

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (the cold start)
if TYPE_CHECKING:
    from typing import Any, Callable, Iterable, NoReturn

    Scanner = Callable[[str, int], "tuple[Any, int]"]  # scan(text, index) -> (value, end)
    Encoder = Callable[[object, int], Iterable[str]]  # encode(value, 0) -> chunks


class _ScannerContext:
    """The attributes of json.JSONDecoder() that the C scanner reads."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    memo = None

    def __init__(self) -> None:
        nan, inf = float("nan"), float("inf")
        self.parse_constant = {"-Infinity": -inf, "Infinity": inf, "NaN": nan}.__getitem__


def scanner() -> "Scanner":
    """scan(text, index) -> (value, end): json.scanner.c_make_scanner's. It raises StopIteration where no
    value starts, and a syntax error as json.decoder.JSONDecodeError, which it takes from sys.modules: while
    `json` is not imported, CPython raises SystemError instead. Catch the three, then ask the json package."""
    if _json is None:
        import json

        return json.scanner.make_scanner(json.JSONDecoder())
    # typeshed wants a make_scanner for context (its TODO: any object with these attributes, which is what C reads).
    return _json.make_scanner(_ScannerContext())  # type: ignore[arg-type]


def not_serializable(obj: "object") -> "NoReturn":
    """json.JSONEncoder.default: the same TypeError, word for word."""
    raise TypeError("Object of type %s is not JSON serializable" % obj.__class__.__name__)


def encoder(
    default: "Callable[[Any], object]" = not_serializable, ensure_ascii: "bool" = True, allow_nan: "bool" = True
) -> "Encoder | None":
    """encode(value, 0) -> chunks to join: what json.dumps(value, default=..., ensure_ascii=...) runs
    (one-shot, compact separators off: ', ' and ': '). Its circular-reference markers are empty again
    after a successful call; after a failure make a new one. None without the C encoder."""
    if _json is None or getattr(_json, "make_encoder", None) is None:
        return None
    strings = _json.encode_basestring_ascii if ensure_ascii else _json.encode_basestring
    return _json.make_encoder({}, default, strings, None, ": ", ", ", False, False, allow_nan)


def dumps(value: "object", default: "Callable[[Any], object]" = not_serializable, ensure_ascii: "bool" = True) -> "str":
    """json.dumps(value, default=default, ensure_ascii=ensure_ascii), the same text."""
    if isinstance(value, str) and _json is not None:
        return (_json.encode_basestring_ascii if ensure_ascii else _json.encode_basestring)(value)
    encode = encoder(default, ensure_ascii)
    if encode is None:
        import json

        return json.dumps(value, default=default, ensure_ascii=ensure_ascii)
    return "".join(encode(value, 0))
