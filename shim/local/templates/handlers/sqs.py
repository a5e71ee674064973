"""An SQS consumer: each message's body is an order (JSON), and the messages that fail are reported back.

Lambda hands the function a batch of messages. Returning {"batchItemFailures": [...]} with the ids of the
messages that failed makes SQS retry only those (the event source mapping needs
FunctionResponseTypes=["ReportBatchItemFailures"]); without it, one exception retries the whole batch.

    shim event sqs --records 3 --body '{"order": "A-17"}' | shim invoke orders --event -
"""

import json
import logging

log = logging.getLogger(__name__)


def Handle(event, context):
    failures = []
    for record in event.get("Records", []):
        try:
            process(json.loads(record["body"]))
        except Exception:  # noqa: BLE001 - one bad message must not fail the batch: it is reported below
            log.exception("message %s failed", record.get("messageId"))
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}


def process(order):
    if not isinstance(order, dict) or "order" not in order:
        raise ValueError("not an order: %r" % (order,))
    log.info("order %s processed", order["order"])
