"""The Lambda Runtime API's names, spelled once: its routes and its headers.

Spelled as the Runtime API documentation spells them; the client matches them
case-insensitively (HEADER.lower()), the local emulator sends them as they are.
"""

from shim.runtime.http1 import header_value

API = "/2018-06-01/runtime"
NEXT = API + "/invocation/next"
INIT_ERROR = API + "/init/error"
# SnapStart: blocks until the snapshot is restored; a failed after-restore hook is posted to the other.
RESTORE_NEXT = API + "/restore/next"
RESTORE_ERROR = API + "/restore/error"

# The Extensions API, on the same host:port (a runtime registers itself as an internal extension).
EXTENSION_REGISTER = "/2020-01-01/extension/register"
EXTENSION_NEXT = "/2020-01-01/extension/event/next"
EXTENSION_NAME = "Lambda-Extension-Name"
EXTENSION_ID = "Lambda-Extension-Identifier"


def response_path(request_id: "str") -> "str":
    return "%s/invocation/%s/response" % (API, request_id)


def error_path(request_id: "str") -> "str":
    return "%s/invocation/%s/error" % (API, request_id)


# An event from GET /next carries these.
REQUEST_ID = "Lambda-Runtime-Aws-Request-Id"
DEADLINE_MS = "Lambda-Runtime-Deadline-Ms"
FUNCTION_ARN = "Lambda-Runtime-Invoked-Function-Arn"
TRACE_ID = "Lambda-Runtime-Trace-Id"
CLIENT_CONTEXT = "Lambda-Runtime-Client-Context"
COGNITO_IDENTITY = "Lambda-Runtime-Cognito-Identity"
TENANT_ID = "Lambda-Runtime-Aws-Tenant-Id"
INVOCATION_ID = "Lambda-Runtime-Invocation-Id"  # echoed back on the answer when present

# The runtime's posts to /error and /init/error carry these.
ERROR_TYPE = "Lambda-Runtime-Function-Error-Type"
XRAY_CAUSE = "Lambda-Runtime-Function-XRay-Error-Cause"


def error_headers(error_type: "str", xray_cause: "str | None", invocation_id: "str | None") -> "str":
    """The header lines of a post to /error, /init/error or /restore/error (the client's, shim.runtime.client)."""
    extra = "Content-Type: application/json\r\n%s: %s\r\n" % (ERROR_TYPE, header_value(error_type))
    if xray_cause:
        extra += "%s: %s\r\n" % (XRAY_CAUSE, header_value(xray_cause))
    if invocation_id:
        extra += "%s: %s\r\n" % (INVOCATION_ID, header_value(invocation_id))
    return extra


# A streamed response (shim.runtime.stream): a chunked POST to /response with these headers;
# an error after the first byte goes in the two declared trailers (Error-Type and a base64 Error-Body).
RESPONSE_MODE = "Lambda-Runtime-Function-Response-Mode"
STREAMING = "streaming"  # the only value the Runtime API accepts besides none at all
ERROR_BODY = "Lambda-Runtime-Function-Error-Body"
# The body of a streamed response for a Function URL: JSON {statusCode, headers, cookies}, 8 NUL bytes, then the body.
HTTP_INTEGRATION_RESPONSE = "application/vnd.awslambda.http-integration-response"
PRELUDE_DELIMITER = b"\0" * 8

# Local tools only (Lambda never sends it): the reply to /restore/next asks the runtime to
# restore into a forked child, so the snapshotted process stays as it was for the next restore.
RESTORE_FORK = "Lambda-Shim-Restore-Fork"
