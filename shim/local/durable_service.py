"""A local Lambda durable-execution service that runs a durable function through the real bootstrap.

Lambda runs a durable function (`@durable_execution`, PyPI aws-durable-execution-sdk-python) as
a series of ordinary invocations: each gets an envelope (DurableExecutionArn, CheckpointToken,
InitialExecutionState), the SDK checkpoints every operation through the Lambda APIs
CheckpointDurableExecution and GetDurableExecutionState, and the handler returns
{"Status": "SUCCEEDED" | "FAILED" | "PENDING", ...}. After PENDING (a wait, a retry delay, a
callback) the service invokes the function again and the SDK replays from the checkpoints.

The service side is not written here: the SDK's testing package
(aws-durable-execution-sdk-python-testing) has it, and this module wires it to our parts:

- its Executor, CheckpointProcessor, in-memory store, Scheduler and clocks (SkipClock skips
  waits and retry delays; RealClock keeps them): the replay rules, checkpoint validation,
  callbacks, timeouts and history;
- its web Router and endpoint handlers: the durable-execution API on HTTP (handle());
- an Invoker of ours (_ShimInvoker) in place of its boto3 one: each invocation goes to a
  shim Function (or shim serve's Pool) through the local Runtime API, in the same execution
  environment while it lives and a new one when it died, as Lambda does.

The function's own boto3 finds the API through AWS_ENDPOINT_URL_LAMBDA (function_env()).
Needs Python >= 3.11 and the `durable` extra; require() says so in one line otherwise.
"""

import json
import logging
import os
import sys
import threading
from urllib.parse import parse_qs, urlparse

from shim.local.durable_result import DurableResult
from shim.pack.errors import UsageError

API_PREFIX = "/2025-12-01/"  # every durable-execution route of the Lambda API
ARN_HEADER = "X-Amz-Durable-Execution-Arn"
NAME_HEADER = "X-Amz-Durable-Execution-Name"
DUMMY_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "shimlocal",
    "AWS_SECRET_ACCESS_KEY": "shimlocal",
    "AWS_SESSION_TOKEN": "shimlocal",
}
ACCOUNT_ID = "000000000000"  # the local Runtime API's function ARN uses it too
DEFAULT_EXECUTION_TIMEOUT_S = 24 * 3600


# The testing package logs each execution's end as a warning; with no handler set up, Python's last resort
# would print it on stderr, where shim invoke's output goes. Its records still reach handlers set up above.
logging.getLogger("aws_durable_execution_sdk_python_testing").addHandler(logging.NullHandler())


def require():
    """Import the testing package, or raise UsageError saying what is missing."""
    if sys.version_info < (3, 11):
        raise UsageError(
            "durable executions need Python 3.11 or later (the durable SDK's own requirement); "
            "this is %d.%d" % sys.version_info[:2]
        )
    try:
        import aws_durable_execution_sdk_python_testing  # noqa: F401
    except ImportError:
        raise UsageError("durable executions need the `durable` extra: pip install 'lambda-shim[durable]'") from None


def function_env(endpoint_url, region=None):
    """What a function's environment needs so its boto3 checkpoints here."""
    env = dict(DUMMY_CREDENTIALS, AWS_ENDPOINT_URL_LAMBDA=endpoint_url)
    if region:
        env["AWS_REGION"] = env["AWS_DEFAULT_REGION"] = region
    return env


def is_envelope(event):
    """Is this Invoke payload a durable invocation's envelope (to hand to the function as it is)?"""
    try:
        obj = json.loads(event)
    except (ValueError, TypeError):
        return False
    return isinstance(obj, dict) and "DurableExecutionArn" in obj and "CheckpointToken" in obj


