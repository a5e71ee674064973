"""The example handler: copy this file, keep the name `Handle`, or set _HANDLER to yours."""

import logging

log = logging.getLogger(__name__)
calls = 0  # module state survives between invokes in one execution environment (warm starts)


def Handle(event, context):
    global calls
    calls += 1
    name = event.get("name", "world") if isinstance(event, dict) else "world"
    log.info("greeting %s", name)
    return {
        "message": "Hello, %s!" % name,
        "requestId": context.aws_request_id,
        "calls": calls,
    }
