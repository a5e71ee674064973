"""A Function URL, locally: HTTP request -> Lambda event (payload format 2.0) -> HTTP response.

Used by `shim serve --function-url`, and by `shim invoke` to show a streamed HTTP
response. Two kinds of answer, as a Function URL in RESPONSE_STREAM mode reads them:

- a streamed response with the content type application/vnd.awslambda.http-integration-response:
  JSON {statusCode, headers, cookies}, 8 NUL bytes, then the body (PreludeReader splits it);
- a buffered response, read by the Function URL response format: an object with
  statusCode (and headers, cookies, body, isBase64Encoded), or any other JSON value,
  which is the body of a 200 with Content-Type application/json.
"""

import base64
import json
import time
import urllib.parse

from shim.runtime import protocol
from shim.runtime.stream import header_problem

URL_ID = "local0function0url0id0000000000"  # 32 characters, as a Function URL's id
PRELUDE_LIMIT = 16 * 1024  # API Gateway's documented window for the delimiter; taken for Function URLs too


class PreludeError(ValueError):
    """A streamed HTTP response whose prelude is missing or not the JSON object Lambda expects."""


class PreludeReader:
    """Splits a streamed HTTP integration response, fed chunk by chunk, into its prelude and body.

    reader = PreludeReader()
    prelude, body = reader.feed(chunk)   # prelude: None until the delimiter has arrived, then once a dict
    """

    def __init__(self, limit=PRELUDE_LIMIT):
        self.limit = limit
        self.prelude = None
        self._head = b""

    @property
    def complete(self):
        return self.prelude is not None

    @property
    def held(self):
        """What was fed and not handed back yet (the prelude so far)."""
        return self._head

    def feed(self, data):
        """(the prelude dict the first time it is complete, else None; body bytes in this chunk)."""
        if self.prelude is not None:
            return None, data
        self._head += data
        end = self._head.find(protocol.PRELUDE_DELIMITER)
        if end < 0:
            if len(self._head) > self.limit:
                raise PreludeError("no 8-NUL delimiter after the prelude in the first %d bytes" % self.limit)
            return None, b""
        try:
            prelude = json.loads(self._head[:end].decode("utf-8"))
        except ValueError as exc:
            raise PreludeError("the prelude is not JSON: %s" % exc) from None
        if not isinstance(prelude, dict):
            raise PreludeError("the prelude is not a JSON object")
        self.prelude = prelude
        body, self._head = self._head[end + len(protocol.PRELUDE_DELIMITER) :], b""
        return prelude, body


def response_head(prelude):
    """(status, [(header, value)]) from a prelude: its headers, then a Set-Cookie per cookie.
    PreludeError for a status or a header that cannot go on the wire as it is."""
    status = prelude.get("statusCode", 200)
    if type(status) is not int or not 100 <= status <= 599:
        raise PreludeError("statusCode must be an int from 100 to 599, got %r" % (status,))
    headers = [(str(k), str(v)) for k, v in (prelude.get("headers") or {}).items()]
    for name, values in (prelude.get("multiValueHeaders") or {}).items():
        headers += [(str(name), str(v)) for v in values]
    headers += [("Set-Cookie", str(cookie)) for cookie in prelude.get("cookies") or ()]
    return status, checked(headers)


def checked(headers):
    """The headers, if every one can be a header line as it is; else PreludeError. The defence at the
    wire: a response never carries a line break from the function into the HTTP head (injected headers)."""
    for name, value in headers:
        problem = header_problem(name, value)
        if problem:
            raise PreludeError("header %r: %s" % (name, problem))
    return headers


def buffered_response(body):
    """(status, [(header, value)], body bytes) for a buffered answer, by the Function URL response format.
    PreludeError for a header that cannot go on the wire as it is."""
    try:
        value = json.loads(body) if body else None
    except ValueError:
        value = None
    if not isinstance(value, dict) or "statusCode" not in value:
        return 200, [("Content-Type", "application/json")], body
    status = value.get("statusCode")
    if type(status) is not int or not 100 <= status <= 599:
        return 502, [("Content-Type", "application/json")], b'{"Message":"Internal Server Error"}'
    headers = [(str(k), str(v)) for k, v in (value.get("headers") or {}).items()]
    headers += [("Set-Cookie", str(cookie)) for cookie in value.get("cookies") or ()]
    checked(headers)
    payload = value.get("body")
    if payload is None:
        data = b""
    elif value.get("isBase64Encoded"):
        data = base64.b64decode(payload)
    else:
        data = (payload if isinstance(payload, str) else json.dumps(payload)).encode("utf-8")
    if not any(name.lower() == "content-type" for name, _ in headers):
        headers.append(("Content-Type", "application/json"))
    return status, headers, data


def event(method, target, headers, body, request_id, source_ip="127.0.0.1"):
    """The event a Function URL gives the function (payload format 2.0) for one HTTP request.

    headers: (name, value) pairs as received; names are lowercased and repeats joined with
    commas, cookies go to `cookies`. A body that is not UTF-8 is base64-encoded.
    """
    path, _, query = target.partition("?")
    joined = {}
    cookies = []
    for name, value in headers:
        name = name.lower()
        if name == "cookie":
            cookies += [c.strip() for c in value.split(";") if c.strip()]
            continue
        joined[name] = joined[name] + "," + value if name in joined else value
    now = time.time()
    result = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": joined,
        "requestContext": {
            "accountId": "anonymous",
            "apiId": URL_ID,
            "domainName": "%s.lambda-url.us-east-1.on.aws" % URL_ID,
            "domainPrefix": URL_ID,
            "http": {
                "method": method,
                "path": urllib.parse.unquote(path),
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": joined.get("user-agent", ""),
            },
            "requestId": request_id,
            "routeKey": "$default",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": False,
    }
    if cookies:
        result["cookies"] = cookies
    if query:
        params = {}
        for key, value in urllib.parse.parse_qsl(query, keep_blank_values=True):
            params[key] = params[key] + "," + value if key in params else value
        result["queryStringParameters"] = params
    if body:
        try:
            result["body"] = body.decode("utf-8")
        except UnicodeDecodeError:
            result["body"] = base64.b64encode(body).decode("ascii")
            result["isBase64Encoded"] = True
    return result
