"""Durable handlers in the SDK's example shapes, one per test in tests/durable/test_durable.py.

Each runs twice there: through the real bootstrap under the local durable service, and in-process
under the SDK testing package's own runner; the results and operations must agree.
"""

import os

from aws_durable_execution_sdk_python import DurableContext, durable_execution, durable_step
from aws_durable_execution_sdk_python.config import CallbackConfig, Duration, StepConfig
from aws_durable_execution_sdk_python.retries import RetryStrategyConfig, create_retry_strategy


@durable_step
def add(step_context, a, b):
    return a + b


@durable_execution
def sequential(event, context: DurableContext):
    a = context.step(add(event["start"], 1), name="first")
    b = context.step(add(a, 10), name="second")
    c = context.step(add(b, 100), name="third")
    return {"total": c}


@durable_execution
def wait(event, context: DurableContext):
    a = context.step(add(1, 1), name="before")
    context.wait(Duration.from_hours(1), name="an-hour")
    b = context.step(add(a, 1), name="after")
    return {"value": b}


def flaky(step_context):
    if step_context.attempt < 3:
        raise ConnectionError("attempt %d failed" % step_context.attempt)
    return "ok on attempt %d" % step_context.attempt


@durable_execution
def retry(event, context: DurableContext):
    strategy = create_retry_strategy(RetryStrategyConfig(max_attempts=3, initial_delay=Duration.from_seconds(2)))
    return context.step(flaky, name="flaky", config=StepConfig(retry_strategy=strategy))


def square(context, item, index, items):
    return context.step(add(item * item, 0), name="square-%d" % index)


@durable_execution
def map_items(event, context: DurableContext):
    squares = context.map(event["items"], square, name="squares")
    return {"squares": squares.get_results()}


@durable_execution
def parallel(event, context: DurableContext):
    branches = [lambda ctx: ctx.step(add(1, 2), name="left"), lambda ctx: ctx.step(add(3, 4), name="right")]
    return {"branches": context.parallel(branches, name="both").get_results()}


def child(ctx: DurableContext):
    x = ctx.step(add(2, 3), name="inner-step")
    ctx.wait(Duration.from_seconds(30), name="inner-wait")
    return x * 2


@durable_execution
def child_context(event, context: DurableContext):
    return {"child": context.run_in_child_context(child, name="child")}


@durable_execution
def callback(event, context: DurableContext):
    cb = context.create_callback(name="approval", config=CallbackConfig(timeout=Duration.from_minutes(5)))
    return {"approved": cb.result()}


def declined(step_context):
    raise ValueError("card declined")


@durable_execution
def failing(event, context: DurableContext):
    context.step(add(1, 1), name="reserve")
    once = create_retry_strategy(RetryStrategyConfig(max_attempts=1))
    return context.step(declined, name="charge", config=StepConfig(retry_strategy=once))


def _mark(path, text):
    with open(path, "a") as f:
        f.write(text + "\n")


@durable_execution
def crashing(event, context: DurableContext):
    """The runtime dies in the middle of step two, the first time it runs (os._exit)."""
    where = event["dir"]

    def one(step_context):
        _mark(os.path.join(where, "one"), str(os.getpid()))
        return 1

    def two(step_context):
        _mark(os.path.join(where, "two"), str(os.getpid()))
        if not os.path.exists(os.path.join(where, "crashed")):
            _mark(os.path.join(where, "crashed"), "")
            os._exit(1)
        return 2

    total = context.step(one, name="one") + context.step(two, name="two")
    return {"total": total, "pid": os.getpid()}


@durable_execution
def callback_timeout(event, context: DurableContext):
    cb = context.create_callback(name="too-late", config=CallbackConfig(timeout=Duration.from_seconds(2)))
    try:
        return {"approved": cb.result()}
    except Exception as exc:  # noqa: BLE001 - the SDK's CallbackError: nobody answered within the callback's timeout
        return {"timed_out": type(exc).__name__}
