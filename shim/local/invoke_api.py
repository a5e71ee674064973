"""Lambda's Invoke API on 127.0.0.1 in front of a pool of execution environments (for `shim serve`).

Kept apart from shim.cli.cmd_serve, which only builds the options and the pool, so that
`shim serve --help` and option errors do not pay for importing http.server.
"""

import base64
import json
import os
import queue
import re
import threading
import uuid
from http.server import ThreadingHTTPServer

from shim.local import function_url, relay
from shim.local.runtime_api_http import KeepAliveHandler

INVOKE_PATH = re.compile(r"/2015-03-31/functions/(?P<name>[^/]+)/invocations")
# InvokeWithResponseStream: the answer in the binary event-stream format (shim.local.relay).
STREAM_PATH = re.compile(r"/2021-11-15/functions/(?P<name>[^/]+)/response-streaming-invocations")
MAX_REQUEST_BYTES = 6 * 1024 * 1024  # Lambda's limit for a synchronous invoke's payload
TAIL_BYTES = relay.TAIL_BYTES  # what X-Amz-Log-Type: Tail returns, as in Lambda
DRAIN_BYTES = 64 * 1024 * 1024  # an oversized body is read (and dropped) up to this, so the client sees the 413
DRAIN_TIMEOUT_S = 10.0
TENANT_HEADER = "X-Amz-Tenant-Id"  # the invoke's tenant: the runtime gets it as Lambda-Runtime-Aws-Tenant-Id


class Pool:
    """N Functions; invoke() runs an event on one with a free slot (Managed Instances' have several)."""

    def __init__(self, functions):
        self.functions = list(functions)
        self._idle = queue.Queue()
        for fn in self.functions:
            for _ in range(getattr(fn, "max_concurrency", None) or 1):
                self._idle.put(fn)

    def start(self):
        """Start every environment at once (an init failure is kept in fn.init_failure; invokes retry it)."""
        threads = [threading.Thread(target=_start, args=(fn,), daemon=True) for fn in self.functions]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def invoke(self, event, **options):
        fn = self._idle.get()
        try:
            return fn.invoke(event, **options)
        finally:
            self._idle.put(fn)

    def close(self):
        threads = [threading.Thread(target=fn.close, daemon=True) for fn in self.functions]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()


def _durable_api(path):
    return path.startswith("/2025-12-01/")  # the durable-execution API's routes (shim.local.durable_http)


def _durable():
    from shim.local import durable_http  # only with shim serve --durable: it needs the durable extra

    return durable_http


def _start(fn):
    try:
        fn.start()
    except RuntimeError:  # closed meanwhile (Ctrl-C during start-up)
        pass


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # many clients at once must queue, not be refused

    def __init__(self, port, pool, log, function_url=False):
        super().__init__(("127.0.0.1", port), InvokeHandler)
        self.pool = pool  # a Pool (any function name), or shim.local.routes.Routes (a project's functions by name)
        self.log = log
        self.function_url = function_url  # every other path and method is the function's Function URL
        self.api = "url"  # which front the other paths get: "url" (Function URL, 2.0) or "rest" (API Gateway REST, 1.0)
        self.durable = None  # a shim.local.durable_service.DurableService (shim serve --durable)
        self.in_flight = 0
        self._idle = threading.Condition()

    def pool_for(self, name):
        """The Pool that serves the function `name` in an Invoke API path; None: no such function."""
        return self.pool.for_name(name) if hasattr(self.pool, "for_name") else self.pool

    def url_for(self, target):
        """(Pool, request target as the function sees it) for a Function URL request; None: no route."""
        if hasattr(self.pool, "for_url"):
            return self.pool.for_url(target)
        return (self.pool, target) if self.function_url else None

    def track(self, step):
        with self._idle:
            self.in_flight += step
            self._idle.notify_all()

    def wait_idle(self, timeout):
        """Let requests in flight send their answers (the error of a stopped runtime, at worst)."""
        with self._idle:
            self._idle.wait_for(lambda: self.in_flight == 0, timeout)


