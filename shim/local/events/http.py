"""HTTP-shaped events: API Gateway REST (1.0), HTTP API (2.0), Function URL (2.0) and ALB.

Each takes path (with an optional ?query), method (GET, or POST when there is a body),
body, header (NAME=VALUE pairs) and query (NAME=VALUE pairs, repeatable names kept).
"""

import base64
import time
import urllib.parse
import uuid

ACCOUNT = "123456789012"
REGION = "us-east-1"
API_ID = "1234567890"
SOURCE_IP = "198.51.100.7"
USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36"


def _request(path, method, body, header, query):
    """(method, path, [(query name, value)], [(header name, value)], body text or None, base64?)."""
    path = path or "/"
    if not path.startswith("/"):
        path = "/" + path
    path, _, raw_query = path.partition("?")
    pairs = urllib.parse.parse_qsl(raw_query, keep_blank_values=True)
    for item in query or ():
        name, _, value = item.partition("=")
        pairs.append((name, value))
    headers = [("accept", "application/json"), ("user-agent", USER_AGENT)]
    if body is not None:
        headers.append(("content-type", "application/json"))
    for item in header or ():
        name, _, value = item.partition("=")
        headers = [(k, v) for k, v in headers if k != name.lower().strip()] + [(name.lower().strip(), value.strip())]
    method = (method or ("POST" if body is not None else "GET")).upper()
    encoded = False
    if isinstance(body, bytes):
        try:
            body = body.decode("utf-8")
        except UnicodeDecodeError:
            body, encoded = base64.b64encode(body).decode("ascii"), True
    return method, path, pairs, headers, body, encoded


def _single(pairs):
    """Last value wins, as in API Gateway 1.0's and ALB's single-value maps."""
    return {k: v for k, v in pairs} or None


def _multi(pairs):
    result = {}
    for k, v in pairs:
        result.setdefault(k, []).append(v)
    return result or None


def _joined(pairs):
    """Repeated names joined with commas, as payload format 2.0 does."""
    result = {}
    for k, v in pairs:
        result[k] = result[k] + "," + v if k in result else v
    return result


def apigw_rest(
    path=None,
    method=None,
    body=None,
    header=None,
    query=None,
    resource=None,
    stage="prod",
    request_id=None,
    source_ip=SOURCE_IP,
    host=None,
    now=None,
):
    """API Gateway REST API, Lambda proxy integration: payload format 1.0."""
    method, path, pairs, headers, body, encoded = _request(path, method, body, header, query)
    now = time.time() if now is None else now
    host = host or "%s.execute-api.%s.amazonaws.com" % (API_ID, REGION)
    headers = [
        ("host", host),
        ("x-forwarded-for", source_ip),
        ("x-forwarded-port", "443"),
        ("x-forwarded-proto", "https"),
    ] + [h for h in headers if h[0] != "host"]
    headers = [(_title(k), v) for k, v in headers]  # REST APIs pass the names as the client sent them
    resource = resource or path
    request_id = request_id or str(uuid.uuid4())
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": _single(headers),
        "multiValueHeaders": _multi(headers),
        "queryStringParameters": _single(pairs),
        "multiValueQueryStringParameters": _multi(pairs),
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "accountId": ACCOUNT,
            "apiId": API_ID,
            "domainName": host,
            "domainPrefix": host.split(".")[0],
            "extendedRequestId": "c2FtcGxlRXh0ZW5kZWQ=",
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
                "userAgent": dict(headers).get("User-Agent", ""),
                "userArn": None,
            },
            "path": "/%s%s" % (stage, path),
            "protocol": "HTTP/1.1",
            "requestId": request_id,
            "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "requestTimeEpoch": int(now * 1000),
            "resourceId": "abc123",
            "resourcePath": resource,
            "stage": stage,
        },
        "body": body,
        "isBase64Encoded": encoded,
    }


def _v2(path, method, body, header, query, route_key, api_id, domain, account, stage):
    method, path, pairs, headers, body, encoded = _request(path, method, body, header, query)
    now = time.time()
    cookies = [c.strip() for k, v in headers if k == "cookie" for c in v.split(";") if c.strip()]
    headers = [(k, v) for k, v in headers if k != "cookie"]
    headers = [
        ("host", domain),
        ("x-forwarded-for", SOURCE_IP),
        ("x-forwarded-port", "443"),
        ("x-forwarded-proto", "https"),
    ] + [h for h in headers if h[0] != "host"]
    request_id = str(uuid.uuid4())
    event = {
        "version": "2.0",
        "routeKey": route_key if route_key != "ANY" else "ANY %s" % path,
        "rawPath": path,
        "rawQueryString": urllib.parse.urlencode(pairs),
        "headers": _joined(headers),
        "requestContext": {
            "accountId": account,
            "apiId": api_id,
            "domainName": domain,
            "domainPrefix": api_id,
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": SOURCE_IP,
                "userAgent": dict(headers).get("user-agent", ""),
            },
            "requestId": request_id,
            "routeKey": route_key if route_key != "ANY" else "ANY %s" % path,
            "stage": stage,
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": encoded,
    }
    if cookies:
        event["cookies"] = cookies
    if pairs:
        event["queryStringParameters"] = _joined(pairs)
    if body is not None:
        event["body"] = body
    return event


def apigw_http(path=None, method=None, body=None, header=None, query=None):
    """API Gateway HTTP API: payload format 2.0, on a route `ANY /path` of the $default stage."""
    event = _v2(
        path,
        method,
        body,
        header,
        query,
        "ANY",
        API_ID,
        "%s.execute-api.%s.amazonaws.com" % (API_ID, REGION),
        ACCOUNT,
        "$default",
    )
    return event


def function_url(path=None, method=None, body=None, header=None, query=None):
    """A Function URL: payload format 2.0 with routeKey and stage $default, accountId anonymous (AuthType NONE)."""
    url_id = "abcdefghijklmnopqrstuvwxyz012345"  # 32 characters, as a Function URL's id
    return _v2(
        path,
        method,
        body,
        header,
        query,
        "$default",
        url_id,
        "%s.lambda-url.%s.on.aws" % (url_id, REGION),
        "anonymous",
        "$default",
    )


def alb(path=None, method=None, body=None, header=None, query=None):
    """An Application Load Balancer target group (multi-value headers off, its default)."""
    method, path, pairs, headers, body, encoded = _request(path, method, body, header, query)
    headers = [
        ("host", "my-load-balancer-1234567890.%s.elb.amazonaws.com" % REGION),
        ("x-amzn-trace-id", "Root=1-%08x-%s" % (int(time.time()), uuid.uuid4().hex[:24])),
        ("x-forwarded-for", SOURCE_IP),
        ("x-forwarded-port", "80"),
        ("x-forwarded-proto", "http"),
    ] + headers
    return {
        "requestContext": {
            "elb": {
                "targetGroupArn": "arn:aws:elasticloadbalancing:%s:%s:targetgroup/my-target-group/"
                "6d0ecf831eec9f09" % (REGION, ACCOUNT)
            }
        },
        "httpMethod": method,
        "path": path,
        "queryStringParameters": {urllib.parse.quote(k): urllib.parse.quote(v) for k, v in pairs},
        "headers": dict(headers),
        "body": body or "",
        "isBase64Encoded": encoded,
    }


def _title(name):
    return "-".join(part[:1].upper() + part[1:] for part in name.split("-"))
