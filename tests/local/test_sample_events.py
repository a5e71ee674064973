"""`shim event TYPE`: each sample, printed by the CLI, parsed by Powertools' event data classes
(and validated by its parser models, strict pydantic schemas of AWS's documented shapes).

The samples are made by shim.cli.main in this process (they need no I/O: a subprocess each only added
an interpreter start); the CLI as a process still lists them, refuses an option and hands a sample to a
function through the real bootstrap (the tests at the end)."""

import base64
import contextlib
import io
import json
import subprocess
import sys

import pytest
from aws_lambda_powertools.utilities import data_classes as dc
from aws_lambda_powertools.utilities.data_classes.cognito_user_pool_event import PreSignUpTriggerEvent
from aws_lambda_powertools.utilities.parser import models

from shim.cli import main

SHIM = [sys.executable, "-c", "import sys; from shim.cli import main; sys.exit(main())"]

MODELS = {
    "apigw-rest": models.APIGatewayProxyEventModel,
    "apigw-http": models.APIGatewayProxyEventV2Model,
    "function-url": models.LambdaFunctionUrlModel,
    "alb": models.AlbModel,
    "sqs": models.SqsModel,
    "sns": models.SnsModel,
    "s3": models.S3Model,
    "eventbridge": models.EventBridgeModel,
    "dynamodb": models.DynamoDBStreamModel,
    "kinesis": models.KinesisDataStreamModel,
    "cloudwatch-logs": models.CloudWatchLogsModel,
    "cognito-pre-signup": models.CognitoPreSignupTriggerModel,
}


def event(*args):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["event"] + list(args))
    assert code == 0, err.getvalue()
    return json.loads(out.getvalue())


def test_list_names_every_type_with_one_line_each():
    done = subprocess.run(SHIM + ["event", "--list"], capture_output=True, text=True, timeout=60)
    lines = done.stdout.splitlines()
    assert [line.split()[0] for line in lines] == list(MODELS)
    assert all(len(line.split(None, 1)[1]) > 10 for line in lines)


@pytest.mark.parametrize("name", list(MODELS))
def test_every_default_sample_validates_against_powertools_models(name):
    MODELS[name].model_validate(event(name))


def test_apigw_rest_path_method_body_query_header():
    raw = event(
        "apigw-rest", "--path", "/orders/7?limit=5&tag=a&tag=b", "--body", '{"id": 7}', "--header", "X-Tenant=acme"
    )
    parsed = dc.APIGatewayProxyEvent(raw)
    assert parsed.path == "/orders/7" and parsed.http_method == "POST"
    assert parsed.json_body == {"id": 7}
    assert parsed.query_string_parameters == {"limit": "5", "tag": "b"}
    assert parsed.multi_value_query_string_parameters["tag"] == ["a", "b"]
    assert parsed.headers.get("x-tenant") == "acme"
    assert parsed.request_context.stage == "prod" and parsed.request_context.path == "/prod/orders/7"
    assert parsed.request_context.http_method == "POST"
    assert parsed.request_context.identity.source_ip
    assert parsed.resource == "/orders/7" and parsed.is_base64_encoded is False


def test_apigw_http_and_function_url():
    raw = event("apigw-http", "--path", "/items?x=1", "--method", "put", "--header", "Cookie=a=1; b=2")
    parsed = dc.APIGatewayProxyEventV2(raw)
    assert parsed.version == "2.0" and parsed.raw_path == "/items" and parsed.raw_query_string == "x=1"
    assert parsed.request_context.http.method == "PUT" and parsed.route_key == "ANY /items"
    assert parsed.cookies == ["a=1", "b=2"] and parsed.query_string_parameters == {"x": "1"}
    url = dc.LambdaFunctionUrlEvent(event("function-url", "--body", "hi"))
    assert url.route_key == "$default" and url.request_context.stage == "$default"
    assert url.body == "hi" and url.request_context.http.method == "POST"
    assert url.request_context.domain_name.endswith(".lambda-url.us-east-1.on.aws")


def test_alb():
    parsed = dc.ALBEvent(event("alb", "--path", "/health", "--query", "deep=1"))
    assert parsed.path == "/health" and parsed.http_method == "GET"
    assert parsed.request_context.elb_target_group_arn.startswith("arn:aws:elasticloadbalancing:us-east-1:")
    assert parsed.query_string_parameters == {"deep": "1"}


def test_sqs_records_body_queue():
    parsed = dc.SQSEvent(event("sqs", "--records", "3", "--body", '{"order": 1}', "--queue", "orders"))
    records = list(parsed.records)
    assert len(records) == 3 and len({r.message_id for r in records}) == 3
    assert all(r.json_body == {"order": 1} for r in records)
    assert records[0].event_source_arn == "arn:aws:sqs:us-east-1:123456789012:orders"
    assert records[0].queue_url.endswith("/123456789012/orders")
    assert records[0].attributes.approximate_receive_count == "1"


