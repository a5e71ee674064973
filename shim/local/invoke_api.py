"""Lambda's Invoke API on 127.0.0.1 in front of a pool of execution environments (for `shim serve`).

Kept apart from shim.cli.cmd_serve, which only builds the options and the pool, so that
`shim serve --help` and option errors do not pay for importing http.server.
"""
import base64
import json
import queue
import re
import threading
from http.server import ThreadingHTTPServer

from shim.local.emulator import KeepAliveHandler

INVOKE_PATH = re.compile(r"/2015-03-31/functions/(?P<name>[^/]+)/invocations")
MAX_REQUEST_BYTES = 6 * 1024 * 1024  # Lambda's limit for a synchronous invoke's payload
TAIL_BYTES = 4096                    # what X-Amz-Log-Type: Tail returns, as in Lambda


class Pool:
    """N Functions; invoke() runs an event on an idle one."""

    def __init__(self, functions):
        self.functions = list(functions)
        self._idle = queue.Queue()
        for fn in self.functions:
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


def _start(fn):
    try:
        fn.start()
    except RuntimeError:  # closed meanwhile (Ctrl-C during start-up)
        pass


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # many clients at once must queue, not be refused

    def __init__(self, port, pool, log):
        super().__init__(("127.0.0.1", port), InvokeHandler)
        self.pool = pool
        self.log = log
        self.in_flight = 0
        self._idle = threading.Condition()

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
        if not INVOKE_PATH.fullmatch(self.path.split("?", 1)[0]):
            return self._fail(404, "ResourceNotFoundException", "No route for POST %s" % self.path)
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            self.close_connection = True  # its body is still on the wire
            return self._fail(411, "LengthRequiredException", "Send the payload with a Content-Length")
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0:
            self.close_connection = True
            return self._fail(400, "InvalidRequestContentException", "Bad Content-Length")
        if length > MAX_REQUEST_BYTES:
            self.close_connection = True
            return self._fail(413, "RequestTooLargeException",
                              "Request must be smaller than %d bytes for the InvokeFunction operation" % MAX_REQUEST_BYTES)
        body = self.rfile.read(length) if length else b""
        event = body if body.strip() else b"{}"
        try:
            json.loads(event.decode("utf-8"))
        except ValueError as exc:
            return self._fail(400, "InvalidRequestContentException", "Could not parse request body into json: %s" % exc)
        kind = self.headers.get("X-Amz-Invocation-Type") or "RequestResponse"
        if kind == "DryRun":
            return self._send(204, b"")
        if kind == "Event":  # asynchronous: accepted now, run in the background
            threading.Thread(target=self._invoke, args=(event,), daemon=True).start()
            return self._send(202, b"")
        if kind != "RequestResponse":
            return self._fail(400, "InvalidParameterValueException", "Unknown X-Amz-Invocation-Type %r" % kind)
        result = self._invoke(event)
        if result is None:
            return self._fail(503, "ServiceException", "The server is shutting down")
        headers = {"Content-Type": result.content_type or "application/json", "X-Amz-Executed-Version": "$LATEST",
                   "X-Amzn-RequestId": result.request_id}
        if not result.ok:
            headers["X-Amz-Function-Error"] = "Unhandled"
        if (self.headers.get("X-Amz-Log-Type") or "").lower() == "tail":
            tail = result.transcript().encode("utf-8")[-TAIL_BYTES:]
            headers["X-Amz-Log-Result"] = base64.b64encode(tail).decode("ascii")
        self._send(200, result.body, headers)

    def do_GET(self):
        self._fail(404, "ResourceNotFoundException", "No route for GET %s; invoke with POST" % self.path)

    def _invoke(self, event):
        try:
            result = self.server.pool.invoke(event)
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
