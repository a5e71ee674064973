"""lambda-shim-emf: one CloudWatch Embedded Metric Format (EMF) line per invoke.

A lambda-shim runtime plugin (entry point `emf` in the group `lambda_shim.plugins`).
Every invoke writes one JSON object to stdout, which CloudWatch Logs extracts into
metrics (Lambda needs no other set-up for EMF written to stdout):

    {"_aws": {"Timestamp": <ms since the epoch>,
              "CloudWatchMetrics": [{"Namespace": "...", "Dimensions": [["function_name", ...]],
                                     "Metrics": [{"Name": "Duration", "Unit": "Milliseconds"}, ...]}]},
     "function_name": "...", "Duration": 1.234, "ColdStart": 1, "InitDuration": 41.5, "Errors": 0,
     "requestId": "..."}

The shape is the EMF specification's: the metadata under `_aws`, every dimension and
metric a member of the root, one dimension set, Timestamp in milliseconds. It is
written as Powertools for AWS Lambda (Python) writes its own: compact separators,
one line, stdout; the dimension `service` from POWERTOOLS_SERVICE_NAME and
`function_name` as Powertools names them; no StorageResolution (standard resolution).
Unlike Powertools, whose ColdStart is a separate document emitted once, every line
carries ColdStart (1 or 0), so its Sum counts cold starts and its Average is their rate.
"""

import json
import os
import sys
import time

__version__ = "0.1.0"

NAMESPACE_VARIABLE = "SHIM_EMF_NAMESPACE"
DIMENSIONS_VARIABLE = "SHIM_EMF_DIMENSIONS"
DEFAULT_NAMESPACE = "LambdaShim"
MAX_DIMENSIONS = 30  # per dimension set (CloudWatch raised it from 9 in 2022)
MAX_NAME = 255  # a namespace or dimension name, in characters
MAX_VALUE = 1024  # a dimension value
METRICS = (("Duration", "Milliseconds"), ("ColdStart", "Count"), ("InitDuration", "Milliseconds"), ("Errors", "Count"))
RESERVED = {"_aws", "requestId", "errorType"} | {name for name, _ in METRICS}


class ConfigurationError(ValueError):
    """A namespace or dimension CloudWatch would refuse: said at init, not lost at every invoke."""


def configuration(environ):
    """(namespace, {dimension: value}) from the environment, checked."""
    namespace = (
        environ.get(NAMESPACE_VARIABLE) or environ.get("POWERTOOLS_METRICS_NAMESPACE") or DEFAULT_NAMESPACE
    ).strip()
    _check_text("%s %r" % (NAMESPACE_VARIABLE, namespace), namespace, MAX_NAME)
    if namespace.startswith("AWS/"):
        raise ConfigurationError("%s %r: namespaces starting with AWS/ are AWS's own" % (NAMESPACE_VARIABLE, namespace))
    dimensions = {}
    if environ.get("AWS_LAMBDA_FUNCTION_NAME"):
        dimensions["function_name"] = environ["AWS_LAMBDA_FUNCTION_NAME"]
    if environ.get("POWERTOOLS_SERVICE_NAME"):
        dimensions["service"] = environ["POWERTOOLS_SERVICE_NAME"]
    for item in (environ.get(DIMENSIONS_VARIABLE) or "").split(","):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key:
            raise ConfigurationError(
                "%s takes key=value pairs separated by commas, got %r" % (DIMENSIONS_VARIABLE, item)
            )
        if not value:
            dimensions.pop(key, None)
            continue
        if key in RESERVED:
            raise ConfigurationError(
                "%s: %r is a name this plugin writes itself; pick another dimension name" % (DIMENSIONS_VARIABLE, key)
            )
        _check_text("the dimension name %r" % key, key, MAX_NAME)
        _check_text("the value of dimension %r" % key, value, MAX_VALUE)
        dimensions[key] = value
    if len(dimensions) > MAX_DIMENSIONS:
        raise ConfigurationError(
            "%d dimensions (%s): CloudWatch takes at most %d in a dimension set"
            % (len(dimensions), ", ".join(dimensions), MAX_DIMENSIONS)
        )
    return namespace, dimensions


def _check_text(what, text, limit):
    if not text or not text.strip():
        raise ConfigurationError("%s is empty" % what)
    if len(text) > limit:
        raise ConfigurationError("%s is longer than %d characters" % (what, limit))
    if text.startswith(":") or any(not " " <= c <= "~" for c in text):
        raise ConfigurationError("%s must be printable ASCII and not start with ':'" % what)