class DurableService:
    """The durable-execution service for one function. invoke(payload_bytes, tenant_id=None) runs one
    invocation and returns its shim InvokeResult (Function.invoke or Pool.invoke).

    skip_time=True (the default) skips waits and retry delays; False keeps them. on_invocation(arn,
    result) sees every invocation's InvokeResult; on_callback(arn, callback_id) every callback created.
    """

    def __init__(
        self,
        invoke,
        *,
        function_name="function",
        region=None,
        skip_time=True,
        invocation_timeout_s=900,
        on_invocation=None,
        on_callback=None,
    ):
        require()
        from aws_durable_execution_sdk_python_testing.checkpoint.processor import CheckpointProcessor
        from aws_durable_execution_sdk_python_testing.clock import RealClock, SkipClock
        from aws_durable_execution_sdk_python_testing.scheduler import Scheduler
        from aws_durable_execution_sdk_python_testing.stores.memory import InMemoryExecutionStore
        from aws_durable_execution_sdk_python_testing.web.routes import Router
        from aws_durable_execution_sdk_python_testing.web.server import WebServer
        from aws_durable_execution_sdk_python_testing.worker.registry import ExecutionRegistry

        self.function_name = function_name
        # The local Runtime API's region (shim.local.emulator): the function ARN and the executions' agree.
        region = self.region = region or os.environ.get("AWS_REGION", "us-east-1")
        self.skip_time = skip_time
        self.on_invocation = on_invocation
        self.on_callback = on_callback
        self.invocations = {}  # execution ARN -> [InvokeResult]
        self._lock = threading.Lock()
        self.clock = SkipClock() if skip_time else RealClock()
        self.scheduler = Scheduler()
        self.scheduler.start()
        self.store = InMemoryExecutionStore()
        self.registry = ExecutionRegistry(self.store, self.scheduler)
        self.processor = CheckpointProcessor(store=self.store, scheduler=self.scheduler, clock=self.clock)
        self.invoker = _ShimInvoker(invoke, self._invoked)
        self.executor = _Executor(
            self,
            store=self.store,
            scheduler=self.scheduler,
            invoker=self.invoker,
            checkpoint_processor=self.processor,
            invocation_timeout_seconds=int(invocation_timeout_s) + 30,
            registry=self.registry,
            clock=self.clock,
            region=region,
        )
        if skip_time:
            # A failed invocation (a crash, a timeout) is retried after a back-off: skipped too.
            self.executor.RETRY_BACKOFF_SECONDS = 0
        self.processor.add_execution_observer(self.executor)
        self.processor.set_chained_invoke_preflight(self.executor.preflight_chained_invoke)
        self.router = Router()
        # The package's own table of API routes to handlers (WebServer builds it from .executor alone).
        self.handlers = WebServer._create_endpoint_handlers(self)

    # -- executions ---------------------------------------------------------------------------

    def start(self, event=b"{}", *, name=None, tenant_id=None, timeout_s=DEFAULT_EXECUTION_TIMEOUT_S):
        """Start an execution of the function with this event (bytes or a JSON-able object); its ARN."""
        import uuid

        from aws_durable_execution_sdk_python_testing.model import StartDurableExecutionInput

        if not isinstance(event, (bytes, str)):
            event = json.dumps(event)
        text = event.decode("utf-8") if isinstance(event, bytes) else event
        start = StartDurableExecutionInput(
            account_id=ACCOUNT_ID,
            function_name=self.function_name,
            function_qualifier="$LATEST",
            execution_name=name or str(uuid.uuid4()),
            execution_timeout_seconds=int(timeout_s),
            execution_retention_period_days=1,
            invocation_id=str(uuid.uuid4()),
            tenant_id=tenant_id,
            input=text,
        )
        return self.executor.start_execution(start).execution_arn

    def wait(self, arn, timeout_s=None):
        """Wait until the execution ends; False if it is still running after timeout_s."""
        return self.executor.wait_until_complete(arn, timeout_s)

    def result(self, arn):
        """The DurableResult of an execution that ended (see wait)."""
        from aws_durable_execution_sdk_python_testing.runner import DurableFunctionTestResult

        execution = self.store.load(arn)
        skipped = self.clock._skipped.total_seconds() if self.skip_time else 0.0
        with self._lock:
            invocations = list(self.invocations.get(arn, ()))
        return DurableResult(arn, DurableFunctionTestResult.create(execution=execution), invocations, skipped)

    def run(self, event=b"{}", *, tenant_id=None, timeout_s=DEFAULT_EXECUTION_TIMEOUT_S, name=None):
        """Start an execution and wait for its end: its DurableResult. TimeoutError after timeout_s."""
        arn = self.start(event, name=name, tenant_id=tenant_id, timeout_s=timeout_s)
        if not self.wait(arn, timeout_s):
            raise TimeoutError("the durable execution %s did not end within %s s" % (arn, timeout_s))
        return self.result(arn)

    def callback_ids(self, arn):
        """The ids of the execution's callbacks that are waiting for an answer."""
        from aws_durable_execution_sdk_python.lambda_service import OperationStatus, OperationType

        execution = self.store.load(arn)
        return [
            op.callback_details.callback_id
            for op in execution.operations
            if op.operation_type == OperationType.CALLBACK
            and op.status == OperationStatus.STARTED
            and op.callback_details is not None
        ]

    def send_callback_success(self, callback_id, result=b""):
        if not isinstance(result, bytes):
            result = json.dumps(result).encode("utf-8")
        self.executor.send_callback_success(callback_id=callback_id, result=result)

    def send_callback_failure(self, callback_id, error_type="Error", message=""):
        from aws_durable_execution_sdk_python.lambda_service import ErrorObject

        error = ErrorObject(message=message, type=error_type, data=None, stack_trace=None)
        self.executor.send_callback_failure(callback_id=callback_id, error=error)

    def send_callback_heartbeat(self, callback_id):
        self.executor.send_callback_heartbeat(callback_id=callback_id)

    def close(self):
        self.executor.shutdown()
        self.registry.shutdown()
        self.scheduler.stop()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _invoked(self, arn, result):
        with self._lock:
            self.invocations.setdefault(arn, []).append(result)
        if self.on_invocation is not None:
            self.on_invocation(arn, result)

    # -- the HTTP API ---------------------------------------------------------------------------

    def handle(self, method, target, headers, body):
        """One request of the durable-execution API: (status, headers, body bytes)."""
        from aws_durable_execution_sdk_python_testing.exceptions import (
            AwsApiException,
            ServiceException,
            UnknownRouteError,
        )
        from aws_durable_execution_sdk_python_testing.web.models import HTTPRequest, HTTPResponse
        from aws_durable_execution_sdk_python_testing.web.routes import BytesPayloadRoute

        path = target.split("?", 1)[0]
        try:
            route = self.router.find_route(path, method)
            handler = self.handlers.get(type(route))
            if handler is None:
                raise UnknownRouteError(method, path)
            query = parse_qs(urlparse(target).query)
            make = HTTPRequest.from_raw_bytes if isinstance(route, BytesPayloadRoute) else HTTPRequest.from_bytes
            request = make(body_bytes=body, method=method, path=route, headers=dict(headers), query_params=query)
            response = handler.handle(route, request)
        except Exception as exc:  # noqa: BLE001 - answered as the API answers: an error object
            error = exc if isinstance(exc, AwsApiException) else ServiceException(str(exc))
            response = HTTPResponse.create_error_from_exception(error)
        return response.status_code, dict(response.headers), response.body_to_bytes() if response.body else b""


