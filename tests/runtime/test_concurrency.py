"""Lambda Managed Instances (AWS_LAMBDA_MAX_CONCURRENCY) through the real bootstrap: overlap, exactly
once, per-request logs, dying workers, SIGTERM, the telemetry socket, and the async single process."""

import json
import signal
import socket
import threading
import time

import pytest

from shim.runtime import protocol
from support import alive as _alive

HANDLER = """
import asyncio, logging, os, sys, time
import shim

RECORD = os.environ.get("RECORD")

def note(line):
    if RECORD:
        with open(RECORD, "a") as f:
            f.write(line + "\\n")

note("init %d" % os.getpid())
log = logging.getLogger("handler")

if os.environ.get("CALLBACKS"):
    shim.on_shutdown(lambda: note("callback %d" % os.getpid()))

if os.environ.get("CONNECT_AT_INIT"):
    import socket
    _kept = socket.create_connection(("127.0.0.1", int(os.environ["CONNECT_AT_INIT"])))

if os.environ.get("SIGTERM_WHEN"):  # a thread of the function's takes SIGTERM once this file exists
    import signal, threading

    def _sigterm_when():
        while not os.path.exists(os.environ["SIGTERM_WHEN"]):
            time.sleep(0.01)
        signal.pthread_kill(threading.get_ident(), signal.SIGTERM)
    threading.Thread(target=_sigterm_when, daemon=True).start()

if os.environ.get("SIGTERM_AT_FORK"):  # each worker has a SIGTERM forwarded to it before it can take one
    import signal

    def _at_fork():
        os.kill(os.getppid(), signal.SIGTERM)  # blocked there until every worker exists
        time.sleep(0.3)  # still blocked here: the supervisor forwards it meanwhile
    os.register_at_fork(after_in_child=_at_fork)

def Handle(event, context):
    started = time.time()
    log.warning("marker %s", event.get("marker"))
    if event.get("exit") is not None:
        os._exit(event["exit"])
    if event.get("flag"):
        open(event["flag"] + ".%s" % context.aws_request_id, "w").close()
    time.sleep(event.get("wait", 0))
    return {"pid": os.getpid(), "start": started, "end": time.time(), "request": context.aws_request_id,
            "trace": os.environ.get("_X_AMZN_TRACE_ID")}

async def AsyncHandle(event, context):
    started = time.time()
    log.warning("marker %s", event.get("marker"))
    if event.get("flag"):
        open(event["flag"] + ".%s" % context.aws_request_id, "w").close()
    if event.get("sigterm_from_executor"):  # not awaited: it fires once the loop is idle
        import signal, threading

        def later():
            time.sleep(event["sigterm_from_executor"])
            signal.pthread_kill(threading.get_ident(), signal.SIGTERM)
            # Its return would wake the loop: it waits (up to 5 s) for the shutdown callback instead.
            deadline = time.time() + 5
            while time.time() < deadline and "callback" not in open(RECORD).read():
                time.sleep(0.01)
            note("executor done")
        asyncio.get_running_loop().run_in_executor(None, later)
    await asyncio.sleep(event.get("wait", 0))
    return {"pid": os.getpid(), "start": started, "end": time.time(), "request": context.aws_request_id}
"""

N = 4


@pytest.fixture
def function(make_function):
    return make_function({"handler.py": HANDLER})


@pytest.fixture
def run(start, function, tmp_path):
    def run_it(handler="handler.Handle", count=N, mode=None, **env):
        env = dict(env, RECORD=str(tmp_path / "record"), AWS_LAMBDA_MAX_CONCURRENCY=str(count))
        # A budget for the shutdown callbacks far above the 300 ms default: past it the supervisor SIGKILLs a
        # worker, which on a busy machine may not have been scheduled yet; these tests are about the forwarding.
        env.setdefault("SHIM_SHUTDOWN_TIMEOUT_MS", "5000")
        if mode == "fork":
            env["SHIM_FORK_AFTER_INIT"] = "1"
        elif mode == "async":
            env["SHIM_ASYNC_CONCURRENCY"] = "1"
        environment = start(function, handler, env=env)
        environment.record = tmp_path / "record"
        return environment

    return run_it


def _lines(path):
    return path.read_text().splitlines() if path.exists() else []


def _overlapping(env, count, wait=0.5, **event):
    """Submit `count` events at once; their answers, after checking each was answered exactly once."""
    pending = [env.api.submit(dict(event, wait=wait, marker=i)) for i in range(count)]
    answers = [p.wait(30) for p in pending]
    for p in pending:
        assert len(env.api.answers(p.request_id, accepted_only=True)) == 1
    return answers


