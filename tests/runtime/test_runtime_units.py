"""Unit tests: the loader, the marshaller, the error formatter and the HTTP client's framing."""
import decimal
import json
import socket
import sys
import threading

import pytest

from shim.runtime import errors
from shim.runtime import loader
from shim.runtime import marshal
from shim.runtime.client import RuntimeAPI, RuntimeAPIError

# -- loader ---------------------------------------------------------------------------------


@pytest.mark.parametrize("spec,expected", [
    ("handler.Handle", ("handler", "Handle")),
    ("dir/sub/file.Handle", ("dir.sub.file", "Handle")),
    ("pkg.sub.file.Handle", ("pkg.sub.file", "Handle")),
    (" handler.Handle ", ("handler", "Handle")),
])
def test_split_handler(spec, expected):
    assert loader.split_handler(spec) == expected


@pytest.mark.parametrize("spec", ["", "handler", ".Handle", "handler.", "a..b.Handle", None])
def test_split_handler_rejects_malformed(spec):
    with pytest.raises(errors.Fault) as caught:
        loader.split_handler(spec)
    assert caught.value.error_type == "Runtime.MalformedHandlerName"
    assert "expected MODULE.FUNCTION" in caught.value.message


def test_python_path_puts_task_root_first(tmp_path):
    assert loader.python_path(str(tmp_path))[0] == str(tmp_path)


# -- marshaller -----------------------------------------------------------------------------


def test_encode_plain_values():
    assert marshal.encode_result({"a": [1, None, True]}) == (b'{"a": [1, null, true]}', "application/json")
    assert marshal.encode_result("text") == (b'"text"', "application/json")
    assert marshal.encode_result(None) == (b"null", "application/json")
    assert marshal.encode_result(b"\x01\x02") == (b"\x01\x02", "application/unknown")


def test_encode_decimals_keep_exact_digits():
    value = {"a": decimal.Decimal("1.10"), "b": [decimal.Decimal("1E+2"), decimal.Decimal("-0")],
             "c": decimal.Decimal("NaN"), "d": "shim-decimal-0"}
    body, _ = marshal.encode_result(value)
    assert body == b'{"a": 1.10, "b": [1E+2, -0], "c": NaN, "d": "shim-decimal-0"}'


def test_strings_that_look_like_decimal_placeholders_survive():
    # The placeholder carries a random per-process token, so user data cannot collide with it.
    lookalike = "shim-decimal-0000000000000000-0"
    body, _ = marshal.encode_result([decimal.Decimal("2.50"), lookalike])
    assert body == b'[2.50, "%s"]' % lookalike.encode()


@pytest.mark.parametrize("value,needle", [({1, 2}, "set"), (object(), "object"), ({"k": b"x"}, "bytes"),
                                          ({(1, 2): 1}, "tuple")])
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
    assert marshal.decode_event(b'[1]', None) == [1]
    assert marshal.decode_event(b"raw", "text/plain") == b"raw"
    with pytest.raises(errors.Fault) as caught:
        marshal.decode_event(b"{", "application/json")
    assert caught.value.error_type == "Runtime.UnmarshalError"


# -- error formatter ------------------------------------------------------------------------


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
    frames = [type("F", (), {"name": "f%d" % i, "filename": "/var/task/m%d.py" % i, "lineno": i})()
              for i in range(20000)]
    cause = errors.xray_cause("E", "m" * 100000, frames)
    assert len(cause) <= 64 * 1024
    decoded = json.loads(cause)
    assert decoded["exceptions"][0]["stack"][-1]["label"] == "f19999"  # innermost frames kept
    assert len(decoded["exceptions"][0]["message"]) == 4096


def test_describe_panics():
    assert errors.describe(SystemExit(2)) == ("SystemExit", "Handler called sys.exit(2)")
    assert errors.describe(KeyboardInterrupt()) == ("KeyboardInterrupt", "Handler was interrupted (KeyboardInterrupt)")


# -- HTTP client framing, against a scripted socket server ------------------------------------


