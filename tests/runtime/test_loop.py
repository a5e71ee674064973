"""The invoke loop in-process (shim.runtime.main.Runtime's loop and answer): the real client against the real
local Runtime API on 127.0.0.1, the loop in this process, so every step can be watched from both sides.
tests/runtime/test_runtime.py runs the same through the bootstrap, as a cold start."""

import json
import os
import signal
import threading

import pytest

from shim.local.emulator import RuntimeAPIServer
from shim.runtime import errors, invoke, logs, main, protocol
from shim.runtime.client import RuntimeAPI, RuntimeAPIError
from shim.runtime.crash import NoRecorder
from shim.runtime.signals import RECOVERABLE, TERMINATING, FatalSignal, Guard

pytestmark = pytest.mark.usefixtures("trace_env", "socket_timeout")
PIPELINE = pytest.mark.parametrize("pipeline", [True, False], ids=["pipelined", "not-pipelined"])


class Capture:
    def __init__(self):
        self.records = []

    def write(self, text, levelno):
        self.records.append(json.loads(text))

    def messages(self, level="ERROR"):
        return [r["message"] for r in self.records if r["level"] == level]


@pytest.fixture
def log(monkeypatch):
    """The runtime's log pipeline, JSON records kept in a list instead of written to stdout."""
    sink = Capture()
    monkeypatch.setattr(logs, "pipeline", logs.Pipeline(logs.Config({"AWS_LAMBDA_LOG_FORMAT": "JSON"}), sink))
    return sink


@pytest.fixture
def server():
    api = RuntimeAPIServer().start()
    yield api
    api.stop()


def runtime(client, handler, guard, recorder):
    """A Runtime as main builds it, on this client, with the handler its init would have loaded."""
    return main.Runtime(client, guard, recorder, logs.pipeline, handler=handler)


class LoopThread:
    """Runtime.loop in a daemon thread; it ends when the Runtime API stops (its /next answers 500)."""

    def __init__(self, server, handler, pipeline=True):
        self.server = server
        self.client = RuntimeAPI(server.address, pipeline=pipeline)
        self.guard = Guard()  # not installed: signals only reach the main thread
        self.error = None
        self.thread = threading.Thread(target=self._run, args=(handler,), daemon=True)
        self.thread.start()

    def _run(self, handler):
        try:
            runtime(self.client, handler, self.guard, NoRecorder()).loop()
        except BaseException as exc:  # noqa: BLE001 - the test looks at how it ended
            self.error = exc

    def stop(self):
        self.server.stop()
        self.thread.join(10)
        assert not self.thread.is_alive(), "the loop did not end when the Runtime API stopped"
        self.client.close()
        assert isinstance(self.error, RuntimeAPIError) and self.error.status == 500, self.error
        return self


def echo_or_fail(event, context):
    if event.get("raise"):
        raise ValueError("asked to fail %d" % event["n"])
    if event.get("exit"):
        raise SystemExit(event["n"])
    return {"n": event["n"], "id": context.aws_request_id}


@PIPELINE
def test_every_request_is_answered_exactly_once(server, log, pipeline):
    loop = LoopThread(server, echo_or_fail, pipeline)
    events = [{"n": 0}, {"n": 1, "raise": True}, {"n": 2}, {"n": 3, "exit": True}, {"n": 4}, {"n": 5, "raise": True}]
    exchanges = [server.invoke(event, timeout=10) for event in events]
    assert server.wait_polls(len(events) + 1, timeout=10) is not None
    loop.stop()
    for event, exchange in zip(events, exchanges):
        assert len(server.answers(exchange.request_id, accepted_only=True)) == 1, server.requests
        if event.get("raise") or event.get("exit"):
            assert exchange.kind == "error" and exchange.error_type in ("ValueError", "SystemExit")
            assert exchange.payload["requestId"] == exchange.request_id
        else:
            assert exchange.kind == "response" and exchange.payload == {"n": event["n"], "id": exchange.request_id}
    posts = [r for r in server.requests if r.method == "POST"]
    assert len(posts) == len(events) and {r.status for r in posts} == {202}
    assert len([r for r in server.requests if r.method == "GET"]) == len(events) + 1
    assert len({r.connection for r in server.requests}) == 1  # one keep-alive connection throughout
    # Each failure logged once at ERROR, with its type; nothing else was.
    assert log.messages() == [
        "ValueError: asked to fail 1",
        "SystemExit: Handler called sys.exit(3)",
        "ValueError: asked to fail 5",
    ]


