"""JSON in and out, in-process: events decoded, results encoded, and the optional orjson encoder."""

import decimal
import json
import sys

import pytest

from shim.runtime import errors, marshal


def test_encode_plain_values():
    assert marshal.encode_result({"a": [1, None, True]}) == (b'{"a": [1, null, true]}', "application/json")
    assert marshal.encode_result("text") == (b'"text"', "application/json")
    assert marshal.encode_result(None) == (b"null", "application/json")
    assert marshal.encode_result(b"\x01\x02") == (b"\x01\x02", "application/unknown")


def test_encode_decimals_keep_exact_digits():
    value = {
        "a": decimal.Decimal("1.10"),
        "b": [decimal.Decimal("1E+2"), decimal.Decimal("-0")],
        "c": decimal.Decimal("NaN"),
        "d": "shim-decimal-0",
    }
    body, _ = marshal.encode_result(value)
    assert body == b'{"a": 1.10, "b": [1E+2, -0], "c": NaN, "d": "shim-decimal-0"}'


def test_strings_that_look_like_decimal_placeholders_survive():
    # The placeholder carries a random per-process token, so user data cannot collide with it.
    lookalike = "shim-decimal-0000000000000000-0"
    body, _ = marshal.encode_result([decimal.Decimal("2.50"), lookalike])
    assert body == b'[2.50, "%s"]' % lookalike.encode()


@pytest.mark.parametrize(
    "value,needle", [({1, 2}, "set"), (object(), "object"), ({"k": b"x"}, "bytes"), ({(1, 2): 1}, "tuple")]
)
def test_encode_failures_are_marshal_errors(value, needle):
    with pytest.raises(errors.Fault) as caught:
        marshal.encode_result(value)
    assert caught.value.error_type == "Runtime.MarshalError"
    assert needle in caught.value.message


def test_encode_circular_and_surrogates():
    loop = []
    loop.append(loop)
    for value in (loop, "\ud800"):
        with pytest.raises(errors.Fault) as caught:
            marshal.encode_result(value)
        assert caught.value.error_type == "Runtime.MarshalError"


def test_decode_event_rules():
    assert marshal.decode_event(b'{"a": 1}', "application/json") == {"a": 1}
    assert marshal.decode_event(b"[1]", None) == [1]
    assert marshal.decode_event(b"raw", "text/plain") == b"raw"
    with pytest.raises(errors.Fault) as caught:
        marshal.decode_event(b"{", "application/json")
    assert caught.value.error_type == "Runtime.UnmarshalError"


def test_decode_event_encodings():
    assert marshal.decode_event(b'\xef\xbb\xbf{"bom": true}', "application/json") == {"bom": True}
    assert marshal.decode_event('{"é": "ü"}'.encode(), None) == {"é": "ü"}
    with pytest.raises(errors.Fault) as caught:
        marshal.decode_event(b'{"a": "\xff"}', "application/json")
    assert caught.value.error_type == "Runtime.UnmarshalError"


@pytest.mark.parametrize(
    "body",
    [
        b'{"a": 1}',
        b' {"a": 1}',
        b'{"a": 1} ',
        b"\n[1, 2]\n",
        b'"text"',
        b"12",
        b"1e400",
        b"NaN",
        b"-Infinity",
        b"123456789012345678901234567890",
        b"{}",
        b"[]",
        b"null",
        b'{"a": 1}{',
        b'{"a": 1} x',
        b"",
        b"  ",
        b"{",
        b'{"a" 1}',
        b"[1,]",
        b"nul",
        b'"\\ud800"',
        b'{"a": 1, "a": 2}',
        b"\xef\xbb\xbf[1]",
        b"\xef\xbb\xbf",
    ],
)
def test_decode_event_is_the_stdlibs_decoding_whatever_the_body(body):
    # The warm path scans with the C scanner alone; anything it would do differently goes the stdlib way.
    try:
        expected = json.loads(body[3:] if body.startswith(b"\xef\xbb\xbf") else body)
    except ValueError as exc:
        with pytest.raises(errors.Fault) as caught:
            marshal.decode_event(body, "application/json")
        assert caught.value.message == "Unable to unmarshal input: %s" % exc
    else:
        decoded = marshal.decode_event(body, "application/json")
        assert json.dumps(decoded) == json.dumps(expected) and type(decoded) is type(expected)