def test_sns():
    parsed = dc.SNSEvent(event("sns", "--body", "hello", "--topic", "alerts", "--subject", "S"))
    assert parsed.sns_message == "hello" and parsed.record.sns.subject == "S"
    assert parsed.record.sns.topic_arn == "arn:aws:sns:us-east-1:123456789012:alerts"
    assert parsed.record.event_subscription_arn.startswith("arn:aws:sns:us-east-1:123456789012:alerts:")


def test_s3_bucket_and_key_url_encoded():
    parsed = dc.S3Event(event("s3", "--bucket", "photos", "--key", "2024/my photo.jpg"))
    assert parsed.bucket_name == "photos"
    assert parsed.record.s3.bucket.arn == "arn:aws:s3:::photos"
    assert parsed.object_key == "2024/my photo.jpg"  # Powertools unquotes the key S3 sends URL-encoded
    assert parsed.record.s3.get_object.raw_event["key"] == "2024/my+photo.jpg"
    assert parsed.record.event_name == "ObjectCreated:Put" and parsed.record.event_version == "2.1"
    removed = dc.S3Event(event("s3", "--event-name", "ObjectRemoved:Delete"))
    assert removed.record.event_name == "ObjectRemoved:Delete" and "size" not in removed.record.s3.get_object.raw_event


def test_eventbridge_detail_from_body():
    parsed = dc.EventBridgeEvent(
        event("eventbridge", "--body", '{"a": [1]}', "--source", "my.app", "--detail-type", "Thing Happened")
    )
    assert parsed.detail == {"a": [1]} and parsed.source == "my.app" and parsed.detail_type == "Thing Happened"
    assert parsed.account == "123456789012" and parsed.version == "0"


def test_dynamodb_item_from_body_in_attribute_values():
    parsed = dc.DynamoDBStreamEvent(
        event(
            "dynamodb",
            "--records",
            "2",
            "--table",
            "orders",
            "--body",
            '{"id": "o1", "qty": 3, "tags": ["x"], "paid": true}',
        )
    )
    records = list(parsed.records)
    assert len(records) == 2
    image = records[0].dynamodb.new_image
    assert image["qty"] == 3 and image["tags"] == ["x"] and image["paid"] is True and image["id"] == "o1-1"
    assert records[0].dynamodb.keys == {"id": "o1-1"}
    assert records[0].event_name.name == "INSERT"
    assert records[0].event_source_arn.startswith("arn:aws:dynamodb:us-east-1:123456789012:table/orders/stream/")


def test_kinesis_data_base64():
    parsed = dc.KinesisStreamEvent(event("kinesis", "--records", "2", "--body", "payload", "--stream", "clicks"))
    records = list(parsed.records)
    assert [r.kinesis.data_as_text() for r in records] == ["payload", "payload"]
    assert records[0].event_source_arn == "arn:aws:kinesis:us-east-1:123456789012:stream/clicks"
    assert records[0].event_id == "shardId-000000000000:" + records[0].kinesis.sequence_number


def test_cloudwatch_logs_gzip_base64():
    raw = event("cloudwatch-logs", "--records", "4", "--body", "boom", "--log-group", "/aws/lambda/orders")
    assert base64.b64decode(raw["awslogs"]["data"])[:2] == b"\x1f\x8b"  # gzip's magic number
    data = dc.CloudWatchLogsEvent(raw).parse_logs_data()
    assert data.log_group == "/aws/lambda/orders" and data.message_type == "DATA_MESSAGE"
    assert [e.message for e in data.log_events] == ["boom"] * 4


def test_cognito_pre_signup():
    parsed = PreSignUpTriggerEvent(event("cognito-pre-signup", "--username", "grace", "--email", "g@example.com"))
    assert parsed.trigger_source == "PreSignUp_SignUp" and parsed.user_name == "grace"
    assert parsed.request.user_attributes == {"email": "g@example.com"}
    assert parsed.response.auto_confirm_user is False


def test_an_option_the_type_does_not_take_is_refused():
    done = subprocess.run(SHIM + ["event", "sqs", "--bucket", "b"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "sqs does not take --bucket" in done.stderr


def test_invoke_event_type_hands_the_sample_to_the_function(tmp_path):
    (tmp_path / "handler.py").write_text(
        "def Handle(event, context):\n    return [r['eventSource'] for r in event['Records']]\n"
    )
    done = subprocess.run(
        SHIM + ["invoke", str(tmp_path), "--no-pack", "--event-type", "sqs"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == ["aws:sqs"]
