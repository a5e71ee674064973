"""A durable function run locally: a shim Function, a DurableService and its Endpoint, together.

What `shim invoke --durable`, the pytest plugin's `durable_execution` fixture and the benchmark
use. The function runs through the real bootstrap in its execution environment; its boto3 is
pointed at the Endpoint (AWS_ENDPOINT_URL_LAMBDA, dummy credentials), where the service takes its
checkpoints and re-invokes it after each suspension.

    with DurableFunction("handlers", "durable.Handle") as fn:
        result = fn.run({"items": [1, 2, 3]})
        assert result.status == "SUCCEEDED" and result.result == {"total": 6}

A function run in place that does not ship the SDK itself gets this environment's copy (and its
boto3) on its path, as a layer would bring it (see shim.local.sandbox).
"""

import os
import time

from shim.local import durable_http, durable_service
from shim.local.function import Function

SDK = "aws-durable-execution-sdk-python"


def needs_sdk(task_root):
    """Does the function's own code lack the SDK (run in place), so that this environment's is added?"""
    return not os.path.isdir(os.path.join(str(task_root), "aws_durable_execution_sdk_python"))


class DurableFunction:
    """Function(task_root, handler, **function_options) run as a durable function.

    skip_time: skip waits and retry delays (the default). on_invocation(arn, InvokeResult) and
    on_callback(arn, callback_id) as in DurableService.
    """

    def __init__(
        self,
        task_root,
        handler="handler.Handle",
        *,
        skip_time=True,
        on_invocation=None,
        on_callback=None,
        **function_options,
    ):
        durable_service.require()
        function_options = dict(function_options)
        if needs_sdk(getattr(task_root, "path", task_root)):
            function_options["runtime_packages"] = tuple(function_options.get("runtime_packages", ())) + (SDK,)
        self.function = Function(task_root, handler, **function_options)
        self.service = durable_service.DurableService(
            self.function.invoke,
            function_name=self.function.function_name,
            skip_time=skip_time,
            invocation_timeout_s=self.function.timeout_s,
            on_invocation=on_invocation,
            on_callback=on_callback,
        )
        self.endpoint = durable_http.Endpoint(self.service).start()
        user_env = dict(self.function.env)
        self.function.env.update(durable_service.function_env(self.endpoint.url))
        self.function.env.update(user_env)  # what the caller set wins

    @property
    def url(self):
        return self.endpoint.url

    def run(self, event=None, *, tenant_id=None, timeout=300, name=None):
        """Start an execution and wait for its end: a DurableResult (status, result, error, operations)."""
        return self.service.run(b"{}" if event is None else event, tenant_id=tenant_id, timeout_s=timeout, name=name)

    def start(self, event=None, *, tenant_id=None, timeout=300, name=None):
        """Start an execution; its ARN (see wait, result, wait_for_callback)."""
        return self.service.start(b"{}" if event is None else event, name=name, tenant_id=tenant_id, timeout_s=timeout)

    def wait(self, arn, timeout=300):
        """The DurableResult once the execution ends; TimeoutError if it does not within timeout."""
        if not self.service.wait(arn, timeout):
            raise TimeoutError("the durable execution %s did not end within %s s" % (arn, timeout))
        return self.service.result(arn)

    def wait_for_callback(self, arn, timeout=60):
        """The id of a callback the execution waits on, once there is one."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ids = self.service.callback_ids(arn)
            if ids:
                return ids[0]
            time.sleep(0.05)
        raise TimeoutError("the durable execution %s created no callback within %s s" % (arn, timeout))

    def send_callback_success(self, callback_id, result=b""):
        self.service.send_callback_success(callback_id, result)

    def send_callback_failure(self, callback_id, error_type="Error", message=""):
        self.service.send_callback_failure(callback_id, error_type, message)

    def send_callback_heartbeat(self, callback_id):
        self.service.send_callback_heartbeat(callback_id)

    def close(self):
        self.service.close()
        self.endpoint.stop()
        self.function.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