def _assert_overlap(answers):
    bodies = [a.payload for a in answers]
    assert all(a.kind == "response" for a in answers), [a.body for a in answers]
    # Real overlap, by the handlers' own clocks: every one started before any one finished.
    assert max(b["start"] for b in bodies) < min(b["end"] for b in bodies)
    assert sorted(b["request"] for b in bodies) == sorted(a.request_id for a in answers)


@pytest.mark.parametrize("mode", ["init per worker", "fork"])
def test_n_invokes_overlap_in_n_workers_each_answered_once(run, mode):
    env = run(mode=mode)
    answers = _overlapping(env, N)
    _assert_overlap(answers)
    assert len({a.payload["pid"] for a in answers}) == N
    inits = [line for line in _lines(env.record) if line.startswith("init")]
    # AWS's model: every worker runs its own init; the opt-in forks after one.
    assert len(inits) == (1 if mode == "fork" else N)
    again = _overlapping(env, N, wait=0)
    assert all(a.kind == "response" for a in again)


def test_the_async_mode_overlaps_n_invokes_in_one_process(run):
    env = run("handler.AsyncHandle", mode="async")
    answers = _overlapping(env, N)
    _assert_overlap(answers)
    assert len({a.payload["pid"] for a in answers}) == 1
    assert len([line for line in _lines(env.record) if line.startswith("init")]) == 1
    polls = [r for r in env.api.requests if r.path == protocol.NEXT]
    assert len(polls) >= N


@pytest.mark.parametrize("mode", [None, "async"])
def test_every_log_line_carries_its_own_requests_id_and_trace_id(run, mode):
    env = run("handler.AsyncHandle" if mode else "handler.Handle", mode=mode)
    traces = ["Root=1-00000000-%024d;Sampled=1" % i for i in range(N)]
    pending = [env.api.submit({"wait": 0.3, "marker": i}, trace_id=traces[i]) for i in range(N)]
    answers = [p.wait(30) for p in pending]
    env.drain()
    records = [json.loads(line) for line in env.output("stdout").splitlines() if line.startswith('{"timestamp"')]
    markers = {r["message"]: r for r in records if r.get("logger") == "handler"}
    assert len(markers) == N
    for i, p in enumerate(pending):
        record = markers["marker %d" % i]
        assert record["requestId"] == p.request_id
        assert record["xrayTraceId"] == traces[i]
        if mode is None:  # one process per request: the environment variable is per invoke too
            assert answers[i].payload["trace"] == traces[i]


def test_a_worker_that_dies_mid_invoke_is_answered_and_the_others_go_on(run):
    env = run(count=2)
    lost = env.invoke({"exit": 7}, timeout=20)
    assert lost.kind == "error" and lost.error_type == "Runtime.ExitError"
    assert lost.payload["errorMessage"] == "Runtime exited with exit status 7 during the invoke"
    assert len(env.api.answers(lost.request_id, accepted_only=True)) == 1
    # As AWS documents: the environment goes on with the remaining worker.
    for _ in range(3):
        assert env.invoke({}, timeout=20).kind == "response"
    assert env.returncode is None
    env.join_readers(0.1)
    assert "1 of 2 workers remain" in env.output()
    # When the last one dies, the runtime exits (and Lambda replaces the environment).
    last = env.invoke({"exit": 3}, timeout=20)
    assert last.error_type == "Runtime.ExitError"
    assert env.process.wait(20) == 1


def test_sigterm_reaches_every_worker_in_flight_invokes_are_answered_and_none_is_left(run, tmp_path):
    env = run(CALLBACKS="1")
    flag = tmp_path / "started"
    pending = [env.api.submit({"wait": 30, "flag": str(flag)}) for _ in range(N)]
    deadline = time.monotonic() + 20
    while len(list(tmp_path.glob("started.*"))) < N and time.monotonic() < deadline:
        time.sleep(0.01)
    workers = _children(_children(env.process.pid)[0])
    assert len(workers) == N
    env.process.send_signal(signal.SIGTERM)
    for p in pending:
        answer = p.wait(10)
        assert answer.kind == "error" and answer.payload["errorMessage"] == "Handler was interrupted by SIGTERM"
        assert len(env.api.answers(p.request_id, accepted_only=True)) == 1
    assert env.process.wait(10) == 0
    assert sorted(line for line in _lines(env.record) if line.startswith("callback")) == sorted(
        "callback %d" % pid for pid in workers
    )
    assert not [pid for pid in workers if _alive(pid)]
    # One internal extension for the environment, registered by the supervisor before any /next.
    paths = [r.path for r in env.api.requests]
    assert paths.count(protocol.EXTENSION_REGISTER) == 1
    assert paths.index(protocol.EXTENSION_REGISTER) < paths.index(protocol.NEXT)


