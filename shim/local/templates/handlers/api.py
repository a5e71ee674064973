"""An API Gateway proxy handler: an HTTP request in, {statusCode, headers, body} out.

Works behind a REST API (payload format 1.0: httpMethod, path) and an HTTP API
(format 2.0: requestContext.http.method, rawPath). The body must be a string,
so JSON is encoded here; API Gateway turns anything else into a 502.

    shim invoke handlers --handler api.Handle --event request.json
"""

import base64
import json


def Handle(event, context):
    method, path = route_of(event)
    if method == "GET" and path == "/hello":
        name = (event.get("queryStringParameters") or {}).get("name", "world")
        return respond(200, {"message": "Hello, %s!" % name, "requestId": context.aws_request_id})
    if method == "POST" and path == "/echo":
        try:
            return respond(200, {"echo": json.loads(body_of(event) or "null")})
        except ValueError:
            return respond(400, {"error": "the body must be JSON"})
    return respond(404, {"error": "no route for %s %s" % (method, path)})


def route_of(event):
    http = (event.get("requestContext") or {}).get("http")
    if http:  # HTTP API, payload format 2.0
        return http.get("method", "GET"), event.get("rawPath", "/")
    return event.get("httpMethod", "GET"), event.get("path", "/")


def body_of(event):
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        body = base64.b64decode(body).decode("utf-8")
    return body


def respond(status, obj):
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(obj),
    }
