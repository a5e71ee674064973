"""async def handlers, through the real bootstrap."""

import json

import pytest

HANDLER = """
import asyncio, sys, structlog

state = {"loop": None, "calls": 0}
log = structlog.get_logger()

async def Handle(event, context):
    await asyncio.sleep(0)
    loop = asyncio.get_running_loop()
    same = state["loop"] is loop
    state["loop"] = loop
    state["calls"] += 1
    if event == "raise":
        await fail()
    if event == "exit":
        sys.exit(4)
    log.info("async hello")
    return {"calls": state["calls"], "same_loop": same, "requestId": context.aws_request_id}

async def fail():
    raise ValueError("async failure")

def sync(event, context):
    return "sync"
"""


@pytest.fixture
def function(make_function):
    return make_function({"handler.py": HANDLER})


def test_async_handler_runs_on_one_loop_across_invokes(start, function):
    env = start(function, env={"AWS_LAMBDA_LOG_FORMAT": "JSON"})
    mark = env.mark()
    first = env.invoke({}, timeout=10)
    second = env.invoke({}, timeout=10)
    assert first.payload == {"calls": 1, "same_loop": False, "requestId": first.request_id}
    assert second.payload == {"calls": 2, "same_loop": True, "requestId": second.request_id}
    env.drain()
    records = [json.loads(line) for line in env.since(mark, "stdout").split("\n") if line.startswith("{")]
    # The invoke's context reaches into the task: each line carries its own request id.
    assert [r["requestId"] for r in records] == [first.request_id, second.request_id]


def test_async_errors_and_panics_are_answered(start, function):
    env = start(function)
    failed = env.invoke("raise", timeout=10)
    assert failed.error_type == "ValueError"
    trace = failed.payload["stackTrace"]
    # The user's frames only: no asyncio or runtime frames in front of them.
    assert "in Handle" in trace[0] and "in fail" in trace[-1] and "asyncio" not in "".join(trace)
    exited = env.invoke("exit", timeout=10)
    assert exited.error_type == "SystemExit" and exited.payload["errorMessage"] == "Handler called sys.exit(4)"
    assert env.invoke({}, timeout=10).payload["calls"] == 3  # the loop survived both


def test_sync_handlers_do_not_load_asyncio(start, function):
    env = start(function, "handler.sync")
    assert env.invoke({}, timeout=10).payload == "sync"
    # asyncio came in only through structlog's import in the handler module, so check the unit instead:
    from shim.runtime import aio

    def plain(event, context):
        return 1

    async def coroutine(event, context):
        return 1

    assert aio.adapt(plain) is plain and aio.is_async(coroutine) and not aio.is_async(plain)
