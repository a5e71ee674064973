"""Record-shaped events: SQS, SNS, S3, EventBridge, DynamoDB Streams, Kinesis, CloudWatch Logs, Cognito.

Field names, versions and ARN formats as in AWS's documented sample events; ids and
times are fresh on every call.
"""

import base64
import datetime
import gzip
import hashlib
import json
import random
import time
import uuid

ACCOUNT = "123456789012"
REGION = "us-east-1"


def _iso(now, millis=True):
    text = datetime.datetime.fromtimestamp(now, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")
    return (text[:-3] if millis else text[:-7]) + "Z"


def _json_or_text(body, default):
    return default if body is None else body


def sqs(body=None, records=1, queue="my-queue"):
    """SQS messages as an event source mapping delivers a batch: one record per message."""
    now = time.time()
    result = []
    for n in range(records):
        text = _json_or_text(body, json.dumps({"message": "Hello from SQS", "n": n + 1}))
        sent = int(now * 1000) - 20 * (records - n)
        result.append(
            {
                "messageId": str(uuid.uuid4()),
                "receiptHandle": "AQEB" + base64.b64encode(uuid.uuid4().bytes * 3).decode("ascii"),
                "body": text,
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": str(sent),
                    "SenderId": "AIDAIENQZJOLO23YVJ4VO",
                    "ApproximateFirstReceiveTimestamp": str(sent + 5),
                },
                "messageAttributes": {},
                "md5OfBody": hashlib.md5(text.encode("utf-8")).hexdigest(),
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:%s:%s:%s" % (REGION, ACCOUNT, queue),
                "awsRegion": REGION,
            }
        )
    return {"Records": result}


def sns(body=None, topic="my-topic", subject="example subject"):
    """An SNS notification: SNS invokes Lambda with exactly one record."""
    now = time.time()
    topic_arn = "arn:aws:sns:%s:%s:%s" % (REGION, ACCOUNT, topic)
    return {
        "Records": [
            {
                "EventVersion": "1.0",
                "EventSubscriptionArn": "%s:%s" % (topic_arn, uuid.uuid4()),
                "EventSource": "aws:sns",
                "Sns": {
                    "SignatureVersion": "1",
                    "Timestamp": _iso(now),
                    "Signature": base64.b64encode(hashlib.sha256(uuid.uuid4().bytes).digest() * 8).decode("ascii"),
                    "SigningCertUrl": "https://sns.%s.amazonaws.com/SimpleNotificationService-0000000000000000000000.pem"
                    % REGION,
                    "MessageId": str(uuid.uuid4()),
                    "Message": _json_or_text(body, "Hello from SNS!"),
                    "MessageAttributes": {"Test": {"Type": "String", "Value": "TestString"}},
                    "Type": "Notification",
                    "UnsubscribeUrl": "https://sns.%s.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=%s:%s"
                    % (REGION, topic_arn, uuid.uuid4()),
                    "TopicArn": topic_arn,
                    "Subject": subject,
                },
            }
        ]
    }


def s3(bucket="amzn-s3-demo-bucket", key="uploads/example.txt", event_name="ObjectCreated:Put"):
    """An S3 event notification (event message structure version 2.1): the key URL-encoded, as S3 sends it."""
    from urllib.parse import quote_plus

    now = time.time()
    removed = event_name.startswith("ObjectRemoved")
    obj = {"key": quote_plus(key, safe="/"), "sequencer": "%016X" % random.getrandbits(64)}
    if not removed:
        obj.update({"size": 1024, "eTag": hashlib.md5(key.encode("utf-8")).hexdigest()})
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": REGION,
                "eventTime": _iso(now),
                "eventName": event_name,
                "userIdentity": {"principalId": "AWS:AIDAINPONIXQXHT3IKHL2"},
                "requestParameters": {"sourceIPAddress": "198.51.100.7"},
                "responseElements": {
                    "x-amz-request-id": uuid.uuid4().hex[:16].upper(),
                    "x-amz-id-2": base64.b64encode(uuid.uuid4().bytes * 4).decode("ascii"),
                },
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": "lambda-notification",
                    "bucket": {
                        "name": bucket,
                        "ownerIdentity": {"principalId": "A3NL1KOZZKExample"},
                        "arn": "arn:aws:s3:::%s" % bucket,
                    },
                    "object": obj,
                },
            }
        ]
    }


def eventbridge(body=None, source="com.example.orders", detail_type="Order Placed"):
    """An EventBridge event; --body is its detail (a JSON object)."""
    detail = {"orderId": "1234", "status": "PLACED"}
    if body is not None:
        try:
            detail = json.loads(body)
        except ValueError:
            raise ValueError("an EventBridge detail is a JSON object; --body is not JSON") from None
        if not isinstance(detail, dict):
            raise ValueError("an EventBridge detail is a JSON object, --body is a %s" % type(detail).__name__)
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": source,
        "account": ACCOUNT,
        "time": _iso(time.time(), millis=False),
        "region": REGION,
        "resources": [],
        "detail": detail,
    }


