"""`shim serve --api rest`: real HTTP requests in, API Gateway REST (payload 1.0) events to the function,
its proxy-integration answers mapped back as API Gateway maps them."""

import json

import pytest
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent
from aws_lambda_powertools.utilities.parser import models

from serving import ServeProcess

# The event comes back in the body; the query string picks what the function answers.
HANDLER = """\
import base64, json

def Handle(event, context):
    kind = (event.get("queryStringParameters") or {}).get("answer", "echo")
    if kind == "echo":
        return {"statusCode": 201, "headers": {"X-One": "1", "X-Both": "b"},
                "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"], "X-Both": ["b"]},
                "body": json.dumps(event)}
    if kind == "binary":
        return {"statusCode": 200, "headers": {"Content-Type": "image/png"}, "isBase64Encoded": True,
                "body": base64.b64encode(b"\\x89PNG\\x00\\xff").decode()}
    if kind == "inject":
        return {"statusCode": 200, "headers": {"X-Evil": "a\\r\\nSet-Cookie: owned=1"}, "body": "x"}
    if kind == "dict-body":
        return {"statusCode": 200, "body": {"not": "a string"}}
    if kind == "extra-key":
        return {"statusCode": 200, "body": "x", "cookies": ["a=1"]}
    if kind == "no-status":
        return {"body": "x"}
    if kind == "plain":
        return "just a string"
    if kind == "raise":
        raise ValueError("boom")
    return {"statusCode": 204}
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("rest")
    (root / "handler.py").write_text(HANDLER)
    with ServeProcess(str(root), "--no-pack", "--api", "rest") as serving:
        yield serving


def test_a_request_becomes_a_v1_event_and_the_answer_its_response(server):
    status, headers, body = server.request(
        "POST",
        "/orders/7?limit=5&tag=a&tag=b",
        body=b'{"id": 7}',
        headers={"Content-Type": "application/json", "X-Trace": "t1"},
    )
    assert status == 201
    assert ("X-One", "1") in headers and ("Content-Type", "application/json") in headers
    assert [v for k, v in headers if k == "Set-Cookie"] == ["a=1", "b=2"]
    assert [v for k, v in headers if k == "X-Both"] == ["b"]  # in both maps: once
    event = json.loads(body)
    models.APIGatewayProxyEventModel.model_validate(event)
    parsed = APIGatewayProxyEvent(event)
    assert parsed.http_method == "POST" and parsed.path == "/orders/7" and parsed.resource == "/{proxy+}"
    assert parsed.path_parameters == {"proxy": "orders/7"}
    assert parsed.query_string_parameters == {"limit": "5", "tag": "b"}
    assert parsed.multi_value_query_string_parameters == {"limit": ["5"], "tag": ["a", "b"]}
    assert parsed.headers["X-Trace"] == "t1" and parsed.multi_value_headers["X-Trace"] == ["t1"]
    assert parsed.json_body == {"id": 7} and parsed.is_base64_encoded is False
    assert parsed.request_context.stage == "local" and parsed.request_context.path == "/local/orders/7"
    assert parsed.request_context.identity.source_ip == "127.0.0.1"
    assert parsed.request_context.request_id == dict(headers)["x-amzn-RequestId"]


def test_the_root_is_its_own_resource(server):
    status, _, body = server.request("GET", "/")
    event = json.loads(body)
    assert status == 201 and event["resource"] == "/" and event["pathParameters"] is None
    assert event["body"] is None and event["queryStringParameters"] is None


def test_a_base64_answer_is_decoded(server):
    status, headers, body = server.request("GET", "/img?answer=binary")
    assert status == 200 and body == b"\x89PNG\x00\xff" and ("Content-Type", "image/png") in headers


def test_a_binary_request_body_arrives_base64_encoded(server):
    _, _, body = server.request("PUT", "/upload", body=b"\xff\xfe\x00")
    event = json.loads(body)
    assert event["isBase64Encoded"] is True and event["body"] == "//4A"


@pytest.mark.parametrize("answer", ["inject", "dict-body", "extra-key", "no-status", "plain", "raise"])
def test_a_malformed_answer_or_a_failure_is_a_502(server, answer):
    status, headers, body = server.request("GET", "/x?answer=" + answer)
    assert status == 502 and json.loads(body) == {"message": "Internal server error"}
    names = [k.lower() for k, _ in headers]
    assert "set-cookie" not in names and "x-evil" not in names


def test_the_invoke_api_still_answers_beside_it(server):
    status, _, body = server.request(
        "POST", "/2015-03-31/functions/function/invocations", body=b'{"queryStringParameters": {"answer": "none"}}'
    )
    assert status == 200 and json.loads(body) == {"statusCode": 204}


def test_the_malformed_answer_is_explained_in_the_log(server):
    server.request("GET", "/x?answer=extra-key")
    assert server.wait_for_output("Malformed Lambda proxy response (keys API Gateway does not accept: cookies)")
