"""Streamed responses through the real bootstrap: what goes on the wire, chunk by chunk, and when."""

import base64
import json

import pytest

from shim.local.runtime_api_exchange import END

HANDLER = """
import asyncio, contextvars, os, sys, time
from shim.runtime.stream import HttpResponse

def Paced(event, context):
    for number in range(3):
        yield "chunk %d yielded at %.6f\\n" % (number, time.monotonic())
        time.sleep(0.3)
    yield "finished at %.6f" % time.monotonic()

async def Async(event, context):
    request = contextvars.ContextVar("request")
    request.set(context.aws_request_id)
    yield "first "
    await asyncio.sleep(0.01)
    yield "then %s" % request.get()   # the same context across steps
    if event.get("fail"):
        raise KeyError("async failure")

def Mixed(event, context):
    yield "caf\\u00e9 "
    yield b"\\x00\\xffraw"
    yield ""               # skipped: a zero-size chunk would end the body
    yield bytearray(b" array")

def Empty(event, context):
    return
    yield

def FailAfterTwo(event, context):
    yield "one "
    yield "two "
    raise ValueError("third chunk failed: %s" % event.get("why"))

def FailFirst(event, context):
    raise LookupError("nothing to stream")
    yield "never"

def BadChunk(event, context):
    try:
        if event.get("later"):
            yield "fine "
        yield {"not": "bytes"}
    finally:
        print("closed after the bad chunk")

def Http(event, context):
    yield HttpResponse(201, {"Content-Type": "text/plain", "X-Trace": "t1"}, cookies=["a=1; Path=/", "b=2"])
    yield "created\\n"

def HttpNoBody(event, context):
    yield HttpResponse(204)

def Big(event, context):
    for _ in range(event["megabytes"]):
        yield os.urandom(1) * (1024 * 1024)   # a fresh megabyte each time

def Endless(event, context):
    sent = 0
    try:
        while sent < event["count"]:
            yield "tick %d\\n" % sent
            sent += 1
            time.sleep(0.01)
    finally:
        with open(event["marker"], "w") as marker:
            marker.write(str(sent))
"""

PLAIN = """
import sys

def Handle(event, context):
    return {"stream module loaded": "shim.runtime.stream" in sys.modules}
"""


@pytest.fixture(scope="module")
def function(tmp_path_factory):
    root = tmp_path_factory.mktemp("streaming")
    (root / "handler.py").write_text(HANDLER)
    (root / "plain.py").write_text(PLAIN)
    return root


def posts(env, request_id):
    return env.api.answers(request_id)


def test_each_chunk_arrives_while_the_handler_is_still_running(start, function):
    env = start(function, "handler.Paced")
    exchange = env.api.invoke({}, timeout=10)
    assert exchange.ok and exchange.streamed, env.output()
    chunks = [c.decode() for c in exchange.chunks]
    assert len(chunks) == 4
    finished = float(chunks[-1].split()[-1])  # the handler's own clock reading (CLOCK_MONOTONIC, shared)
    yielded = [float(c.split()[-1]) for c in chunks[:3]]
    # The first chunk was in the Runtime API's hands before the handler had finished, and each one
    # after it had been yielded: proof by timestamps, not by how long anything slept.
    assert yielded[0] <= exchange.chunk_times[0] < finished
    assert all(yielded[i] <= exchange.chunk_times[i] < yielded[i + 1] for i in range(2))
    assert exchange.stream_started_at < exchange.chunk_times[0] < exchange.answered_at
    # The wire: one streamed POST, the headers the Runtime API documents, answered 202 at the end.
    [post] = posts(env, exchange.request_id)
    assert post.status == 202 and post.path.endswith("/response")
    assert post.headers["lambda-runtime-function-response-mode"] == "streaming"
    assert post.headers["transfer-encoding"] == "chunked"
    assert "content-length" not in post.headers
    assert post.headers["content-type"] == "application/octet-stream"
    assert post.headers["trailer"] == "Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body"
    assert exchange.trailers == {} and exchange.stream_error is None
    # And the runtime went on to the next event.
    assert env.api.invoke({}, timeout=10).ok