def to_attribute(value):
    """A JSON value in DynamoDB's attribute value format ({"S": ...}, {"N": ...}, {"M": ...}, ...)."""
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, (int, float)):
        return {"N": repr(value)}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, list):
        return {"L": [to_attribute(v) for v in value]}
    return {"M": {k: to_attribute(v) for k, v in value.items()}}


def dynamodb(body=None, records=1, table="my-table"):
    """DynamoDB Streams records: INSERT of NewImage (from --body, a JSON object with an "id"), view NEW_AND_OLD_IMAGES."""
    now = time.time()
    item = {"id": "1", "message": "Hello from DynamoDB"}
    if body is not None:
        try:
            item = json.loads(body)
        except ValueError:
            raise ValueError("a DynamoDB item is a JSON object; --body is not JSON") from None
        if not isinstance(item, dict):
            raise ValueError("a DynamoDB item is a JSON object, --body is a %s" % type(item).__name__)
    key_name = "id" if "id" in item else next(iter(item), "id")
    label = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now - 86400)) + ".123"
    result = []
    for n in range(records):
        image = dict(item)
        if records > 1 and key_name in image:
            image[key_name] = "%s-%d" % (image[key_name], n + 1)
        new = {k: to_attribute(v) for k, v in image.items()}
        result.append(
            {
                "eventID": uuid.uuid4().hex,
                "eventName": "INSERT",
                "eventVersion": "1.1",
                "eventSource": "aws:dynamodb",
                "awsRegion": REGION,
                "dynamodb": {
                    "ApproximateCreationDateTime": int(now),
                    "Keys": {key_name: new.get(key_name, {"S": "1"})},
                    "NewImage": new,
                    "SequenceNumber": str(111000000000000000000 + n),
                    "SizeBytes": len(json.dumps(new)),
                    "StreamViewType": "NEW_AND_OLD_IMAGES",
                },
                "eventSourceARN": "arn:aws:dynamodb:%s:%s:table/%s/stream/%s" % (REGION, ACCOUNT, table, label),
            }
        )
    return {"Records": result}


def kinesis(body=None, records=1, stream="my-stream"):
    """Kinesis Data Streams records: each record's data is --body, base64-encoded."""
    now = time.time()
    result = []
    for n in range(records):
        data = _json_or_text(body, json.dumps({"message": "Hello from Kinesis", "n": n + 1}))
        sequence = "4954511524144582180062593244200961%024d" % n
        result.append(
            {
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": "partition-%d" % (n % 4),
                    "sequenceNumber": sequence,
                    "data": base64.b64encode(data.encode("utf-8")).decode("ascii"),
                    "approximateArrivalTimestamp": round(now - 0.01 * (records - n), 3),
                },
                "eventSource": "aws:kinesis",
                "eventVersion": "1.0",
                "eventID": "shardId-000000000000:%s" % sequence,
                "eventName": "aws:kinesis:record",
                "invokeIdentityArn": "arn:aws:iam::%s:role/lambda-kinesis-role" % ACCOUNT,
                "awsRegion": REGION,
                "eventSourceARN": "arn:aws:kinesis:%s:%s:stream/%s" % (REGION, ACCOUNT, stream),
            }
        )
    return {"Records": result}


def logs_data(body=None, records=1, log_group="/aws/lambda/my-function"):
    """The CloudWatch Logs subscription payload before compression (what the function decodes)."""
    now = int(time.time() * 1000)
    return {
        "messageType": "DATA_MESSAGE",
        "owner": ACCOUNT,
        "logGroup": log_group,
        "logStream": time.strftime("%Y/%m/%d", time.gmtime(now / 1000)) + "/[$LATEST]" + uuid.uuid4().hex,
        "subscriptionFilters": ["my-subscription-filter"],
        "logEvents": [
            {
                "id": "%056d" % (now * 1000 + n),
                "timestamp": now - 10 * (records - n),
                "message": _json_or_text(body, "[INFO] log line %d" % (n + 1)),
            }
            for n in range(records)
        ],
    }


def cloudwatch_logs(body=None, records=1, log_group="/aws/lambda/my-function"):
    """A CloudWatch Logs subscription: awslogs.data is the payload, gzip-compressed, then base64-encoded."""
    raw = json.dumps(logs_data(body, records, log_group)).encode("utf-8")
    return {"awslogs": {"data": base64.b64encode(gzip.compress(raw)).decode("ascii")}}


def cognito_pre_signup(username="ada", email="ada@example.com"):
    """A Cognito user pool's pre sign-up trigger (triggerSource PreSignUp_SignUp)."""
    return {
        "version": "1",
        "region": REGION,
        "userPoolId": "%s_EXAMPLE" % REGION,
        "userName": username,
        "callerContext": {"awsSdkVersion": "aws-sdk-unknown-unknown", "clientId": "1example23456789"},
        "triggerSource": "PreSignUp_SignUp",
        "request": {"userAttributes": {"email": email}, "validationData": None},
        "response": {"autoConfirmUser": False, "autoVerifyEmail": False, "autoVerifyPhone": False},
    }
