"""A streamed HTTP response for a Function URL (invoke mode RESPONSE_STREAM): server-sent events.

The HttpResponse yielded first sets the status, the headers and the cookies; everything
after it is the body, sent as it is produced. Locally: `shim serve handlers --handler
http_stream.Handle --function-url`, then `curl -N 'http://127.0.0.1:9000/?name=Ada'`.
"""

import json
import time

from shim.runtime.stream import HttpResponse


def Handle(event, context):
    path = event.get("rawPath") or "/"
    if path != "/":
        yield HttpResponse(404, {"Content-Type": "text/plain"})
        yield "nothing at %s\n" % path
        return
    query = event.get("queryStringParameters") or {}
    name = query.get("name", "world")
    count = max(1, min(int(query.get("count", 3)), 20))
    yield HttpResponse(
        200,
        {"Content-Type": "text/event-stream", "Cache-Control": "no-cache"},
        cookies=["last_name=%s; Path=/; HttpOnly" % name],
    )
    for number in range(1, count + 1):
        yield "id: %d\ndata: %s\n\n" % (number, json.dumps({"greeting": "Hello, %s!" % name, "n": number}))
        time.sleep(0.2)