def test_async_generator_streams_in_one_context(start, function):
    env = start(function, "handler.Async")
    exchange = env.api.invoke({}, timeout=10)
    assert exchange.chunks == [b"first ", ("then %s" % exchange.request_id).encode()]
    failed = env.api.invoke({"fail": True}, timeout=10)
    assert failed.stream_error["errorType"] == "KeyError"
    assert failed.stream_error["errorMessage"] == "'async failure'"
    assert "asyncio" not in "".join(failed.stream_error["stackTrace"])


def test_str_is_utf8_bytes_go_as_they_are_and_empty_chunks_are_skipped(start, function):
    env = start(function, "handler.Mixed")
    exchange = env.api.invoke({}, timeout=10)
    assert exchange.chunks == ["café ".encode("utf-8"), b"\x00\xffraw", b" array"]
    assert exchange.body == b"caf\xc3\xa9 \x00\xffraw array"


def test_an_empty_stream_is_an_empty_chunked_body(start, function):
    env = start(function, "handler.Empty")
    exchange = env.api.invoke({}, timeout=10)
    assert exchange.ok and exchange.streamed and exchange.chunks == [] and exchange.body == b""
    [post] = posts(env, exchange.request_id)
    assert post.status == 202 and post.headers["transfer-encoding"] == "chunked"


def test_an_error_after_two_chunks_goes_in_the_trailers(start, function):
    env = start(function, "handler.FailAfterTwo")
    mark = env.mark()
    exchange = env.api.invoke({"why": "disk full"}, timeout=10)
    assert exchange.chunks == [b"one ", b"two "]
    assert exchange.kind == "response"  # Lambda still counts it as a response, with the error attached
    trailers = exchange.trailers
    assert trailers["lambda-runtime-function-error-type"] == "ValueError"
    expected = {
        "errorMessage": "third chunk failed: disk full",
        "errorType": "ValueError",
        "requestId": exchange.request_id,
        "stackTrace": exchange.stream_error["stackTrace"],
    }
    # The exact bytes: standard base64 of the JSON an /error would carry, keys in its order.
    assert trailers["lambda-runtime-function-error-body"] == base64.b64encode(json.dumps(expected).encode()).decode()
    assert len(expected["stackTrace"]) == 1 and "in FailAfterTwo" in expected["stackTrace"][0]
    # Exactly one accepted answer, and no /error after the stream.
    assert [r.path.rsplit("/", 1)[-1] for r in posts(env, exchange.request_id)] == ["response"]
    assert len(env.api.answers(exchange.request_id, accepted_only=True)) == 1
    env.drain()
    logged = env.since(mark)
    assert "[ERROR]" in logged and "ValueError: third chunk failed: disk full" in logged
    assert env.api.invoke({"why": "again"}, timeout=10).stream_error is not None  # still serving


def test_an_error_before_the_first_chunk_is_an_ordinary_error(start, function):
    env = start(function, "handler.FailFirst")
    exchange = env.api.invoke({}, timeout=10)
    assert exchange.kind == "error" and not exchange.streamed
    assert exchange.error_type == "LookupError"
    assert exchange.payload["errorMessage"] == "nothing to stream"
    [post] = posts(env, exchange.request_id)
    assert post.path.endswith("/error") and post.status == 202


def test_a_chunk_that_is_not_bytes_or_str_is_a_marshal_error(start, function):
    env = start(function, "handler.BadChunk")
    mark = env.mark()
    first = env.api.invoke({}, timeout=10)
    assert first.kind == "error" and first.error_type == "Runtime.MarshalError"
    assert "yields bytes or str" in first.payload["errorMessage"] and "got dict" in first.payload["errorMessage"]
    later = env.api.invoke({"later": True}, timeout=10)
    assert later.chunks == [b"fine "] and later.stream_error["errorType"] == "Runtime.MarshalError"
    env.drain()
    assert env.since(mark).count("closed after the bad chunk") == 2  # the generator was closed both times