def test_sigterm_in_the_async_mode_answers_every_task_in_flight(run, tmp_path):
    env = run("handler.AsyncHandle", mode="async", CALLBACKS="1")
    flag = tmp_path / "started"
    pending = [env.api.submit({"wait": 30, "flag": str(flag)}) for _ in range(N)]
    deadline = time.monotonic() + 20
    while len(list(tmp_path.glob("started.*"))) < N and time.monotonic() < deadline:
        time.sleep(0.01)
    env.process.send_signal(signal.SIGTERM)
    for p in pending:
        answer = p.wait(10)
        assert answer.kind == "error" and answer.payload["errorMessage"] == "Handler was interrupted by SIGTERM"
    assert env.process.wait(10) == 0
    assert len([line for line in _lines(env.record) if line.startswith("callback")]) == 1


def test_a_sigterm_taken_by_a_thread_of_the_supervisor_still_stops_every_worker(run, tmp_path):
    """With SHIM_FORK_AFTER_INIT the supervisor imported the function, and keeps the threads its
    import started. One that takes SIGTERM only sets the interpreter's flag: the supervisor, waiting
    for its children, must wake and forward it anyway (as for a signal that lands just before the wait)."""
    trigger = tmp_path / "sigterm-now"
    env = run(mode="fork", count=2, CALLBACKS="1", SIGTERM_WHEN=str(trigger))
    assert env.invoke({}, timeout=10).kind == "response"
    trigger.touch()
    assert env.process.wait(10) == 0
    callbacks = [line for line in _lines(env.record) if line.startswith("callback")]
    assert len(callbacks) == 2, env.output() + str(_lines(env.record))


def test_a_sigterm_forwarded_before_a_worker_takes_signals_stops_it_cleanly(start, function, tmp_path):
    """A worker takes the signals forwarded to it as it unblocks them, before its first line: it stops as in an
    init (its callbacks, a clean exit) rather than failing with a traceback."""
    record = tmp_path / "record"
    env = start(
        function,
        ready=False,
        env={
            "AWS_LAMBDA_MAX_CONCURRENCY": "2",
            "SHIM_FORK_AFTER_INIT": "1",
            "CALLBACKS": "1",
            "SIGTERM_AT_FORK": "1",
            "RECORD": str(record),
            "SHIM_SHUTDOWN_TIMEOUT_MS": "5000",
        },
    )
    assert env.process.wait(10) == 0, env.output()
    assert "Traceback" not in env.output()
    assert len([line for line in _lines(record) if line.startswith("callback")]) == 2


def test_a_sigterm_taken_by_an_executor_thread_stops_the_idle_async_mode(run):
    env = run("handler.AsyncHandle", mode="async", count=2, CALLBACKS="1")
    assert env.invoke({"sigterm_from_executor": 0.3}, timeout=10).kind == "response"
    assert env.process.wait(10) == 0
    lines = [line.split()[0] for line in _lines(env.record) if not line.startswith("init")]
    assert lines == ["callback", "executor"]  # stopped while the thread still ran, not when it returned


def test_the_async_mode_refuses_a_sync_handler(start, function, tmp_path):
    env = start(
        function, "handler.Handle", ready=False, env={"AWS_LAMBDA_MAX_CONCURRENCY": "2", "SHIM_ASYNC_CONCURRENCY": "1"}
    )
    assert env.process.wait(15) == 1
    assert env.api.init_error.error_type == "Runtime.InvalidConfiguration"
    assert "async def" in env.api.init_error.payload["errorMessage"]


@pytest.mark.parametrize("value", ["many", "0", "-1"])
def test_a_bad_max_concurrency_is_an_init_error(start, function, value):
    env = start(function, ready=False, env={"AWS_LAMBDA_MAX_CONCURRENCY": value})
    assert env.process.wait(15) == 1
    assert env.api.init_error.error_type == "Runtime.InvalidConfiguration"


def test_an_init_error_is_reported_once_by_n_workers(start, make_function):
    env = start(
        make_function({"handler.py": "raise ImportError('nope')\n"}),
        ready=False,
        env={"AWS_LAMBDA_MAX_CONCURRENCY": str(N)},
    )
    assert env.process.wait(15) == 1
    accepted = [r for r in env.api.requests if r.path == protocol.INIT_ERROR and r.status == 202]
    assert len(accepted) == 1
    env.join_readers()
    assert "Could not report the init error" not in env.output()


