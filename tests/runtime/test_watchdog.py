"""The timeout warning (SHIM_TIMEOUT_WARNING_MS): one WARNING record before the deadline, with the request
id, the time left and where the handler is; nothing for an invoke that ends in time; no thread per invoke."""

import json
import os
import time


HANDLER = """\
import asyncio, os, threading, time

def Handle(event, context):
    if event.get("helper"):
        threading.Thread(target=background, name="poller", daemon=True).start()
    if event.get("stuck"):
        return wait_on_the_database(event["stuck"])
    return "quick"

def wait_on_the_database(seconds):
    time.sleep(seconds)  # the line the warning must point at
    return "late"

def background():
    while True:
        time.sleep(0.05)

async def Async(event, context):
    await fetch_slowly(event["stuck"])
    return "late"

async def fetch_slowly(seconds):
    await asyncio.sleep(seconds)  # where the async handler awaits
"""


def deadline_in(seconds):
    return int((time.time() + seconds) * 1000)


def warnings(env, mark=0):
    env.drain()
    return [line for line in env.since(mark, "stdout").split("\n") if "about to time out" in line]


def threads_of(env):
    """The runtime process's thread count (the bootstrap's Python child)."""
    with open("/proc/%d/task/%d/children" % (env.process.pid, env.process.pid)) as f:
        child = int(f.read().split()[0])
    return len(os.listdir("/proc/%d/task" % child))


def test_json_warning_has_the_request_time_left_and_the_stack(start, make_function):
    env = start(
        make_function({"handler.py": HANDLER}), env={"AWS_LAMBDA_LOG_FORMAT": "JSON", "SHIM_TIMEOUT_WARNING_MS": "600"}
    )
    result = env.invoke({"stuck": 1.2, "helper": True}, timeout=30, deadline_ms=deadline_in(1.0), tenant_id="t-1")
    assert result.payload == "late"  # nothing kills it here (the local tools do, see test_invoke_command)
    [line] = warnings(env)
    record = json.loads(line)
    assert record["level"] == "WARNING" and record["requestId"] == result.request_id
    assert record["tenantId"] == "t-1"
    assert 0 <= record["remainingTimeMs"] <= 600
    frames = [(f["function"], f["code"]) for f in record["stack"]]
    assert frames[-2:] == [
        ("Handle", 'return wait_on_the_database(event["stuck"])'),
        ("wait_on_the_database", "time.sleep(seconds)  # the line the warning must point at"),
    ]
    assert all(f["file"].endswith("handler.py") and f["line"] > 0 for f in record["stack"])
    assert [t for t in record["threads"] if t.startswith("poller: ") and "in background" in t]
    assert record["location"].endswith("handler.py:wait_on_the_database:11")


def test_text_warning_is_one_line_with_the_stack_folded_in(start, make_function):
    env = start(make_function({"handler.py": HANDLER}), env={"SHIM_TIMEOUT_WARNING_MS": "600"})
    result = env.invoke({"stuck": 1.2}, timeout=30, deadline_ms=deadline_in(1.0))
    [line] = warnings(env)
    level, _, request_id, message = line.split("\t", 3)
    assert level == "[WARNING]" and request_id == result.request_id
    assert "ms left, the handler is at " in message and "in wait_on_the_database" in message
    assert '\r  File "' in message and "\r    time.sleep(seconds)" in message


def test_default_is_a_tenth_of_the_time_left(start, make_function):
    env = start(make_function({"handler.py": HANDLER}), env={"AWS_LAMBDA_LOG_FORMAT": "JSON"})
    env.invoke({"stuck": 1.6}, timeout=30, deadline_ms=deadline_in(1.0))
    [line] = warnings(env)
    assert 0 <= json.loads(line)["remainingTimeMs"] <= 100


def test_an_async_handler_shows_where_it_awaits(start, make_function):
    env = start(
        make_function({"handler.py": HANDLER}),
        "handler.Async",
        env={"AWS_LAMBDA_LOG_FORMAT": "JSON", "SHIM_TIMEOUT_WARNING_MS": "600"},
    )
    env.invoke({"stuck": 1.2}, timeout=30, deadline_ms=deadline_in(1.0))
    [line] = warnings(env)
    functions = [f["function"] for f in json.loads(line)["stack"]]
    assert functions[:2] == ["Async", "fetch_slowly"]


def test_nothing_when_in_time_and_nothing_started_per_invoke(start, make_function):
    function = make_function({"handler.py": HANDLER})
    on, off = (start(function, env={"SHIM_TIMEOUT_WARNING_MS": setting}) for setting in ("", "0"))
    before = {env: threads_of(env) for env in (on, off)}
    assert before[on] == before[off] + 1  # the watcher: one thread, for the environment's life
    for _ in range(5):
        for env in (on, off):
            assert env.invoke({}, timeout=10, deadline_ms=deadline_in(1.0)).payload == "quick"
    time.sleep(1.2)  # past every deadline: an armed warning would have fired by now
    for env in (on, off):
        assert warnings(env) == []
        assert threads_of(env) == before[env]


def test_off_means_no_warning_even_at_the_deadline(start, make_function):
    env = start(make_function({"handler.py": HANDLER}), env={"SHIM_TIMEOUT_WARNING_MS": "0"})
    env.invoke({"stuck": 1.0}, timeout=30, deadline_ms=deadline_in(0.5))
    assert warnings(env) == []


def test_a_bad_setting_is_said_and_the_default_used(start, make_function):
    env = start(make_function({"handler.py": HANDLER}), env={"SHIM_TIMEOUT_WARNING_MS": "soon"})
    env.invoke({"stuck": 1.5}, timeout=30, deadline_ms=deadline_in(1.0))
    env.drain()
    assert "SHIM_TIMEOUT_WARNING_MS must be a whole number" in env.output("stdout")
    assert len(warnings(env)) == 1


def test_a_setting_longer_than_the_timeout_is_said_once_and_the_default_used(start, make_function):
    env = start(make_function({"handler.py": HANDLER}), env={"SHIM_TIMEOUT_WARNING_MS": "5000"})
    for _ in range(3):  # in time: as set, each would have been warned as it started
        assert env.invoke({}, timeout=10, deadline_ms=deadline_in(2.0)).payload == "quick"
    env.invoke({"stuck": 1.5}, timeout=30, deadline_ms=deadline_in(1.0))  # late: warned at the default
    env.drain()
    notes = [line for line in env.output("stdout").split("\n") if "is not less than the" in line]
    assert len(notes) == 1 and "SHIM_TIMEOUT_WARNING_MS=5000" in notes[0]
    assert len(warnings(env)) == 1
