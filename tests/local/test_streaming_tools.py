"""Streamed responses through the local tools: `shim serve` (Invoke path, InvokeWithResponseStream with
boto3, Function URL), `shim invoke`, and the Function/InvokeResult the pytest plugin hands out."""

import base64
import http.client
import json
import re
import subprocess
import sys
import threading
import time

import pytest

from shim.local.function import Function

SHIM = [sys.executable, "-c", "import sys; from shim.cli import main; sys.exit(main())"]

HANDLER = """
import json, time
from shim.runtime.stream import HttpResponse

def Paced(event, context):
    for number in range(3):
        yield "chunk %d yielded at %.6f\\n" % (number, time.monotonic())
        time.sleep(0.3)
    if event.get("fail"):
        raise RuntimeError("broke off")
    yield "finished at %.6f\\n" % time.monotonic()

def Page(event, context):
    if event["rawPath"] == "/missing":
        yield HttpResponse(404, {"Content-Type": "text/plain"})
        yield "no such page\\n"
        return
    yield HttpResponse(200, {"Content-Type": "text/html", "X-Query": event.get("rawQueryString", "")},
                       cookies=["seen=1; Path=/"])
    yield "<p>%s %s</p>\\n" % (event["requestContext"]["http"]["method"], event["rawPath"])
    time.sleep(0.3)
    yield "finished at %.6f\\n" % time.monotonic()

def Injected(event, context):
    path = event["rawPath"]
    if path == "/value":
        yield HttpResponse(200, {"X-A": "a\\r\\nInjected: yes"})
    elif path == "/cookie":
        yield HttpResponse(200, cookies=["c=1\\r\\nX-Evil: 1"])
    elif path == "/name":
        yield HttpResponse(200, {"X-A: b\\r\\nX-Evil": "1"})
    else:  # past the constructor's checks: the local Function URL's own defence at the wire
        response = HttpResponse(200)
        response.headers["X-A"] = "a\\r\\nInjected: yes"
        yield response
    yield "body"

def BufferedInjected(event, context):
    return {"statusCode": 200, "headers": {"X-A": "a\\r\\nInjected: yes"}, "cookies": ["c=1\\r\\nX-Evil: 1"],
            "body": "x"}

def Euro(event, context):
    return {"statusCode": 200, "headers": {"X-Price": "10 \u20ac"}, "body": "ok"}

def NoContent(event, context):
    if event["rawPath"] == "/sized":
        yield HttpResponse(200, {"Content-Length": "10", "Content-Type": "text/plain"})
        yield "0123456789"
        return
    yield HttpResponse(204, {"X-Done": "1"})

def Buffered(event, context):
    return {"statusCode": 418, "headers": {"Content-Type": "text/plain"}, "cookies": ["t=pot"], "body": "short and stout"}
"""


@pytest.fixture(scope="module")
def function_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("streaming-tools")
    (root / "handler.py").write_text(HANDLER)
    return root


