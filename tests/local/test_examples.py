"""The example handlers in handlers/, each run through the real bootstrap with the pytest plugin's fixture."""
import base64
import json

import pytest


@pytest.fixture(scope="module")
def hello(lambda_function_module):
    return lambda_function_module("handlers", "handler.Handle", env={"AWS_LAMBDA_LOG_LEVEL": "INFO"})


@pytest.fixture(scope="module")
def api(lambda_function_module):
    return lambda_function_module("handlers", "api.Handle")


@pytest.fixture(scope="module")
def structured(lambda_function_module):
    return lambda_function_module("handlers", "structured.Handle", env={"AWS_LAMBDA_LOG_FORMAT": "JSON"})


@pytest.fixture(scope="module")
def failing(lambda_function_module):
    return lambda_function_module("handlers", "failing.Handle")


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
    result = api.invoke({"rawPath": "/echo", "requestContext": {"http": {"method": "POST"}},
                         "body": body, "isBase64Encoded": True})
    assert result.payload["statusCode"] == 200
    assert json.loads(result.payload["body"]) == {"echo": {"a": [1, 2]}}


@pytest.mark.parametrize("event, status", [
    ({"httpMethod": "DELETE", "path": "/hello"}, 404),
    ({"httpMethod": "POST", "path": "/echo", "body": "{oops"}, 400),
])
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
