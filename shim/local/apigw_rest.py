"""An API Gateway REST API in front of the function, locally (`shim serve --api rest`).

HTTP request -> Lambda proxy integration event (payload format 1.0) -> HTTP response,
read the way API Gateway reads a proxy integration's answer:

- the answer must be a JSON object with only statusCode, headers, multiValueHeaders,
  body and isBase64Encoded; statusCode an integer (100-599), body a string (or null),
  headers a map of scalar values, multiValueHeaders a map of lists;
- headers and multiValueHeaders are merged (a pair given in both appears once);
- isBase64Encoded: the body is decoded before it is sent;
- no Content-Type: application/json.
Anything else, and a failed invoke (error, timeout, crash), is API Gateway's
502 {"message": "Internal server error"}. A header name or value holding CR, LF or
NUL is refused the same way: what the function returns never becomes headers of its own.

The routes are one greedy resource, as `ANY /{proxy+}` (with `/` for the root) on a
stage named `local`: `resource`, `pathParameters` and `requestContext.resourcePath`
say so.
"""

import base64
import json
import re
import time
import urllib.parse

ACCOUNT = "123456789012"
API_ID = "localrestapi"
STAGE = "local"
RESPONSE_KEYS = {"statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded"}
INTERNAL_ERROR = (
    502,
    [("Content-Type", "application/json"), ("x-amzn-ErrorType", "InternalServerErrorException")],
    b'{"message": "Internal server error"}',
)
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # a header name (RFC 9110)


class MalformedResponse(ValueError):
    """The function's answer is not a proxy integration response API Gateway would accept."""


def event(method, target, headers, body, request_id, source_ip="127.0.0.1"):
    """The Lambda proxy integration event for one request (headers: (name, value) pairs as received)."""
    raw_path, _, query = target.partition("?")
    path = urllib.parse.unquote(raw_path) or "/"
    single, multi = {}, {}
    for name, value in headers:
        single[name] = value
        multi.setdefault(name, []).append(value)
    params = urllib.parse.parse_qsl(query, keep_blank_values=True)
    query_single, query_multi = {}, {}
    for key, value in params:
        query_single[key] = value
        query_multi.setdefault(key, []).append(value)
    resource = "/" if path == "/" else "/{proxy+}"
    now = time.time()
    lower = {name.lower(): value for name, value in single.items()}
    host = lower.get("host", "")
    encoded = False
    if body:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            text, encoded = base64.b64encode(body).decode("ascii"), True
    else:
        text = None
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": single or None,
        "multiValueHeaders": multi or None,
        "queryStringParameters": query_single or None,
        "multiValueQueryStringParameters": query_multi or None,
        "pathParameters": None if resource == "/" else {"proxy": path.lstrip("/")},
        "stageVariables": None,
        "requestContext": {
            "accountId": ACCOUNT,
            "apiId": API_ID,
            "domainName": host,
            "domainPrefix": host.split(".")[0].split(":")[0],
            "extendedRequestId": request_id,
            "httpMethod": method,
            "identity": {
                "accessKey": None,
                "accountId": None,
                "caller": None,
                "cognitoAuthenticationProvider": None,
                "cognitoAuthenticationType": None,
                "cognitoIdentityId": None,
                "cognitoIdentityPoolId": None,
                "principalOrgId": None,
                "sourceIp": source_ip,
                "user": None,
                "userAgent": lower.get("user-agent"),
                "userArn": None,
            },
            "path": "/%s%s" % (STAGE, path),
            "protocol": "HTTP/1.1",
            "requestId": request_id,
            "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "requestTimeEpoch": int(now * 1000),
            "resourceId": "local0",
            "resourcePath": resource,
            "stage": STAGE,
        },
        "body": text,
        "isBase64Encoded": encoded,
    }