def test_workers_write_to_the_telemetry_socket_two_connections_each(start, function, tmp_path):
    path = str(tmp_path / "telemetry.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(16)
    received, connections = [], []

    def accept():
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            connections.append(conn)
            threading.Thread(target=lambda c=conn: received.append(_read_all(c)), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    try:
        env = start(function, env={"AWS_LAMBDA_MAX_CONCURRENCY": "2", "_LAMBDA_TELEMETRY_LOG_FD_PROVIDER_SOCKET": path})
        answers = _overlapping(env, 2, wait=0.2)
        assert all(a.kind == "response" for a in answers)
        env.stop()
        deadline = time.monotonic() + 10
        while len(received) < 4 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(connections) == 4  # stdout and stderr of each of the 2 workers
        text = b"".join(received).decode()
        assert "marker 0" in text and "marker 1" in text
        assert "marker" not in env.output()  # not on the runtime's own stdout
    finally:
        server.close()


def test_forking_after_init_warns_about_sockets_open_at_fork_time(start, function):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    port = listener.getsockname()[1]
    try:
        env = start(
            function, env={"AWS_LAMBDA_MAX_CONCURRENCY": "2", "SHIM_FORK_AFTER_INIT": "1", "CONNECT_AT_INIT": str(port)}
        )
        env.drain()
        warning = [line for line in env.output().splitlines() if "open at fork time" in line]
        assert len(warning) == 1
        assert "-> 127.0.0.1:%d" % port in warning[0] and "shared by all 2 workers" in warning[0]
    finally:
        listener.close()


def test_no_socket_warning_without_sockets(run):
    env = run(mode="fork", count=2)
    env.drain()
    assert "open at fork time" not in env.output()


def _read_all(conn):
    chunks = []
    while True:
        chunk = conn.recv(65536)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def _children(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(child) for child in f.read().split()]
    except OSError:
        return []


def test_a_crash_in_the_async_mode_answers_every_request_in_flight(start, make_function, tmp_path):
    function = make_function(
        {
            "handler.py": HANDLER
            + """
async def CrashLater(event, context):
    if event.get("crash"):
        await asyncio.sleep(0.3)
        os._exit(4)
    await asyncio.sleep(30)
"""
        }
    )
    env = start(function, "handler.CrashLater", env={"AWS_LAMBDA_MAX_CONCURRENCY": "3", "SHIM_ASYNC_CONCURRENCY": "1"})
    pending = [env.api.submit({}), env.api.submit({}), env.api.submit({"crash": True})]
    for p in pending:
        answer = p.wait(20)
        assert answer.error_type == "Runtime.ExitError"
        assert answer.payload["errorMessage"] == "Runtime exited with exit status 4 during the invoke"
        assert len(env.api.answers(p.request_id, accepted_only=True)) == 1


SLOW_IMPORT = """
import os, time
import shim

RECORD = os.environ["RECORD"]
shim.on_shutdown(lambda: open(RECORD, "a").write("callback %d\\n" % os.getpid()))
try:  # the first worker to get here is quick; the others are still importing when SIGTERM comes
    os.close(os.open(RECORD + ".first", os.O_CREAT | os.O_EXCL | os.O_WRONLY))
except FileExistsError:
    open(RECORD + ".slow", "a").write("slow %d\\n" % os.getpid())
    time.sleep(30)

def Handle(event, context):
    return {}
"""


def test_sigterm_while_workers_still_import_stops_them_cleanly(start, make_function, tmp_path):
    # Stopped, not failed: no init error, no FatalSignal logged, and every worker's callback runs.
    record = tmp_path / "record"
    env = start(
        make_function({"handler.py": SLOW_IMPORT}), env={"RECORD": str(record), "AWS_LAMBDA_MAX_CONCURRENCY": "3"}
    )
    deadline = time.monotonic() + 20
    while len(_lines(tmp_path / "record.slow")) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(_lines(tmp_path / "record.slow")) == 2
    env.process.send_signal(signal.SIGTERM)
    assert env.process.wait(15) == 0
    env.join_readers()
    output = env.output()
    assert "FatalSignal" not in output and "interrupted by SIGTERM" not in output, output
    assert [r for r in env.api.requests if r.path == protocol.INIT_ERROR] == []
    assert len([line for line in _lines(record) if line.startswith("callback")]) == 3, output