def test_http_response_prelude(start, function):
    env = start(function, "handler.Http")
    exchange = env.api.invoke({}, timeout=10)
    assert exchange.content_type == "application/vnd.awslambda.http-integration-response"
    prelude, body = exchange.body.split(b"\0" * 8, 1)
    assert json.loads(prelude) == {
        "statusCode": 201,
        "headers": {"Content-Type": "text/plain", "X-Trace": "t1"},
        "cookies": ["a=1; Path=/", "b=2"],
    }
    assert exchange.chunks[0] == prelude + b"\0" * 8  # the prelude is one chunk of its own
    assert body == b"created\n"


def test_http_response_without_a_body_still_sends_its_prelude(start, function):
    env = start(function, "handler.HttpNoBody")
    exchange = env.api.invoke({}, timeout=10)
    assert exchange.body == b'{"statusCode": 204, "headers": {}, "cookies": []}' + b"\0" * 8


def test_a_100_mb_stream_keeps_memory_flat(start, function):
    env = start(function, "handler.Big")
    env.api.invoke({"megabytes": 1}, timeout=20)  # warm: the first megabyte's buffers exist
    before_kb = env.sample_memory()
    exchange = env.api.submit({"megabytes": 100}, keep_stream=False)
    received = sum(len(chunk) for chunk in exchange.iter_chunks(timeout=60))
    exchange.wait(10)
    after_kb = env.sample_memory()
    assert received == 100 * 1024 * 1024 and exchange.ok
    assert after_kb - before_kb < 20 * 1024, (before_kb, after_kb)  # peak RSS, not a snapshot


def test_the_api_closing_mid_stream_stops_the_generator_and_the_runtime_goes_on(start, function, tmp_path):
    env = start(function, "handler.Endless")
    mark = env.mark()
    marker = tmp_path / "finally-ran"
    exchange = env.api.submit({"marker": str(marker), "count": 500}, cut_stream_after=3)
    exchange.wait(10)
    assert exchange.cut and len(exchange.chunks) == 3
    # The runtime serves the next event; by then the cut generator's finally has run.
    after = env.api.invoke({"marker": str(tmp_path / "second"), "count": 5}, timeout=15)
    assert after.ok and len(after.chunks) == 5
    assert 3 <= int(marker.read_text()) < 500
    env.drain()
    said = env.since(mark)
    assert said.count("closed the connection") == 1, said
    assert exchange.request_id in said
    # The cut request got no accepted answer and no second attempt (no /error after a started stream).
    assert len(env.api.answers(exchange.request_id)) == 1
    assert env.api.answers(exchange.request_id, accepted_only=True) == []


def test_a_plain_handler_never_loads_the_stream_module(start, function):
    env = start(function, "plain.Handle")
    assert env.api.invoke({}, timeout=10).payload == {"stream module loaded": False}


def test_a_stream_over_the_size_limit_is_refused_and_the_runtime_goes_on(start, function):
    env = start(function, "handler.Big")
    env.api.max_stream_bytes = 3 * 1024 * 1024  # Lambda's is 200 MB; the same rule, sooner
    mark = env.mark()
    exchange = env.api.invoke({"megabytes": 10}, timeout=20)
    assert exchange.stream_error["errorType"] == "Function.ResponseSizeTooLarge"
    assert exchange.received == 3 * 1024 * 1024  # not a byte over the cap reaches the caller
    assert [r.status for r in env.api.answers(exchange.request_id)] == [413]
    assert env.api.invoke({"megabytes": 1}, timeout=20).ok  # and the next invoke is served
    env.drain()
    said = [line for line in env.since(mark).splitlines() if exchange.request_id in line]
    # One line: the 413 read at the end of the body, or (if the API's close came first and the
    # kernel dropped its reply) the closed connection.
    assert len(said) == 1 and ("HTTP 413" in said[0] or "closed the connection" in said[0]), said


def test_the_chunk_that_crosses_the_stream_cap_is_cut_at_the_cap(start, function):
    env = start(function, "handler.Big")
    cap = env.api.max_stream_bytes = 3 * 1024 * 1024 + 1000  # inside the fourth 1 MiB chunk
    pending = env.api.submit({"megabytes": 10})
    seen = sum(len(value) for kind, value in iter(lambda: pending.next_event(20), END) if kind == "chunk")
    assert pending.stream_error["errorType"] == "Function.ResponseSizeTooLarge"
    assert seen == pending.received == len(b"".join(pending.chunks)) == cap
