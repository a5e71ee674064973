"""Sample events, as the AWS services that invoke Lambda deliver them (`shim event TYPE`).

    from shim.local import events
    event = events.build("sqs", records=2, body='{"order": 1}')

Each type is a builder taking the options it understands (see OPTIONS); the shapes
follow AWS's documented sample events: field names, versions and ARN formats. The
values are made up but realistic (fresh ids and timestamps on every call).
"""

from shim.local.events import http, records

ACCOUNT = "123456789012"

# name -> (builder, one line on what sends it, the options it takes beyond the common ones)
TYPES = {
    "apigw-rest": (
        http.apigw_rest,
        "API Gateway REST API, Lambda proxy integration (payload format 1.0)",
        ("path", "method", "body", "header", "query"),
    ),
    "apigw-http": (
        http.apigw_http,
        "API Gateway HTTP API (payload format 2.0)",
        ("path", "method", "body", "header", "query"),
    ),
    "function-url": (
        http.function_url,
        "a Lambda Function URL (payload format 2.0, routeKey $default)",
        ("path", "method", "body", "header", "query"),
    ),
    "alb": (http.alb, "an Application Load Balancer target group", ("path", "method", "body", "header", "query")),
    "sqs": (records.sqs, "SQS messages, a batch from a queue's event source mapping", ("body", "records", "queue")),
    "sns": (records.sns, "an SNS notification (one record, as SNS always delivers)", ("body", "topic", "subject")),
    "s3": (records.s3, "an S3 event notification (ObjectCreated:Put by default)", ("bucket", "key", "event_name")),
    "eventbridge": (
        records.eventbridge,
        "an EventBridge event (detail from --body)",
        ("body", "source", "detail_type"),
    ),
    "dynamodb": (records.dynamodb, "DynamoDB Streams records (NEW_AND_OLD_IMAGES)", ("body", "records", "table")),
    "kinesis": (records.kinesis, "Kinesis Data Streams records (data base64-encoded)", ("body", "records", "stream")),
    "cloudwatch-logs": (
        records.cloudwatch_logs,
        "a CloudWatch Logs subscription (gzip+base64, as Lambda gets it)",
        ("body", "records", "log_group"),
    ),
    "cognito-pre-signup": (
        records.cognito_pre_signup,
        "a Cognito user pool's pre sign-up trigger",
        ("username", "email"),
    ),
}


class EventOptionError(ValueError):
    """An option that the type does not take, or a value it cannot use."""


def names():
    return list(TYPES)


def describe(name):
    return TYPES[name][1]


def takes(name):
    """The options (keyword names) the type understands."""
    return TYPES[name][2]


def build(name, **options):
    """The sample event of type `name` (a dict), shaped by the options given (None means: the default)."""
    if name not in TYPES:
        raise EventOptionError("unknown event type %r; one of: %s" % (name, ", ".join(TYPES)))
    builder, _, accepted = TYPES[name]
    given = {key: value for key, value in options.items() if value is not None and value != []}
    extra = sorted(set(given) - set(accepted))
    if extra:
        raise EventOptionError(
            "%s does not take %s (it takes: %s)"
            % (
                name,
                ", ".join("--" + key.replace("_", "-") for key in extra),
                ", ".join("--" + key.replace("_", "-") for key in accepted) or "no options",
            )
        )
    if given.get("records") is not None and not 1 <= given["records"] <= 10000:
        raise EventOptionError("--records must be between 1 and 10000, got %s" % given["records"])
    return builder(**given)