def _invoker_base():
    from aws_durable_execution_sdk_python_testing.invoker import LambdaInvoker

    return LambdaInvoker


def _executor_base():
    from aws_durable_execution_sdk_python_testing.executor import Executor

    return Executor


class _ShimInvoker:
    """The testing package's LambdaInvoker (its envelope: create_invocation_input), with the Invoke
    itself sent to a shim Function instead of a boto3 client. Made on first use (see __new__)."""

    def __new__(cls, invoke, on_result):
        from aws_durable_execution_sdk_python_testing.exceptions import DurableFunctionsTestError
        from aws_durable_execution_sdk_python_testing.invoker import InvokeResponse

        class ShimInvoker(_invoker_base()):
            def __init__(self):
                super().__init__(lambda_client=None)

            def invoke(
                self, function_name, input, endpoint_url=None, tenant_id=None, account_id=None, region_name=None
            ):
                payload = json.dumps(input.to_json_dict()).encode("utf-8")
                options = {"tenant_id": tenant_id} if tenant_id is not None else {}
                result = invoke(payload, **options)
                on_result(input.durable_execution_arn, result)
                if not result.ok:  # an error, a timeout, a crash: the service invokes it again
                    raise DurableFunctionsTestError(
                        "invocation %s failed: %s %s"
                        % (result.request_id, result.error_type, result.body[:500].decode("utf-8", "replace"))
                    )
                return InvokeResponse.from_payload(result.body, result.request_id)

            def update_endpoint(self, endpoint_url, region_name):
                pass

            def inherit_endpoint(self, child_execution_arn, parent_execution_arn):
                pass

        return ShimInvoker()


class _Executor:
    """The testing package's Executor, telling the service about each callback created."""

    def __new__(cls, service, **kwargs):
        class Executor(_executor_base()):
            def on_callback_created(self, execution_arn, operation_id, callback_options, callback_token):
                super().on_callback_created(execution_arn, operation_id, callback_options, callback_token)
                if service.on_callback is not None:
                    service.on_callback(execution_arn, callback_token.to_str())

        return Executor(**kwargs)
