"""Error payloads in-process: their shape, the user's frames, the X-Ray cause and panics described."""

import json

from shim.runtime import errors


def _raise(exc):
    raise exc


def test_payload_shape_and_user_frames():
    try:
        _raise(KeyError("k"))
    except KeyError as exc:
        body, cause = errors.from_exception(exc, "req-1")
    assert list(body) == ["errorMessage", "errorType", "requestId", "stackTrace"]
    assert body["errorType"] == "KeyError" and body["errorMessage"] == "'k'" and body["requestId"] == "req-1"
    assert "in _raise" in body["stackTrace"][-1]
    assert json.loads(cause)["exceptions"][0]["type"] == "KeyError"


def test_xray_cause_is_capped():
    frames = [
        type("F", (), {"name": "f%d" % i, "filename": "/var/task/m%d.py" % i, "lineno": i})() for i in range(20000)
    ]
    cause = errors.xray_cause("E", "m" * 100000, frames)
    assert len(cause) <= 64 * 1024
    decoded = json.loads(cause)
    assert decoded["exceptions"][0]["stack"][-1]["label"] == "f19999"  # innermost frames kept
    assert len(decoded["exceptions"][0]["message"]) == 4096


def test_describe_panics():
    assert errors.describe(SystemExit(2)) == ("SystemExit", "Handler called sys.exit(2)")
    assert errors.describe(KeyboardInterrupt()) == ("KeyboardInterrupt", "Handler was interrupted (KeyboardInterrupt)")
