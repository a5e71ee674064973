"""The pieces behind the local tools' streamed responses, as units: the event-stream encoding (read back with
botocore's parser), the Function URL prelude reader and event, and HttpResponse's argument checks."""

import base64
import json

import pytest

from shim.local import eventstream, function_url


def test_event_stream_messages_parse_with_botocore():
    botocore_eventstream = pytest.importorskip("botocore.eventstream")
    buffer = botocore_eventstream.EventStreamBuffer()
    buffer.add_data(eventstream.payload_chunk(b"\0bytes") + eventstream.invoke_complete("E.Code", '{"a": 1}'))
    messages = list(buffer)
    assert messages[0].headers[":event-type"] == "PayloadChunk" and messages[0].payload == b"\0bytes"
    assert json.loads(messages[1].payload) == {"ErrorCode": "E.Code", "ErrorDetails": '{"a": 1}'}
    assert len(eventstream.invoke_complete()) == 102  # the size of a bare successful InvokeComplete
    assert eventstream.decode(eventstream.payload_chunk(b"x")) == [
        ({":event-type": "PayloadChunk", ":content-type": "application/octet-stream", ":message-type": "event"}, b"x")
    ]


def test_prelude_reader_across_chunks_and_bad_preludes():
    reader = function_url.PreludeReader()
    assert reader.feed(b'{"statusCode": 302, "headers": {"Location": "/x"},') == (None, b"")
    prelude, body = reader.feed(b' "cookies": ["k=v"]}\0\0\0\0\0\0\0\0body')
    assert body == b"body" and reader.feed(b"more") == (None, b"more")
    assert function_url.response_head(prelude) == (302, [("Location", "/x"), ("Set-Cookie", "k=v")])
    with pytest.raises(function_url.PreludeError):
        function_url.PreludeReader().feed(b"[1]" + b"\0" * 8)
    with pytest.raises(function_url.PreludeError):
        function_url.PreludeReader(limit=10).feed(b"x" * 11)


def test_function_url_event_shape():
    event = function_url.event(
        "POST",
        "/a%20b?x=1&x=2",
        [("Content-Type", "text/plain"), ("Cookie", "a=1; b=2"), ("X-Many", "1"), ("x-many", "2")],
        b"\xff",
        "rid",
    )
    assert event["rawPath"] == "/a%20b" and event["requestContext"]["http"]["path"] == "/a b"
    assert event["queryStringParameters"] == {"x": "1,2"} and event["cookies"] == ["a=1", "b=2"]
    assert event["headers"] == {"content-type": "text/plain", "x-many": "1,2"}
    assert event["isBase64Encoded"] is True and base64.b64decode(event["body"]) == b"\xff"


def test_http_response_validates_its_arguments():
    from shim.runtime.stream import HttpResponse

    with pytest.raises(ValueError):
        HttpResponse(99)
    with pytest.raises(TypeError):
        HttpResponse(200, {"X": None})
    with pytest.raises(TypeError):
        HttpResponse(200, cookies="a=b")
    assert HttpResponse(200, {"Retry-After": 5}).headers == {"Retry-After": "5"}
