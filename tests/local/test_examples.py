"""The example handlers (shim/local/templates/handlers/, what `shim new --template` writes), each run through
the real bootstrap with the pytest plugin's fixture."""

import base64
import json
import os

import pytest

HANDLERS = os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
    "shim",
    "local",
    "templates",
    "handlers",
)


@pytest.fixture(scope="module")
def hello(lambda_function_module):
    return lambda_function_module(HANDLERS, "handler.Handle", env={"AWS_LAMBDA_LOG_LEVEL": "INFO"})


@pytest.fixture(scope="module")
def api(lambda_function_module):
    return lambda_function_module(HANDLERS, "api.Handle")


@pytest.fixture(scope="module")
def structured(lambda_function_module):
    return lambda_function_module(HANDLERS, "structured.Handle", env={"AWS_LAMBDA_LOG_FORMAT": "JSON"})


@pytest.fixture(scope="module")
def failing(lambda_function_module):
    return lambda_function_module(HANDLERS, "failing.Handle")


def test_hello_greets_and_keeps_state_while_warm(hello):
    first = hello.invoke({"name": "Ada"})
    second = hello.invoke({})
    assert first.payload == {"message": "Hello, Ada!", "requestId": first.request_id, "calls": 1}
    assert second.payload["message"] == "Hello, world!" and second.payload["calls"] == 2
    assert first.cold and not second.cold
    greeting = [r for r in first.records if r["message"] == "greeting Ada"]
    assert greeting and greeting[0]["level"] == "INFO" and greeting[0]["requestId"] == first.request_id


def test_api_gateway_rest_request(api):
    result = api.invoke({"httpMethod": "GET", "path": "/hello", "queryStringParameters": {"name": "Ada"}})
    assert result.payload["statusCode"] == 200
    assert result.payload["headers"] == {"Content-Type": "application/json"}
    assert json.loads(result.payload["body"]) == {"message": "Hello, Ada!", "requestId": result.request_id}


def test_api_gateway_http_api_request_with_a_base64_body(api):
    body = base64.b64encode(b'{"a": [1, 2]}').decode()
    result = api.invoke(
        {"rawPath": "/echo", "requestContext": {"http": {"method": "POST"}}, "body": body, "isBase64Encoded": True}
    )
    assert result.payload["statusCode"] == 200
    assert json.loads(result.payload["body"]) == {"echo": {"a": [1, 2]}}


@pytest.mark.parametrize(
    "event, status",
    [
        ({"httpMethod": "DELETE", "path": "/hello"}, 404),
        ({"httpMethod": "POST", "path": "/echo", "body": "{oops"}, 400),
    ],
)
def test_api_gateway_errors_are_http_responses(api, event, status):
    result = api.invoke(event)
    assert result.ok and result.payload["statusCode"] == status
    assert "error" in json.loads(result.payload["body"])


def test_structured_logs_are_json_records_with_fields(structured):
    result = structured.invoke({"order_id": "A-17", "items": [{"price": 600, "quantity": 2}]})
    assert result.payload == {"order_id": "A-17", "total": 1200}
    by_message = {r["message"]: r for r in result.records}
    assert by_message["order received"]["item_count"] == 1
    assert by_message["large order"]["level"] == "WARNING"
    priced = by_message["order priced"]
    assert (priced["order_id"], priced["total"], priced["level"]) == ("A-17", 1200, "INFO")
    assert priced["logger"] == "orders" and priced["requestId"] == result.request_id


def test_failing_shows_the_error_payload(failing):
    result = failing.invoke({"quantity": 0})
    assert not result.ok and result.kind == "error"
    assert result.error_type == "OrderRejected"
    assert result.error["errorMessage"] == "quantity must be at least 1, got 0"
    assert result.error["requestId"] == result.request_id
    assert "check_quantity" in "".join(result.error["stackTrace"])
    logged = [r for r in result.records if r.get("level") == "ERROR"]
    assert logged and logged[0]["message"].startswith("OrderRejected: quantity must be at least 1")
    assert failing.invoke({"quantity": 2}).payload == {"accepted": 2}  # the environment survives it


@pytest.fixture(scope="module")
def text_stream(lambda_function_module):
    return lambda_function_module(HANDLERS, "stream.Handle")


@pytest.fixture(scope="module")
def http_stream(lambda_function_module):
    return lambda_function_module(HANDLERS, "http_stream.Handle")


def test_text_stream_arrives_word_by_word(text_stream):
    result = text_stream.invoke({"text": "one two three", "delay": 0.2})
    assert result.ok and result.streamed
    assert result.chunks == [b"one ", b"two ", b"three\n"] and result.payload == "one two three\n"
    # Each word came as it was yielded, not all at the end: from when the runtime took the event, word k
    # cannot arrive before the handler's k pauses of 0.2 s are over, and the first one came before the last.
    times = result.chunk_times_ms
    assert times[0] <= times[1] <= times[2] and times[1] >= 199 and times[2] >= 399
    assert result.first_byte_ms == times[0] < times[-1] < result.duration_ms


def test_http_stream_sends_a_prelude_then_events(http_stream):
    event = {"rawPath": "/", "queryStringParameters": {"name": "Ada", "count": "2"}}
    result = http_stream.invoke(event)
    assert result.content_type == "application/vnd.awslambda.http-integration-response"
    prelude, body = result.body.split(b"\0" * 8, 1)
    assert json.loads(prelude) == {
        "statusCode": 200,
        "headers": {"Content-Type": "text/event-stream", "Cache-Control": "no-cache"},
        "cookies": ["last_name=Ada; Path=/; HttpOnly"],
    }
    events = [block for block in body.decode().split("\n\n") if block]
    assert [json.loads(e.split("data: ", 1)[1]) for e in events] == [
        {"greeting": "Hello, Ada!", "n": 1},
        {"greeting": "Hello, Ada!", "n": 2},
    ]
    missing = http_stream.invoke({"rawPath": "/nope"})
    assert json.loads(missing.chunks[0][:-8])["statusCode"] == 404 and missing.chunks[1] == b"nothing at /nope\n"