@PIPELINE
def test_a_response_too_large_is_answered_as_an_error(log, pipeline):
    server = RuntimeAPIServer(max_response_bytes=1000).start()
    try:
        loop = LoopThread(server, lambda event, context: "x" * event, pipeline)
        big = server.invoke(2000, timeout=10)
        small = server.invoke(10, timeout=10)
        assert server.wait_polls(3, timeout=10) is not None
    finally:
        loop.stop()
    assert big.kind == "error" and big.error_type == errors.RESPONSE_TOO_LARGE == "Runtime.ResponseSizeTooLarge"
    message = big.payload["errorMessage"]
    assert message.startswith("Response payload size (2002 bytes) exceeded the Runtime API's limit: ")
    assert "Exceeded maximum allowed payload size (1000 bytes)" in message  # the API's own words, passed on
    assert big.payload["requestId"] == big.request_id
    posts = server.answers(big.request_id)
    assert [(p.path.rsplit("/", 1)[1], p.status) for p in posts] == [("response", 413), ("error", 202)]
    assert posts[1].headers[protocol.ERROR_TYPE.lower()] == errors.RESPONSE_TOO_LARGE
    # Pipelined, the GET /next already waits on the main connection, so the /error takes a second one.
    assert (posts[0].connection != posts[1].connection) is pipeline
    assert small.kind == "response" and small.payload == "x" * 10  # and the loop goes on
    assert log.messages() == [errors.RESPONSE_TOO_LARGE + ": " + message]


@PIPELINE
def test_an_event_without_a_request_id_is_skipped(server, log, pipeline):
    nameless = server.submit({"n": 0})
    del nameless.event_headers[protocol.REQUEST_ID]  # before the loop starts: it cannot have taken it yet
    named = server.submit({"n": 1})
    loop = LoopThread(server, echo_or_fail, pipeline)
    assert named.wait(10).payload == {"n": 1, "id": named.request_id}
    assert server.wait_polls(3, timeout=10) is not None
    loop.stop()
    assert nameless.taken_at is not None and not nameless.done  # taken, and never answered: it cannot be
    assert server.answers(nameless.request_id) == []
    assert len(server.answers(named.request_id, accepted_only=True)) == 1
    assert log.messages() == [
        "The Runtime API sent an event without Lambda-Runtime-Aws-Request-Id; it cannot be answered"
    ]


def test_answer_logs_a_refused_answer_and_returns(server, log):
    client = RuntimeAPI(server.address, pipeline=False)
    exchange = server.submit({})
    invocation = client.next()
    answer = runtime(client, None, Guard(), NoRecorder()).answer
    answer(invocation, invoke.Answer(b'"first"', "application/json"))
    answer(invocation, invoke.Answer(b'"again"', "application/json"), client)
    answer(invocation, invoke.failure(ValueError("late"), invocation.request_id))
    client.close()
    assert exchange.wait(5).body == b'"first"'
    assert [r.status for r in server.answers(exchange.request_id)] == [202, 403, 403]
    refusals = log.messages()
    assert refusals[0].startswith("The Runtime API refused the response for %s: " % exchange.request_id)
    assert refusals[1] == "ValueError: late"  # the failure itself is logged before it is posted
    assert refusals[2].startswith("The Runtime API refused the error for %s: " % exchange.request_id)
    assert "403" in refusals[0] and "already answered" in refusals[2]


# -- signals: the loop in the main thread, where Python delivers them ---------------------------------


@pytest.fixture
def guard():
    """A Guard installed as the runtime installs it; the test process's handlers put back afterwards."""
    saved = {signum: signal.getsignal(signum) for signum in TERMINATING + RECOVERABLE}
    guard = Guard()
    guard.install()
    yield guard
    for signum, handler in saved.items():
        signal.signal(signum, handler)
    previous = signal.set_wakeup_fd(-1)  # the loop's wake-up pipe, if it made one
    if guard.wakeup_fd() is not None and previous != -1:
        signal.set_wakeup_fd(-1)


class SignalWhenTaken(NoRecorder):
    """A recorder (the loop calls begin() as it takes an event, while the runtime is busy) that sends
    this process one signal per event: a signal that arrives between /next and the handler."""

    def __init__(self, *signums):
        self.signums = list(signums)

    def begin(self, request_id, invocation_id):
        signum = self.signums.pop(0)
        if signum:
            os.kill(os.getpid(), signum)


def _run_loop_in_main_thread(server, handler, guard, recorder, pipeline=True):
    watchdog = threading.Timer(20, server.stop)  # a loop that never stops fails the test instead of hanging it
    watchdog.start()
    client = RuntimeAPI(server.address, pipeline=pipeline)
    try:
        with pytest.raises(FatalSignal) as stopped:
            runtime(client, handler, guard, recorder).loop()
    finally:
        watchdog.cancel()
        client.close()
    return stopped.value


