"""A handler that logs structured lines: fields, not sentences to parse.

With the function's log format set to JSON (AWS_LAMBDA_LOG_FORMAT=JSON, what
Lambda's "Log format: JSON" setting sets), each record is one JSON object with
timestamp, level, message, logger and requestId, plus the fields passed in
`extra`. In the text format the fields follow the message as key=value.

    shim invoke handlers --handler structured.Handle --env AWS_LAMBDA_LOG_FORMAT=JSON \
        --event - <<< '{"order_id": "A-17", "items": [{"sku": "pen", "price": 2.5, "quantity": 4}]}'
"""

import logging

log = logging.getLogger("orders")
log.setLevel(logging.INFO)  # the root logger's default is WARNING, as on Lambda


def Handle(event, context):
    order_id = event.get("order_id", "unknown")
    items = event.get("items", [])
    log.info("order received", extra={"order_id": order_id, "item_count": len(items)})
    total = round(sum(item.get("price", 0) * item.get("quantity", 1) for item in items), 2)
    if total > 1000:
        log.warning("large order", extra={"order_id": order_id, "total": total})
    log.info("order priced", extra={"order_id": order_id, "total": total})
    return {"order_id": order_id, "total": total}
