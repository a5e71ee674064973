"""Durable functions through the real bootstrap, against the SDK testing package's in-process runner.

Every shape runs twice: under the local durable service (shim.local.durable_service), the function
in its own execution environment re-invoked after each suspension, and in-process under the
testing package's DurableFunctionTestRunner. The final result and the operation list must agree.
"""

import dataclasses
import importlib.util
import json
import os
import sys

import pytest

# Found, not imported: `make test` collects this file in every pytest-xdist worker only to leave it out.
if importlib.util.find_spec("aws_durable_execution_sdk_python_testing") is None:
    pytest.skip("needs Python >= 3.11 and the durable SDK", allow_module_level=True)

# The slow tier (`make test-slow`, and CI): real installs and whole executions, many seconds each.
pytestmark = pytest.mark.slow

FN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fn")
sys.path.insert(0, FN)


def shape(name):
    """The handler `name` of fn/shapes.py (imported as a test runs: it imports the SDK)."""
    import shapes

    return getattr(shapes, name)


# Differ between two runs of one execution by nature: when things happened, and the callback's token
# (it names the execution's ARN). A stack trace names where the SDK is installed.
_VOLATILE = (
    "start_timestamp",
    "end_timestamp",
    "scheduled_end_timestamp",
    "next_attempt_timestamp",
    "callback_id",
    "stack_trace",
)


def describe(value):
    """Operations (the testing package's dataclasses) as plain data, without what differs by nature."""
    if dataclasses.is_dataclass(value):
        return {f.name: describe(getattr(value, f.name)) for f in dataclasses.fields(value) if f.name not in _VOLATILE}
    if isinstance(value, (list, tuple)):
        return [describe(v) for v in value]
    if hasattr(value, "value") and type(value).__module__.startswith("aws_durable"):
        return value.value  # an enum
    return value


def in_process(handler, event, callback_result=None):
    from aws_durable_execution_sdk_python_testing.runner import DurableFunctionTestRunner

    with DurableFunctionTestRunner(handler=handler) as runner:
        if callback_result is None:
            return runner.run(input=json.dumps(event), execution_timeout=60)
        arn = runner.run_async(input=json.dumps(event), execution_timeout=60)
        runner.send_callback_success(runner.wait_for_callback(arn, timeout=30), callback_result)
        return runner.wait_for_result(arn, timeout=60)


def assert_same(local, expected):
    assert local.status == expected.execution_status.value
    assert local.test_result.result == expected.result
    assert describe(local.test_result.error) == describe(expected.error)
    assert describe(local.operations) == describe(expected.operations)


SHAPES = [
    # handler, event, expected result, invocations at least
    ("sequential", {"start": 1}, {"total": 112}, 1),
    ("wait", {}, {"value": 3}, 2),
    ("retry", {}, "ok on attempt 3", 3),
    ("map_items", {"items": [1, 2, 3]}, {"squares": [1, 4, 9]}, 1),
    ("parallel", {}, {"branches": [3, 7]}, 1),
    ("child_context", {}, {"child": 10}, 2),
]


@pytest.mark.parametrize("name,event,expected,invocations", SHAPES, ids=[s[0] for s in SHAPES])
def test_shape_matches_the_in_process_runner(durable_execution, name, event, expected, invocations):
    fn = durable_execution(FN, "shapes.%s" % name, timeout=30)
    local = fn.run(event, timeout=120)
    assert (local.status, local.result) == ("SUCCEEDED", expected), local.error
    assert len(local.invocations) >= invocations
    assert all(result.ok for result in local.invocations)
    assert local.replays == len(local.invocations) - 1
    assert_same(local, in_process(shape(name), event))


def test_a_wait_is_skipped_and_replayed_in_the_same_environment(durable_execution):
    fn = durable_execution(FN, "shapes.wait", timeout=30)
    local = fn.run({}, timeout=120)
    assert local.skipped_s >= 3600 - 5
    first, *rest = local.invocations
    assert first.cold and rest and not any(result.cold for result in rest)  # warm: the same environment
    assert fn.function.starts == 1
    wait_op = local.test_result.get_wait("an-hour")
    assert (wait_op.end_timestamp - wait_op.start_timestamp).total_seconds() >= 3600 - 5


def test_a_retried_step_records_its_attempts(durable_execution):
    local = durable_execution(FN, "shapes.retry", timeout=30).run({}, timeout=120)
    assert local.test_result.get_step("flaky").attempt == 3
    assert len(local.invocations) == 3  # each retry delay suspends the execution: one invocation per attempt


def test_a_callback_completed_from_the_test(durable_execution):
    fn = durable_execution(FN, "shapes.callback", timeout=30)
    arn = fn.start({})
    callback_id = fn.wait_for_callback(arn)
    fn.send_callback_success(callback_id, json.dumps({"by": "tester"}).encode())
    local = fn.wait(arn, timeout=60)
    assert (local.status, local.result) == ("SUCCEEDED", {"approved": '{"by": "tester"}'})
    assert_same(local, in_process(shape("callback"), {}, callback_result=json.dumps({"by": "tester"}).encode()))


def test_a_failing_execution_reports_the_sdks_error_and_the_users(durable_execution):
    local = durable_execution(FN, "shapes.failing", timeout=30).run({}, timeout=120)
    assert local.status == "FAILED" and local.result is None
    assert local.error["ErrorType"].endswith("StepError") and local.error["ErrorMessage"] == "card declined"
    [(op, error)] = local.failed_operations()
    assert (op.name, error["ErrorType"], error["ErrorMessage"]) == ("charge", "ValueError", "card declined")
    assert_same(local, in_process(shape("failing"), {}))


def test_a_runtime_killed_mid_step_resumes_from_its_last_checkpoint_in_a_new_environment(durable_execution, tmp_path):
    fn = durable_execution(FN, "shapes.crashing", timeout=30)
    local = fn.run({"dir": str(tmp_path)}, timeout=120)
    assert local.status == "SUCCEEDED" and local.result["total"] == 3
    crashed, resumed = local.invocations[0], local.invocations[-1]
    assert crashed.kind == "lost" and crashed.error_type == "Runtime.ExitError"
    assert resumed.ok and resumed.cold and fn.function.starts == 2  # a new execution environment
    one = (tmp_path / "one").read_text().split()
    two = (tmp_path / "two").read_text().split()
    assert len(one) == 1  # step one was checkpointed before the crash: replayed, not run again
    assert len(two) == 2 and two[0] != two[1] == str(local.result["pid"])  # step two ran again, in the new process
    assert local.test_result.get_step("one").attempt == 1


def test_a_callback_nobody_answers_times_out_after_its_own_timeout(durable_execution):
    fn = durable_execution(FN, "shapes.callback_timeout", timeout=30)
    local = fn.run({}, timeout=60)  # waits and retries are skipped; a callback's timeout is not
    assert local.status == "SUCCEEDED" and local.result["timed_out"].startswith("Callback"), local.result
    assert local.test_result.get_callback("too-late").status.value == "TIMED_OUT"
    assert_same(local, in_process(shape("callback_timeout"), {}))
