"""SnapStart through the real bootstrap: hooks around /restore/next, their errors, and restores
of one snapshot into forked children (shim.local.snapstart)."""

import json
import os
import sys

import pytest

from shim.local.function import Function
from shim.runtime import protocol

HANDLER = """
import os, random, sys
from snapshot_restore_py import register_after_restore, register_before_snapshot
import shim

RECORD = os.environ["RECORD"]

def note(line):
    with open(RECORD, "a") as f:
        f.write(line + "\\n")

register_before_snapshot(note, "before 1")
shim.register_before_snapshot(note, "before 2")

@register_before_snapshot
def before_3():
    note("before 3")

@register_after_restore
def after_1():
    note("after 1 %d" % os.getpid())

register_after_restore(lambda: note("after 2"))
shim.register_after_restore(note, "after 3")

if os.environ.get("FAIL") == "before":
    @register_before_snapshot
    def broken():
        raise ValueError("no snapshot today")
if os.environ.get("FAIL") == "exit":
    register_before_snapshot(sys.exit, 9)
if os.environ.get("FAIL") == "after":
    @register_after_restore
    def broken():
        raise KeyError("nothing to restore")

AT_INIT = random.random()

def Handle(event, context):
    if event.get("sleep"):
        import time
        time.sleep(event["sleep"])
    return {"at_init": AT_INIT, "now": random.random(), "pid": os.getpid()}
"""


@pytest.fixture
def function(make_function):
    return make_function({"handler.py": HANDLER})


def _lines(path):
    return path.read_text().splitlines() if path.exists() else []


def _start(start, function, record, **env):
    return start(function, env=dict(env, RECORD=str(record), AWS_LAMBDA_INITIALIZATION_TYPE="snap-start"), ready=False)


def test_hooks_run_in_the_official_order_each_in_its_phase(start, function, tmp_path):
    record = tmp_path / "record"
    env = _start(start, function, record)
    assert env.api.restores.wait_arrivals(1, 15), env.output()
    # At the snapshot point: only the before-snapshot hooks have run, newest registration first.
    assert _lines(record) == ["before 3", "before 2", "before 1"]
    assert [r.path for r in env.api.requests if r.path.startswith(protocol.API)] == [protocol.RESTORE_NEXT]
    env.api.restores.restore(fork=False)  # as Lambda does: the same process goes on
    assert env.wait_ready(15) is not None
    assert _lines(record)[3:] == ["after 1 %d" % _runtime_pid(env), "after 2", "after 3"]
    assert env.invoke({}, timeout=10).kind == "response"


def test_a_failing_before_snapshot_hook_is_an_init_error_and_exit_64(start, function, tmp_path):
    env = _start(start, function, tmp_path / "record", FAIL="before")
    assert env.process.wait(15) == 64
    posts = [r for r in env.api.requests if r.path == protocol.INIT_ERROR]
    assert len(posts) == 1
    assert posts[0].headers[protocol.ERROR_TYPE.lower()] == "Runtime.BeforeSnapshotError"
    body = json.loads(posts[0].body)
    assert body["errorType"] == "ValueError" and body["errorMessage"] == "no snapshot today"
    assert any("broken" in line for line in body["stackTrace"])
    assert protocol.RESTORE_NEXT not in [r.path for r in env.api.requests]
    assert _lines(tmp_path / "record") == []  # the failing hook ran first: it was registered last


def test_a_hook_that_calls_sys_exit_is_named_as_the_hook_not_the_handler(start, function, tmp_path):
    env = _start(start, function, tmp_path / "record", FAIL="exit")
    assert env.process.wait(15) == 64
    body = json.loads(next(r.body for r in env.api.requests if r.path == protocol.INIT_ERROR))
    assert body["errorType"] == "SystemExit"
    assert body["errorMessage"] == "A before-snapshot hook called sys.exit(9)"