def test_encode_is_the_stdlibs_encoding_and_recovers_after_failures():
    class Interrupted(dict):
        def items(self):  # the encoder asks a dict subclass for its items: user code, mid-encoding
            raise KeyboardInterrupt

    # The encoder marks the containers it is inside (to detect circular references); a failure
    # mid-way must not leave them marked, or the next result holding one of them would be refused.
    box = {"inner": [object()]}
    loop = {"self": None}
    loop["self"] = loop
    for bad, fix in ((loop, lambda: loop.pop("self")), (box, lambda: box["inner"].__setitem__(0, 1))):
        with pytest.raises(errors.Fault):
            marshal.encode_result(bad)
        fix()
        for value in ({"a": [1.5, None, True, "é", {"b": bad, "c": bad}]}, [bad, bad], "top", float("nan")):
            assert marshal.encode_result(value) == (json.dumps(value, ensure_ascii=False).encode(), "application/json")
    with pytest.raises(errors.Fault):
        marshal.encode_result([box, {(1,): 2}])  # a key it refuses, inside a marked list
    assert marshal.encode_result([box, box]) == (b'[{"inner": [1]}, {"inner": [1]}]', "application/json")
    interrupted = [box, [Interrupted(a=1)]]
    with pytest.raises(KeyboardInterrupt):
        marshal.encode_result(interrupted)
    interrupted[1] = 2
    assert marshal.encode_result(interrupted) == (b'[{"inner": [1]}, 2]', "application/json")


# -- the optional orjson encoder -------------------------------------------------------------

orjson = pytest.importorskip("orjson", reason="orjson is the optional accelerator; pip install '.[test]'")


@pytest.fixture
def with_orjson(monkeypatch):
    assert marshal.choose_encoder({"SHIM_JSON": "orjson"}) is None and marshal._orjson is orjson
    yield
    marshal.choose_encoder({"SHIM_JSON": "json"})


def test_orjson_is_chosen_only_when_asked_or_already_loaded(monkeypatch):
    monkeypatch.delitem(sys.modules, "orjson")
    marshal.choose_encoder({})
    assert marshal._orjson is None  # auto, and the function did not import it: stay on json
    marshal.choose_encoder({"SHIM_JSON": "orjson"})
    assert marshal._orjson is not None
    marshal.choose_encoder({"SHIM_JSON": "json"})
    assert marshal._orjson is None


def test_orjson_missing_is_a_warning_not_a_failure(monkeypatch):
    monkeypatch.setitem(sys.modules, "orjson", None)  # makes `import orjson` fail
    assert "not installed" in marshal.choose_encoder({"SHIM_JSON": "orjson"})
    assert marshal._orjson is None


@pytest.mark.parametrize(
    "value",
    [
        {"a": [1, 2.5, None, True, "é"]},
        {"d": decimal.Decimal("1.10"), "e": [decimal.Decimal("-0")]},
        {1: "int key"},
        "text",
        [],
        {"big": 2**70},
        {"nan": decimal.Decimal("NaN")},
    ],
)
def test_orjson_output_means_the_same_as_json(with_orjson, value):
    fast, kind = marshal.encode_result(value)
    marshal.choose_encoder({"SHIM_JSON": "json"})
    plain, _ = marshal.encode_result(value)
    assert kind == "application/json"
    if b"NaN" in plain:  # json.loads reads NaN, and NaN != NaN: compare the text instead
        assert fast == plain
    else:
        assert json.loads(fast) == json.loads(plain)
    if isinstance(value, dict) and "d" in value:
        assert b'"d":1.10' in fast  # exact digits through orjson.Fragment


@pytest.mark.parametrize(
    "value,needle", [({1, 2}, "set"), ({(1, 2): 1}, "tuple"), (__import__("datetime").datetime(2020, 1, 1), "datetime")]
)
def test_orjson_refusals_are_the_stdlib_marshal_errors(with_orjson, value, needle):
    with pytest.raises(errors.Fault) as caught:
        marshal.encode_result(value)
    assert caught.value.error_type == "Runtime.MarshalError" and needle in caught.value.message