class ScriptedServer:
    """Accepts connections and answers each request with the next canned reply."""

    def __init__(self, replies, close_after_each=False):
        self.replies = list(replies)
        self.close_after_each = close_after_each
        self.requests = []
        self.connections = 0
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.address = "127.0.0.1:%d" % self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while self.replies:
            conn, _ = self.sock.accept()
            self.connections += 1
            with conn:
                while self.replies:
                    data = b""
                    while b"\r\n\r\n" not in data:
                        chunk = conn.recv(65536)
                        if not chunk:
                            break
                        data += chunk
                    if not data:
                        break
                    head, _, rest = data.partition(b"\r\n\r\n")
                    length = 0
                    for line in head.split(b"\r\n"):
                        if line.lower().startswith(b"content-length:"):
                            length = int(line.split(b":")[1])
                    while len(rest) < length:
                        rest += conn.recv(65536)
                    self.requests.append((head, rest))
                    reply = self.replies.pop(0)
                    if reply is None:  # drop the connection without answering
                        break
                    conn.sendall(reply)
                    if self.close_after_each:
                        break


NEXT_HEADERS = b"Lambda-Runtime-Aws-Request-Id: r1\r\nLambda-Runtime-Deadline-Ms: 123\r\nContent-Type: application/json\r\n"


def test_client_reads_chunked_bodies():
    body = b'{"k": "' + b"x" * 100000 + b'"}'
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 7000]), body[i:i + 7000]) for i in range(0, len(body), 7000))
    server = ScriptedServer([b"HTTP/1.1 200 OK\r\n" + NEXT_HEADERS + b"Transfer-Encoding: chunked\r\n\r\n" + chunks + b"0\r\n\r\n"])
    invocation = RuntimeAPI(server.address).next()
    assert invocation.body == body and invocation.request_id == "r1" and invocation.deadline_ms == 123


def test_client_reads_close_delimited_bodies_and_reconnects():
    reply = b"HTTP/1.1 200 OK\r\n" + NEXT_HEADERS + b"Connection: close\r\n\r\n[1, 2]"
    server = ScriptedServer([reply, reply], close_after_each=True)
    api = RuntimeAPI(server.address)
    assert api.next().body == b"[1, 2]"
    assert api.next().body == b"[1, 2]"
    assert server.connections == 2


def test_client_retries_once_on_a_stale_keep_alive_connection():
    ok = b"HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\n{}"
    next_reply = b"HTTP/1.1 200 OK\r\n" + NEXT_HEADERS + b"Content-Length: 2\r\n\r\n{}"
    server = ScriptedServer([next_reply, None, ok])  # the second request finds the connection dropped
    api = RuntimeAPI(server.address)
    api.next()
    assert api.respond("r1", b"{}") == 202
    assert server.connections == 2
    assert server.requests[-1][0].startswith(b"POST /2018-06-01/runtime/invocation/r1/response HTTP/1.1")