def test_a_failing_after_restore_hook_goes_to_restore_error_and_exit_65(start, function, tmp_path):
    env = _start(start, function, tmp_path / "record", FAIL="after")
    assert env.api.restores.wait_arrivals(1, 15)
    env.api.restores.restore(fork=False)
    assert env.process.wait(15) == 65
    posts = [r for r in env.api.requests if r.path == protocol.RESTORE_ERROR]
    assert len(posts) == 1
    assert posts[0].headers[protocol.ERROR_TYPE.lower()] == "Runtime.AfterRestoreError"
    assert json.loads(posts[0].body)["errorType"] == "KeyError"
    assert protocol.NEXT not in [r.path for r in env.api.requests]


def test_a_failed_restore_next_is_a_before_snapshot_error(start, function, tmp_path):
    env = _start(start, function, tmp_path / "record")
    assert env.api.restores.wait_arrivals(1, 15)
    env.api.stop()  # the Runtime API goes away while the runtime waits for its restore
    assert env.process.wait(15) == 64


def test_every_restore_starts_from_the_same_snapshot_with_fresh_randomness(function, tmp_path):
    """Function restores into forked children: after the first restored environment times out,
    the next invoke restores the same snapshot again (same init-time value, new random stream)."""
    record = tmp_path / "record"
    fn = Function(str(function), timeout_s=1, snapstart=True, env={"RECORD": str(record)})
    try:
        first = fn.invoke({})
        assert first.kind == "response" and first.restore_ms is not None and first.init_ms is None
        assert "Restore Duration: " in first.report_line() and "Init Duration" not in first.report_line()
        timed_out = fn.invoke({"sleep": 5})
        assert timed_out.kind == "timeout"
        second = fn.invoke({})
        assert second.kind == "response" and second.restore_ms is not None
        assert fn.starts == 1  # one init, one snapshot, two restores
        assert second.payload["at_init"] == first.payload["at_init"]  # the same memory...
        assert second.payload["now"] != first.payload["now"]  # ...but reseeded
        assert second.payload["pid"] != first.payload["pid"]
        warm = fn.invoke({})
        assert warm.restore_ms is None and warm.init_ms is None
        assert [line for line in _lines(record) if line.startswith("before")] == ["before 3", "before 2", "before 1"]
        assert len([line for line in _lines(record) if line.startswith("after 1")]) == 2
    finally:
        fn.close()


def test_a_crashed_restored_environment_is_answered_and_the_snapshot_restored_again(make_function, tmp_path):
    function = make_function({"handler.py": HANDLER + "\ndef crash(event, context):\n    os._exit(9)\n"})
    fn = Function(str(function), "handler.crash", snapstart=True, env={"RECORD": str(tmp_path / "record")})
    try:
        lost = fn.invoke({})
        assert lost.kind == "lost" and lost.error_type == "Runtime.ExitError"
        assert "exit status 9" in lost.payload["errorMessage"]
        again = fn.invoke({})
        assert again.kind == "lost" and again.restore_ms is not None and fn.starts == 1
    finally:
        fn.close()


def test_without_snapshot_restore_py_installed_the_runtime_provides_it(tmp_path, start, function):
    """A zip without the package, on an interpreter without it (a custom runtime): the hooks still run."""
    from shim.pack.packer import extract, pack

    base = getattr(sys, "_base_executable", None) or sys.executable
    probe = os.system('"%s" -c "import snapshot_restore_py" 2>/dev/null' % base)
    if probe == 0:
        pytest.skip("the base interpreter has snapshot_restore_py installed")
    task = extract(pack(str(function), tmp_path / "f.zip", quiet=True).path, tmp_path / "task")
    record = tmp_path / "record"
    env = start(
        task,
        env={"RECORD": str(record), "AWS_LAMBDA_INITIALIZATION_TYPE": "snap-start", "SHIM_PYTHON": base},
        ready=False,
    )
    assert env.api.restores.wait_arrivals(1, 15), env.output()
    env.api.restores.restore(fork=False)
    assert env.wait_ready(15) is not None, env.output()
    assert _lines(record)[:3] == ["before 3", "before 2", "before 1"]
    assert _lines(record)[4:] == ["after 2", "after 3"]


def _runtime_pid(env):
    with open("/proc/%d/task/%d/children" % (env.process.pid, env.process.pid)) as f:
        return int(f.read().split()[0])
