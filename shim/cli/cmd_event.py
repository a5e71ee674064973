"""`shim event TYPE`: print a sample event, as the AWS service would send it to the function.

    shim event sqs --records 3 --body '{"order": 1}' > event.json
    shim event apigw-http --path /orders?limit=5 --method POST --body '{"id": 7}' | shim invoke orders --event -
    shim event --list

The templates are in shim.local.events; each type takes the options that make sense for it.
"""

import json
import sys

from shim.pack.errors import UsageError

# option -> (argparse keyword arguments); the dest is the builder's keyword
OPTIONS = [
    ("--path", dict(metavar="PATH", help="the request path, with an optional ?query (HTTP types; default /)")),
    ("--method", dict(metavar="METHOD", help="the HTTP method (default GET, or POST with --body)")),
    (
        "--body",
        dict(
            metavar="TEXT",
            help="the request body, message body, record data, EventBridge detail or "
            "DynamoDB item (JSON), or log message; @FILE reads it from a file",
        ),
    ),
    ("--header", dict(action="append", metavar="NAME=VALUE", help="a request header (HTTP types; repeatable)")),
    ("--query", dict(action="append", metavar="NAME=VALUE", help="a query string parameter (HTTP types; repeatable)")),
    (
        "--records",
        dict(
            type=int,
            metavar="N",
            help="how many records (sqs, dynamodb, kinesis; log events for cloudwatch-logs; default 1)",
        ),
    ),
    ("--queue", dict(metavar="NAME", help="sqs: the queue's name")),
    ("--topic", dict(metavar="NAME", help="sns: the topic's name")),
    ("--subject", dict(metavar="TEXT", help="sns: the message's subject")),
    ("--bucket", dict(metavar="NAME", help="s3: the bucket")),
    ("--key", dict(metavar="KEY", help="s3: the object's key")),
    ("--event-name", dict(metavar="NAME", help="s3: the event, e.g. ObjectRemoved:Delete (default ObjectCreated:Put)")),
    ("--source", dict(metavar="SOURCE", help="eventbridge: the source (default com.example.orders)")),
    ("--detail-type", dict(metavar="TEXT", help="eventbridge: the detail-type")),
    ("--table", dict(metavar="NAME", help="dynamodb: the table")),
    ("--stream", dict(metavar="NAME", help="kinesis: the stream")),
    ("--log-group", dict(metavar="NAME", help="cloudwatch-logs: the log group")),
    ("--username", dict(metavar="NAME", help="cognito-pre-signup: the user name")),
    ("--email", dict(metavar="ADDRESS", help="cognito-pre-signup: the email attribute")),
]


def configure(parser):
    parser.add_argument("type", nargs="?", metavar="TYPE", help="the event's type (see --list)")
    parser.add_argument("--list", action="store_true", help="list the types, one line each")
    for flag, options in OPTIONS:
        parser.add_argument(flag, **options)


def main(args):
    from shim.local import events

    if args.list:
        width = max(len(name) for name in events.names())
        for name in events.names():
            print("%-*s  %s" % (width, name, events.describe(name)))
        return 0
    if not args.type:
        raise UsageError("name an event TYPE (shim event --list shows them)")
    sys.stdout.write(json.dumps(sample(args.type, args), indent=2) + "\n")
    return 0


def sample(name, args=None):
    """The event TYPE built from the options in args (argparse.Namespace; None for the defaults)."""
    from shim.local import events

    options = {}
    for flag, _ in OPTIONS:
        dest = flag[2:].replace("-", "_")
        options[dest] = getattr(args, dest, None) if args is not None else None
    if isinstance(options.get("body"), str) and options["body"].startswith("@"):
        try:
            with open(options["body"][1:], encoding="utf-8") as f:
                options["body"] = f.read()
        except OSError as exc:
            raise UsageError("cannot read --body %s: %s" % (options["body"], exc.strerror or exc)) from None
    for flag in ("header", "query"):
        for item in options.get(flag) or ():
            if "=" not in item or not item.partition("=")[0].strip():
                raise UsageError("--%s takes NAME=VALUE, got %r" % (flag, item))
            if any(c in item for c in "\r\n"):
                raise UsageError("--%s cannot hold a line break" % flag)
    try:
        return events.build(name, **options)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