def document(namespace, dimensions, duration_ms, cold, init_ms, error_type, request_id, timestamp_ms):
    """One EMF document (a dict) for one invoke."""
    values = {"Duration": round(duration_ms, 3), "ColdStart": 1 if cold else 0, "Errors": 1 if error_type else 0}
    if cold and init_ms is not None:
        values["InitDuration"] = round(init_ms, 3)
    metrics = [{"Name": name, "Unit": unit} for name, unit in METRICS if name in values]
    doc = {
        "_aws": {
            "Timestamp": int(timestamp_ms),
            "CloudWatchMetrics": [{"Namespace": namespace, "Dimensions": [list(dimensions)], "Metrics": metrics}],
        }
    }
    doc.update(dimensions)
    doc.update(values)
    if error_type:
        doc["errorType"] = error_type
    if request_id:
        doc["requestId"] = request_id
    return doc


class EMF:
    """The plugin: init reads the configuration, wrap measures every invoke and writes its line."""

    def __init__(self, environ=None, clock=time.monotonic, wall=time.time):
        self.environ = environ
        self.clock, self.wall = clock, wall
        self.namespace, self.dimensions = DEFAULT_NAMESPACE, {}
        self.init_started = None
        self.init_ms = None
        self.cold = True
        self.streaming = False
        self.write_failed = False

    def init(self, handler, settings):
        self.namespace, self.dimensions = configuration(os.environ if self.environ is None else self.environ)
        self.init_started = settings.get("init_started")
        self.streaming = bool(settings.get("streaming"))
        # Provisioned concurrency initialised the environment ahead of time: its first invoke
        # is not a cold start for the caller (Powertools counts it the same way).
        self.cold = settings.get("initialization_type") != "provisioned-concurrency"

    def wrap(self, handler):
        # The runtime wraps last thing before its first request for an event: the init ends about now.
        if self.init_started is not None:
            self.init_ms = (self.clock() - self.init_started) * 1000

        def measured(event, context):
            cold, self.cold = self.cold, False
            started = self.clock()
            request_id = getattr(context, "aws_request_id", None)
            try:
                result = handler(event, context)
            except BaseException as exc:
                self.emit(self.document(started, cold, request_id, exc))
                raise
            # A streaming handler returns its chunks: the invoke lasts until the last one is out.
            if self.streaming and hasattr(result, "__anext__"):
                return self._through_async(result, started, cold, request_id)
            if self.streaming and hasattr(result, "__next__"):
                return self._through(result, started, cold, request_id)
            # One event loop for many invokes (SHIM_ASYNC_CONCURRENCY): the runtime awaits what we return.
            if hasattr(result, "__await__"):
                return self._awaited(result, started, cold, request_id)
            self.emit(self.document(started, cold, request_id, None))
            return result

        measured.__wrapped__ = handler
        return measured

    def _through(self, chunks, started, cold, request_id):
        failure = None
        try:
            yield from chunks
        except GeneratorExit:
            raise  # closed by the runtime: not the handler's error
        except BaseException as exc:
            failure = exc
            raise
        finally:
            self.emit(self.document(started, cold, request_id, failure))

    async def _awaited(self, coroutine, started, cold, request_id):
        failure = None
        try:
            return await coroutine
        except BaseException as exc:
            failure = exc
            raise
        finally:
            self.emit(self.document(started, cold, request_id, failure))

    async def _through_async(self, chunks, started, cold, request_id):
        failure = None
        try:
            async for chunk in chunks:
                yield chunk
        except GeneratorExit:
            raise
        except BaseException as exc:
            failure = exc
            raise
        finally:
            try:
                await chunks.aclose()  # when the runtime closed this one early: the handler's finally runs now
            finally:
                self.emit(self.document(started, cold, request_id, failure))

    def document(self, started, cold, request_id, failure):
        error_type = None
        if failure is not None:
            error_type = getattr(failure, "error_type", None) or type(failure).__name__
        return document(
            self.namespace,
            self.dimensions,
            (self.clock() - started) * 1000,
            cold,
            self.init_ms,
            error_type,
            request_id,
            self.wall() * 1000,
        )

    def emit(self, doc):
        # A metric that cannot be written must not fail the request it measures: said once on stderr.
        try:
            stream = sys.stdout
            stream.write(json.dumps(doc, separators=(",", ":")) + "\n")
            stream.flush()
        except Exception as exc:  # noqa: BLE001
            if not self.write_failed:
                self.write_failed = True
                sys.stderr.write("lambda-shim-emf: cannot write metrics to stdout: %s\n" % exc)


plugin = EMF()