@PIPELINE
def test_a_terminating_signal_before_the_handler_starts_interrupts_it_there(server, log, guard, pipeline):
    """Deferred while the event was read (a signal then must not lose the request), it interrupts the
    handler as it starts, as it would have a moment later: answered with the signal's error, then stop."""
    calls = []

    def handler(event, context):
        calls.append(event)
        return event

    exchange = server.submit({"n": 7})
    stopped = _run_loop_in_main_thread(server, handler, guard, SignalWhenTaken(signal.SIGTERM), pipeline)
    assert stopped.signum == signal.SIGTERM
    assert calls == []
    assert exchange.done and exchange.kind == "error"
    assert exchange.payload["errorMessage"] == "Handler was interrupted by SIGTERM"
    assert len(server.answers(exchange.request_id, accepted_only=True)) == 1
    assert guard.pending is None and log.messages() == ["FatalSignal: Handler was interrupted by SIGTERM"]


class SignalAsEventArrives(RuntimeAPI):
    """A client whose next() is hit by SIGTERM just as the event is read (here: just after)."""

    def next(self):
        invocation = super().next()
        os.kill(os.getpid(), signal.SIGTERM)
        return invocation


def test_a_signal_as_the_event_arrives_never_loses_it(server, log, guard):
    exchange = server.submit({"n": 1})
    watchdog = threading.Timer(20, server.stop)
    watchdog.start()
    client = SignalAsEventArrives(server.address)
    try:
        with pytest.raises(FatalSignal) as stopped:
            runtime(client, echo_or_fail, guard, NoRecorder()).loop()
    finally:
        watchdog.cancel()
        client.close()
    assert stopped.value.signum == signal.SIGTERM
    assert exchange.done and exchange.kind == "error"  # taken from /next, so answered
    assert len(server.answers(exchange.request_id, accepted_only=True)) == 1


def test_a_recoverable_signal_while_waiting_for_an_event_does_not_stop_the_loop(server, log, guard):
    exchanges = [server.submit({"n": 1})]

    def signal_once_waiting():
        if server.wait_polls(2, timeout=10) is not None:  # answered, and waiting for the next event
            os.kill(os.getpid(), signal.SIGUSR1)
            threading.Timer(0.2, lambda: exchanges.append(server.submit({"n": 2}))).start()
            if server.wait_polls(3, timeout=10) is not None:
                os.kill(os.getpid(), signal.SIGTERM)

    sender = threading.Thread(target=signal_once_waiting, daemon=True)
    sender.start()
    stopped = _run_loop_in_main_thread(server, echo_or_fail, guard, NoRecorder())
    sender.join(10)
    assert stopped.signum == signal.SIGTERM
    assert [e.kind for e in exchanges] == ["response", "response"]
    assert [e.payload["n"] for e in exchanges] == [1, 2]


def test_a_deferred_recoverable_signal_does_not_stop_the_loop(server, log, guard):
    first, second = server.submit({"n": 1}), server.submit({"n": 2})
    stopped = _run_loop_in_main_thread(server, echo_or_fail, guard, SignalWhenTaken(signal.SIGUSR1, signal.SIGTERM))
    assert stopped.signum == signal.SIGTERM  # the second event's signal, not the first's
    assert first.kind == "response" and first.payload["n"] == 1  # SIGUSR1 before it: ignored
    assert second.kind == "error" and second.payload["errorMessage"] == "Handler was interrupted by SIGTERM"


def test_a_signal_in_the_handler_answers_then_stops(server, log, guard):
    def handler(event, context):
        os.kill(os.getpid(), signal.SIGTERM)
        return "not reached"

    exchange = server.submit({})
    stopped = _run_loop_in_main_thread(server, handler, guard, NoRecorder())
    assert stopped.signum == signal.SIGTERM
    assert exchange.kind == "error" and exchange.payload["errorMessage"] == "Handler was interrupted by SIGTERM"
    assert log.messages() == ["FatalSignal: Handler was interrupted by SIGTERM"]


def test_a_signal_while_idle_on_next_stops_at_once(server, log, guard):
    exchange = server.submit({"n": 1})

    def signal_once_idle():
        if server.wait_polls(2, timeout=10) is not None:  # answered, and waiting for the next event
            os.kill(os.getpid(), signal.SIGTERM)

    sender = threading.Thread(target=signal_once_idle, daemon=True)
    sender.start()
    stopped = _run_loop_in_main_thread(server, echo_or_fail, guard, NoRecorder())
    sender.join(10)
    assert stopped.signum == signal.SIGTERM and exchange.kind == "response"
    assert guard.pending is None  # idle: nothing deferred, it stopped where it was