def response(body):
    """(status, [(header, value)], body bytes) for the function's answer; MalformedResponse if unusable."""
    try:
        value = json.loads(body) if body else None
    except ValueError:
        raise MalformedResponse("the answer is not JSON") from None
    if not isinstance(value, dict):
        raise MalformedResponse("the answer is not a JSON object")
    extra = sorted(set(value) - RESPONSE_KEYS)
    if extra:
        raise MalformedResponse("keys API Gateway does not accept: %s" % ", ".join(extra))
    status = value.get("statusCode")
    if type(status) is str and status.isdigit():
        status = int(status)
    if type(status) is not int or not 100 <= status <= 599:
        raise MalformedResponse("statusCode must be an integer from 100 to 599, got %r" % (status,))
    headers = []
    multi = value.get("multiValueHeaders") or {}
    if not isinstance(multi, dict) or not all(isinstance(v, list) for v in multi.values()):
        raise MalformedResponse("multiValueHeaders must map names to lists")
    for name, values in multi.items():
        headers += [(name, _scalar(v)) for v in values]
    single = value.get("headers") or {}
    if not isinstance(single, dict):
        raise MalformedResponse("headers must be an object")
    for name, item in single.items():
        pair = (name, _scalar(item))
        if pair not in headers:  # given in both: once
            headers.append(pair)
    for name, item in headers:
        if not _TOKEN.fullmatch(name) or any(c in item for c in "\r\n\0"):
            raise MalformedResponse("header %r holds a character no header may hold" % name)
    payload = value.get("body")
    if payload is not None and not isinstance(payload, str):
        raise MalformedResponse("body must be a string, got %s" % type(payload).__name__)
    data = (payload or "").encode("utf-8")
    if value.get("isBase64Encoded") and payload:
        try:
            data = base64.b64decode(payload, validate=True)
        except ValueError:
            raise MalformedResponse("isBase64Encoded is true and the body is not base64") from None
    if not any(name.lower() == "content-type" for name, _ in headers):
        headers.append(("Content-Type", "application/json"))
    return status, headers, data


def _scalar(item):
    if isinstance(item, bool):
        return "true" if item else "false"
    if isinstance(item, (str, int, float)):
        return str(item)
    raise MalformedResponse("a header value must be a string, got %s" % type(item).__name__)


def serve(handler, pool, target, max_bytes):
    """Answer one request on an InvokeHandler (shim.local.invoke_api) as API Gateway REST would: the
    function's pool, and the request target as the function sees it (a project's /NAME prefix taken off)."""
    import uuid

    try:
        length = int(handler.headers.get("Content-Length") or 0)
    except ValueError:
        length = -1
    if length < 0 or length > max_bytes or "chunked" in (handler.headers.get("Transfer-Encoding") or "").lower():
        handler.close_connection = True
        status = 413 if length > max_bytes else 400
        return handler._send(status, b'{"message": "Bad request"}', {"Content-Type": "application/json"})
    body = handler.rfile.read(length) if length else b""
    request_id = str(uuid.uuid4())
    built = event(handler.command, target, handler.headers.items(), body, request_id, handler.client_address[0])
    try:
        result = pool.invoke(json.dumps(built).encode("utf-8"), request_id=request_id)
    except RuntimeError:  # closed while this request waited
        return handler._send(503, b"")
    handler.server.log(result.transcript())
    answer = b"".join(result.chunks) if result.streamed else result.body
    if not result.ok:
        status, headers, data = INTERNAL_ERROR
    else:
        try:
            status, headers, data = response(answer)
        except MalformedResponse as exc:
            handler.server.log(
                "shim serve: Execution failed due to configuration error: Malformed Lambda proxy response (%s)\n" % exc
            )
            status, headers, data = INTERNAL_ERROR
    headers = headers + [("x-amzn-RequestId", request_id)]
    try:
        handler.send_response(status)
        for name, value in headers:
            if name.lower() not in ("content-length", "transfer-encoding", "connection"):
                handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        if handler.command != "HEAD":
            handler.wfile.write(data)
    except OSError:
        handler.close_connection = True