class InvokeHandler(KeepAliveHandler):
    server_version = "lambda-shim"

    def do_POST(self):
        self.server.track(+1)
        try:
            self._post()
        finally:
            self.server.track(-1)

    def _post(self):
        path = self.path.split("?", 1)[0]
        if self.server.durable is not None and _durable_api(path):
            return _durable().answer_api(self, self.server.durable)
        streaming = STREAM_PATH.fullmatch(path)
        match = INVOKE_PATH.fullmatch(path) or streaming
        if not match:
            return self._other_method()
        pool = self.server.pool_for(match.group("name"))
        if pool is None:  # as the Invoke API answers for a function it does not know
            region = os.environ.get("AWS_REGION", "us-east-1")
            return self._fail(
                404,
                "ResourceNotFoundException",
                "Function not found: arn:aws:lambda:%s:000000000000:function:%s" % (region, match.group("name")),
            )
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            self.close_connection = True  # its body is still on the wire
            return self._fail(411, "LengthRequiredException", "Send the payload with a Content-Length")
        lengths = self.headers.get_all("Content-Length") or []
        if len(lengths) > 1:  # which one frames the body? Nobody can say: refuse, as RFC 9112 asks
            self.close_connection = True
            return self._fail(400, "InvalidRequestContentException", "More than one Content-Length header")
        try:
            length = int(lengths[0]) if lengths else 0
        except ValueError:
            length = -1
        if length < 0:
            self.close_connection = True
            return self._fail(400, "InvalidRequestContentException", "Bad Content-Length")
        if length > MAX_REQUEST_BYTES:
            self.close_connection = True
            self._drain(length)
            return self._fail(
                413,
                "RequestTooLargeException",
                "Request must be smaller than %d bytes for the InvokeFunction operation" % MAX_REQUEST_BYTES,
            )
        body = self.rfile.read(length) if length else b""
        event = body if body.strip() else b"{}"
        try:
            json.loads(event.decode("utf-8"))
        except ValueError as exc:
            return self._fail(400, "InvalidRequestContentException", "Could not parse request body into json: %s" % exc)
        kind = self.headers.get("X-Amz-Invocation-Type") or "RequestResponse"
        if kind == "DryRun":
            return self._send(204, b"")
        tenant = {"tenant_id": self.headers[TENANT_HEADER]} if self.headers.get(TENANT_HEADER) else {}
        if not tenant and getattr(pool, "requires_tenant", False):  # shim.local.tenancy.TenantPool
            return self._fail(400, "InvalidParameterValueException", pool.requires_tenant)
        if self.server.durable is not None and not streaming and _durable().starts_execution(self.headers, event):
            return _durable().answer_invoke(self, self.server.durable, event, kind, **tenant)
        if kind == "Event" and not streaming:  # asynchronous: accepted now, run in the background
            threading.Thread(target=self._invoke, args=(event, pool), kwargs=tenant, daemon=True).start()
            return self._send(202, b"")
        if kind != "RequestResponse":
            return self._fail(400, "InvalidParameterValueException", "Unknown X-Amz-Invocation-Type %r" % kind)
        request_id = str(uuid.uuid4())
        want_tail = (self.headers.get("X-Amz-Log-Type") or "").lower() == "tail"
        # A function that streams is relayed as it streams; one that does not is answered whole below.
        sink = (relay.EventStreamRelay if streaming else relay.InvokeRelay)(self, request_id, want_tail)
        result = self._invoke(event, pool, request_id=request_id, on_stream=sink.on_stream, **tenant)
        if result is None and sink.writer.started:
            return sink.writer.abort()
        if result is None:
            return self._fail(503, "ServiceException", "The server is shutting down")
        if streaming or sink.writer.started:
            return sink.finish(result)
        headers = {
            "Content-Type": result.content_type or "application/json",
            "X-Amz-Executed-Version": "$LATEST",
            "X-Amzn-RequestId": result.request_id,
        }
        if not result.ok:
            headers["X-Amz-Function-Error"] = "Unhandled"
        if (self.headers.get("X-Amz-Log-Type") or "").lower() == "tail":
            tail = result.transcript().encode("utf-8")[-TAIL_BYTES:]
            headers["X-Amz-Log-Result"] = base64.b64encode(tail).decode("ascii")
        self._send(200, result.body, headers)

    def _drain(self, length):
        """Read a body we refuse, up to DRAIN_BYTES: a client that is still sending it would get a
        broken pipe instead of our answer if the connection closed under it."""
        if length > DRAIN_BYTES:
            return  # not worth reading: close on it
        self.connection.settimeout(DRAIN_TIMEOUT_S)
        try:
            while length > 0:
                chunk = self.rfile.read(min(length, 1 << 20))
                if not chunk:
                    break
                length -= len(chunk)
        except OSError:
            pass

    def do_GET(self):
        if self.server.durable is not None and _durable_api(self.path):
            return _durable().answer_api(self, self.server.durable)
        route = self.server.url_for(self.path)
        if route is not None:
            return self._url(*route)
        self._fail(404, "ResourceNotFoundException", "No route for GET %s; invoke with POST" % self.path)

    def _other_method(self):
        route = self.server.url_for(self.path)
        if route is not None:
            return self._url(*route)
        self._fail(404, "ResourceNotFoundException", "No route for %s %s" % (self.command, self.path))

    do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = _other_method

    def _url(self, pool, target):
        """The function's Function URL: the request as a payload 2.0 event, the answer as an HTTP response."""
        self.server.track(+1)
        try:
            if (getattr(pool, "api", None) or self.server.api) == "rest":  # or API Gateway REST's (payload 1.0)
                from shim.local import apigw_rest

                return apigw_rest.serve(self, pool, target, MAX_REQUEST_BYTES)
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                length = -1
            if length < 0 or length > MAX_REQUEST_BYTES or "chunked" in (self.headers.get("Transfer-Encoding") or ""):
                self.close_connection = True
                return self._send(413 if length > MAX_REQUEST_BYTES else 400, b"", {"Content-Type": "text/plain"})
            body = self.rfile.read(length) if length else b""
            request_id = str(uuid.uuid4())
            event = function_url.event(
                self.command, target, self.headers.items(), body, request_id, self.client_address[0]
            )
            sink = relay.FunctionURLRelay(self, self.server.log)
            result = self._invoke(
                json.dumps(event).encode("utf-8"), pool, request_id=request_id, on_stream=sink.on_stream
            )
            if result is None:
                return sink.writer.abort() if sink.writer.started else self._send(503, b"")
            sink.finish(result)
        finally:
            self.server.track(-1)

    def _invoke(self, event, pool, **options):
        try:
            result = pool.invoke(event, keep_stream=False, **options)  # streamed chunks are passed on, not kept
        except RuntimeError:  # closed while this request waited
            return None
        self.server.log(result.transcript())
        return result

    def _fail(self, status, error_type, message):
        body = json.dumps({"Type": "User", "message": message}).encode()
        self._send(status, body, {"Content-Type": "application/json", "X-Amzn-ErrorType": error_type})

    def _send(self, status, body, headers=None):
        try:
            self.send_response(status)
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:  # the client went away; its invoke still ran to the end
            self.close_connection = True