class Serve:
    """`shim serve` as a subprocess on a free port."""

    def __init__(self, function_dir, handler, *args):
        self.process = subprocess.Popen(
            SHIM
            + ["serve", str(function_dir), "--no-pack", "--port", "0", "--handler", handler, "--timeout", "30"]
            + list(args),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines = []
        listening = threading.Event()

        def read():
            for line in self.process.stderr:
                self.lines.append(line)
                if "listening on" in line:
                    listening.set()

        threading.Thread(target=read, daemon=True).start()
        try:
            assert listening.wait(30), "".join(self.lines)
            self.port = int(re.search(r"http://127\.0\.0\.1:(\d+)/", "".join(self.lines)).group(1))
        except BaseException:
            self.stop()
            raise

    def request(self, method, path, body=b"", headers=None):
        """(response, [(monotonic arrival time, bytes)]) reading the body as it comes, chunk by chunk."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        connection.request(method, path, body, headers or {})
        response = connection.getresponse()
        pieces = []
        while True:
            data = response.read1(65536)
            if not data:
                break
            pieces.append((time.monotonic(), data))
        connection.close()
        return response, pieces

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
        self.process.wait(30)


@pytest.fixture(scope="module")
def paced(function_dir):
    server = Serve(function_dir, "handler.Paced")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def page(function_dir):
    server = Serve(function_dir, "handler.Page", "--function-url")
    yield server
    server.stop()


def finished_at(data):
    return float(re.search(rb"finished at ([\d.]+)", data).group(1))


def test_serve_streams_the_invoke_path_chunk_by_chunk(paced):
    response, pieces = paced.request("POST", "/2015-03-31/functions/function/invocations", b"{}")
    assert response.status == 200
    assert response.getheader("Transfer-Encoding") == "chunked"
    assert response.getheader("Content-Type") == "application/octet-stream"
    body = b"".join(data for _, data in pieces)
    assert body.count(b"yielded at") == 3
    # The client read the first chunk before the handler had finished (the same monotonic clock).
    assert pieces[0][0] < finished_at(body)
    assert response.getheader("X-Amz-Function-Error") is None


def test_serve_reports_a_broken_stream_in_trailers(paced):
    connection = http.client.HTTPConnection("127.0.0.1", paced.port, timeout=30)
    connection.request("POST", "/2015-03-31/functions/function/invocations", b'{"fail": true}')
    response = connection.getresponse()
    body = response.read()
    connection.close()
    assert body.count(b"yielded at") == 3 and b"finished" not in body
    assert "X-Amz-Function-Error" in response.getheader("Trailer")
    # http.client drops trailers; check them on the wire with a raw socket instead.
    import socket

    with socket.create_connection(("127.0.0.1", paced.port), timeout=30) as sock:
        sock.sendall(
            b"POST /2015-03-31/functions/function/invocations HTTP/1.1\r\nHost: x\r\n"
            b'Content-Length: 14\r\nConnection: close\r\n\r\n{"fail": true}'
        )
        raw = b""
        while True:
            data = sock.recv(65536)
            if not data:
                break
            raw += data
    tail = raw[raw.rindex(b"\r\n0\r\n") + 5 :]
    trailers = dict(line.split(": ", 1) for line in tail.decode().split("\r\n") if line)
    assert trailers["X-Amz-Function-Error"] == "Unhandled"
    assert trailers["Lambda-Runtime-Function-Error-Type"] == "RuntimeError"
    assert json.loads(base64.b64decode(trailers["Lambda-Runtime-Function-Error-Body"]))["errorMessage"] == "broke off"


def test_boto3_invoke_with_response_stream_against_serve(paced, monkeypatch):
    boto3 = pytest.importorskip("boto3")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    client = boto3.client("lambda", region_name="us-east-1", endpoint_url="http://127.0.0.1:%d" % paced.port)
    response = client.invoke_with_response_stream(FunctionName="function", Payload=b"{}", LogType="Tail")
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200 and response["ExecutedVersion"] == "$LATEST"
    events = []
    for event in response["EventStream"]:
        events.append((time.monotonic(), event))
    kinds = [list(event)[0] for _, event in events]
    assert kinds == ["PayloadChunk"] * 4 + ["InvokeComplete"]
    payload = b"".join(event["PayloadChunk"]["Payload"] for _, event in events[:4])
    assert events[0][0] < finished_at(payload)  # boto3 handed over the first chunk while the handler ran
    complete = events[-1][1]["InvokeComplete"]
    assert "ErrorCode" not in complete
    assert "START RequestId" in base64.b64decode(complete["LogResult"]).decode()

    failed = client.invoke_with_response_stream(FunctionName="function", Payload=b'{"fail": true}')
    events = [event for event in failed["EventStream"]]
    assert [list(event)[0] for event in events] == ["PayloadChunk"] * 3 + ["InvokeComplete"]
    complete = events[-1]["InvokeComplete"]
    assert complete["ErrorCode"] == "RuntimeError"
    assert json.loads(complete["ErrorDetails"])["errorMessage"] == "broke off"


def test_serve_as_a_function_url(page):
    response, pieces = page.request("GET", "/hello/there?x=1&y=2", headers={"Cookie": "a=b"})
    assert response.status == 200
    assert response.getheader("Content-Type") == "text/html"
    assert response.getheader("X-Query") == "x=1&y=2"
    assert response.getheader("Set-Cookie") == "seen=1; Path=/"
    body = b"".join(data for _, data in pieces)
    assert body.startswith(b"<p>GET /hello/there</p>\n")
    assert pieces[0][0] < finished_at(body)  # the body streams: its start came before the handler finished
    missing, pieces = page.request("DELETE", "/missing")
    assert missing.status == 404 and b"".join(d for _, d in pieces) == b"no such page\n"
    # The Invoke paths are still the Invoke API's.
    invoked, pieces = page.request(
        "POST",
        "/2015-03-31/functions/function/invocations",
        json.dumps({"rawPath": "/x", "requestContext": {"http": {"method": "GET"}}}).encode(),
    )
    assert invoked.status == 200
    assert invoked.getheader("Content-Type") == "application/vnd.awslambda.http-integration-response"


def test_a_buffered_function_behind_a_function_url(function_dir):
    server = Serve(function_dir, "handler.Buffered", "--function-url")
    try:
        response, pieces = server.request("GET", "/")
        assert response.status == 418 and response.getheader("Set-Cookie") == "t=pot"
        assert b"".join(d for _, d in pieces) == b"short and stout"
    finally:
        server.stop()


def test_shim_invoke_prints_chunks_as_they_arrive(function_dir):
    process = subprocess.Popen(
        SHIM + ["invoke", str(function_dir), "--no-pack", "--handler", "handler.Paced"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    first_line = process.stdout.readline()
    first_at = time.monotonic()
    rest, errors = process.communicate(timeout=60)
    assert process.returncode == 0, errors
    assert first_line.startswith(b"chunk 0 yielded at")
    assert first_at < finished_at(rest)  # printed while the handler was still producing the rest
    assert re.search(rb"REPORT RequestId: .*\tTime To First Byte: [\d.]+ ms", errors)


def test_shim_invoke_shows_an_http_prelude_on_stderr(function_dir):
    done = subprocess.run(
        SHIM + ["invoke", str(function_dir), "--no-pack", "--handler", "handler.Page", "--event", "-"],
        input=json.dumps({"rawPath": "/a", "requestContext": {"http": {"method": "GET"}}}).encode(),
        capture_output=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(b"<p>GET /a</p>\n")
    assert b"\0" not in done.stdout
    assert b"HTTP 200 Content-Type: text/html; X-Query: ; Set-Cookie: seen=1; Path=/;" in done.stderr


def test_invoke_result_of_a_stream(function_dir):
    with Function(str(function_dir), "handler.Paced") as fn:
        seen = []
        result = fn.invoke({}, on_stream=seen.append)
        assert result.ok and result.streamed and len(result.chunks) == 4
        assert seen[0] == ("start", "application/octet-stream")
        assert [value for kind, value in seen[1:]] == result.chunks
        times = result.chunk_times_ms
        assert times == sorted(times) and result.first_byte_ms == times[0] < result.duration_ms
        assert "Time To First Byte: %.2f ms" % result.first_byte_ms in result.report_line()
        failed = fn.invoke({"fail": True})
        assert not failed.ok and failed.kind == "error" and failed.error_type == "RuntimeError"
        assert failed.error["errorMessage"] == "broke off" and len(failed.chunks) == 3


# -- bad input from a handler never becomes bad output on the wire --------------------------------------


def _raw(port, method, path):
    """The raw bytes of a response (until the server closes, or the head and a framed body are in)."""
    import socket

    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.sendall(("%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % (method, path)).encode())
    data = b""
    while True:
        piece = sock.recv(65536)
        if not piece:
            break
        data += piece
    sock.close()
    return data


@pytest.mark.parametrize("path", ["/value", "/cookie", "/name", "/past-the-constructor"])
def test_header_injection_through_a_function_url_is_refused(function_dir, path):
    server = Serve(function_dir, "handler.Injected", "--function-url")
    try:
        raw = _raw(server.port, "GET", path)
    finally:
        server.stop()
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert head.startswith(b"HTTP/1.1 502 "), raw
    assert b"Injected" not in raw and b"X-Evil" not in raw
    output = "".join(server.lines)
    if path == "/past-the-constructor":  # the local Function URL says why
        assert "header 'X-A': a header value may not contain CR, LF" in output
    else:  # the function's own error, raised where it built the response
        assert "ValueError: HttpResponse: " in output


def test_header_injection_in_a_buffered_function_url_response_is_refused(function_dir):
    server = Serve(function_dir, "handler.BufferedInjected", "--function-url")
    try:
        raw = _raw(server.port, "GET", "/")
    finally:
        server.stop()
    assert raw.startswith(b"HTTP/1.1 502 ") and b"Injected" not in raw and b"X-Evil" not in raw
    assert "the function's HTTP response is unusable: header 'X-A'" in "".join(server.lines)


def test_http_response_refuses_what_is_not_a_header_line():
    from shim.runtime.stream import HttpResponse

    for headers, cookies in [
        ({"X-A": "a\r\nB: c"}, None),
        ({"X-A": "a\nb"}, None),
        ({"X-A": "a\0"}, None),
        ({"X A": "1"}, None),
        ({"X-A:": "1"}, None),
        ({"": "1"}, None),
        (None, ["c=1\r\nX: 1"]),
    ]:
        with pytest.raises(ValueError, match="HttpResponse: "):
            HttpResponse(200, headers, cookies=cookies)
    assert HttpResponse(200, {"X-A": "tab\tand unicode \u00e9"}).headers == {"X-A": "tab\tand unicode \u00e9"}


def test_a_204_and_a_declared_content_length_are_not_chunked(function_dir):
    # RFC 9112 6.1: no Transfer-Encoding on a 204 (nor a body); a body the function sized is sent as sized.
    server = Serve(function_dir, "handler.NoContent", "--function-url")
    try:
        empty = _raw(server.port, "GET", "/")
        sized = _raw(server.port, "GET", "/sized")
    finally:
        server.stop()
    head, _, body = empty.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 204 ") and b"X-Done: 1" in head
    assert b"Transfer-Encoding" not in head and b"Content-Length" not in head and body == b""
    head, _, body = sized.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 ") and b"Transfer-Encoding" not in head
    assert head.count(b"Content-Length") == 1 and b"Content-Length: 10" in head and body == b"0123456789"


def test_shim_invoke_never_prints_an_injected_header_as_a_line_of_its_own(function_dir):
    done = subprocess.run(
        SHIM + ["invoke", str(function_dir), "--no-pack", "--handler", "handler.Injected", "--event", "-"],
        input=json.dumps({"rawPath": "/past"}).encode(),
        capture_output=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert b"the HTTP response prelude is unusable (header 'X-A'" in done.stderr
    assert not any(line.startswith(b"Injected") for line in done.stderr.replace(b"\r", b"\n").split(b"\n"))


def test_a_header_value_beyond_latin_1_goes_out_as_its_utf_8_bytes(function_dir):
    server = Serve(function_dir, "handler.Euro", "--function-url")
    try:
        raw = _raw(server.port, "GET", "/")
    finally:
        server.stop()
    assert raw.startswith(b"HTTP/1.1 200 ") and "X-Price: 10 \u20ac".encode("utf-8") in raw and raw.endswith(b"ok")