def test_client_reports_unexpected_status():
    server = ScriptedServer([b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 13\r\n\r\ncontainer err"])
    with pytest.raises(RuntimeAPIError) as caught:
        RuntimeAPI(server.address).next()
    assert caught.value.status == 500 and "container err" in str(caught.value)


def test_client_error_headers_cannot_be_injected():
    server = ScriptedServer([b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n"])
    RuntimeAPI(server.address).fail("r1", b"{}", "Evil\r\nX-Injected: 1", None)
    lines = server.requests[0][0].split(b"\r\n")
    assert not [line for line in lines if line.startswith(b"X-Injected")]
    assert b"Lambda-Runtime-Function-Error-Type: Evil??X-Injected: 1" in lines


@pytest.mark.parametrize("address", ["", "nohost", "host:", ":9001", "host:port"])
def test_client_rejects_bad_addresses(address):
    with pytest.raises(ValueError):
        RuntimeAPI(address)


def test_client_accepts_ipv6_literal():
    assert RuntimeAPI("[::1]:9001")._host == "::1"


def test_runtime_modules_stay_light():
    # The cold start depends on what the runtime imports; http.client and ssl must not come in.
    import subprocess
    code = "import sys, shim.runtime.main; print(' '.join(sorted(sys.modules)))"
    modules = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    for heavy in ("http.client", "ssl", "asyncio", "structlog", "dataclasses", "typing"):
        assert heavy not in modules


def test_emulator_stops_even_if_never_started():
    from shim.local.emulator import RuntimeAPIServer
    done = threading.Event()
    threading.Thread(target=lambda: (RuntimeAPIServer().stop(), done.set()), daemon=True).start()
    assert done.wait(5)


def test_cli_usage_errors_are_one_line_even_as_a_module(tmp_path):
    import subprocess
    result = subprocess.run([sys.executable, "-m", "shim.cli", "pack", str(tmp_path / "missing"), "-o", str(tmp_path / "x.zip")],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and result.stderr.startswith("shim pack: ")
    assert "Traceback" not in result.stderr


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


@pytest.mark.parametrize("value", [
    {"a": [1, 2.5, None, True, "é"]}, {"d": decimal.Decimal("1.10"), "e": [decimal.Decimal("-0")]},
    {1: "int key"}, "text", [], {"big": 2 ** 70}, {"nan": decimal.Decimal("NaN")},
])
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


@pytest.mark.parametrize("value,needle", [({1, 2}, "set"), ({(1, 2): 1}, "tuple"),
                                          (__import__("datetime").datetime(2020, 1, 1), "datetime")])
def test_orjson_refusals_are_the_stdlib_marshal_errors(with_orjson, value, needle):
    with pytest.raises(errors.Fault) as caught:
        marshal.encode_result(value)
    assert caught.value.error_type == "Runtime.MarshalError" and needle in caught.value.message


def test_client_pipelines_the_next_poll_behind_an_answer():
    """The server answers the POST only once it also holds the GET: without pipelining this would hang."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    seen = []

    def serve():
        conn, _ = listener.accept()
        data = b""
        while data.count(b"\r\n\r\n") < 2 or not data.endswith(b"\r\n\r\n"):
            data += conn.recv(65536)
        seen.append(data)
        conn.sendall(b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n"
                     b"HTTP/1.1 200 OK\r\n" + NEXT_HEADERS + b"Content-Length: 2\r\n\r\n{}")
        conn.recv(1)

    threading.Thread(target=serve, daemon=True).start()
    api = RuntimeAPI("127.0.0.1:%d" % listener.getsockname()[1])
    outcome = []
    worker = threading.Thread(target=lambda: outcome.append((api.respond("r0", b'"ok"', then_next=True), api.next())),
                              daemon=True)
    worker.start()
    worker.join(5)
    assert outcome, "the client waited for the POST's reply before sending GET /next"
    status, invocation = outcome[0]
    assert status == 202 and invocation.request_id == "r1"
    post, _, get = seen[0].partition(b'"ok"')
    assert post.startswith(b"POST /2018-06-01/runtime/invocation/r0/response") and get.startswith(b"GET ")
    api.close()


def test_headers_lookup():
    from shim.runtime.client import Headers
    headers = Headers(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Empty:\r\nLambda-Runtime-Trace-Id:  Root=1 ")
    assert headers.get(b"content-type") == b"application/json"
    assert headers.get(b"lambda-runtime-trace-id") == b"Root=1"  # the last line has no CRLF after it
    assert headers.get(b"x-empty") == b"" and headers.get(b"missing") is None
    assert headers.get(b"type") is None  # a name only matches whole


def test_decode_event_encodings():
    assert marshal.decode_event(b'\xef\xbb\xbf{"bom": true}', "application/json") == {"bom": True}
    assert marshal.decode_event('{"é": "ü"}'.encode(), None) == {"é": "ü"}
    with pytest.raises(errors.Fault) as caught:
        marshal.decode_event(b'{"a": "\xff"}', "application/json")
    assert caught.value.error_type == "Runtime.UnmarshalError"
