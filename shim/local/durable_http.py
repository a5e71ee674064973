"""The durable-execution API on HTTP: its own Endpoint, or inside `shim serve --durable`'s Invoke API.

A DurableService (shim.local.durable_service) answers the API's requests in handle(); this module
puts them on a socket. Endpoint is a server of its own on 127.0.0.1 (`shim invoke --durable`, the
pytest fixture). For `shim serve --durable`, shim.local.invoke_api hands over the requests whose
path is the API's (serves()) and every Invoke that starts an execution (starts_execution()), as
Lambda does for a durable function:

- an Invoke of the function starts an execution (its name from X-Amz-Durable-Execution-Name, its
  tenant from X-Amz-Tenant-Id). RequestResponse answers when it ends, with the handler's result
  (or its error, marked X-Amz-Function-Error) and X-Amz-Durable-Execution-Arn; Event answers 202
  at once with the ARN;
- an Invoke whose payload is already a durable envelope, or that the SDK testing package's
  runner marks as a handler invocation (X-Dex-Handler-Invoke), is one invocation, passed through:
  so `dex-local-runner start-server --lambda-endpoint` still works against shim serve.
"""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from shim.local.durable_service import API_PREFIX, ARN_HEADER, NAME_HEADER, is_envelope

HANDLER_INVOKE_HEADER = "X-Dex-Handler-Invoke"  # the testing package's runner marks its invocations so
SYNC_LIMIT_S = 900  # a synchronous Invoke waits for the execution up to this


def serves(path):
    return path.startswith(API_PREFIX)


def starts_execution(headers, event):
    return not headers.get(HANDLER_INVOKE_HEADER) and not is_envelope(event)


def answer_api(handler, service):
    """One durable-execution API request on the Invoke API's handler (a KeepAliveHandler)."""
    length = int(handler.headers.get("Content-Length") or 0)
    body = handler.rfile.read(length) if length > 0 else b""
    status, headers, out = service.handle(handler.command, handler.path, handler.headers.items(), body)
    headers = {k: v for k, v in headers.items() if k.lower() != "content-length"}
    handler._send(status, out, headers)


def answer_invoke(handler, service, event, kind, tenant_id=None):
    """An Invoke of a durable function: start an execution and answer as Lambda does."""
    try:
        arn = service.start(event, name=handler.headers.get(NAME_HEADER), tenant_id=tenant_id)
    except Exception as exc:  # noqa: BLE001 - e.g. DurableExecutionAlreadyStartedException
        return handler._fail(400, type(exc).__name__, str(exc))
    if kind == "Event":
        return handler._send(202, b"", {ARN_HEADER: arn})
    if not service.wait(arn, SYNC_LIMIT_S):
        body = {
            "errorType": "Sandbox.Timedout",
            "errorMessage": "The durable execution %s is still running after "
            "%d s; follow it with GetDurableExecution" % (arn, SYNC_LIMIT_S),
        }
        return handler._send(200, json.dumps(body).encode(), {ARN_HEADER: arn, "X-Amz-Function-Error": "Unhandled"})
    result = service.result(arn)
    headers = {ARN_HEADER: arn, "Content-Type": "application/json", "X-Amz-Executed-Version": "$LATEST"}
    if result.status == "SUCCEEDED":
        return handler._send(200, json.dumps(result.result).encode("utf-8"), headers)
    error = result.error or {}
    body = {"errorType": error.get("ErrorType") or result.status, "errorMessage": error.get("ErrorMessage") or ""}
    headers["X-Amz-Function-Error"] = "Unhandled"
    handler._send(200, json.dumps(body).encode("utf-8"), headers)


class Endpoint(ThreadingHTTPServer):
    """The durable-execution API of a DurableService on 127.0.0.1 (for `shim invoke --durable` and tests;
    `shim serve --durable` answers it on its own port instead)."""

    daemon_threads = True

    def __init__(self, service, port=0):
        super().__init__(("127.0.0.1", port), _EndpointHandler)
        self.service = service
        self._thread = None

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.server_address[1]

    def start(self):
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self.shutdown()
        self.server_close()


class _EndpointHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _any(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        status, headers, out = self.server.service.handle(self.command, self.path, self.headers.items(), body)
        self.send_response(status)
        for key, value in headers.items():
            if key.lower() != "content-length":
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    do_GET = do_POST = do_PUT = do_DELETE = _any

    def log_message(self, *args):
        pass
