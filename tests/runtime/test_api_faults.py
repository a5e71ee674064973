"""The Runtime API client against a local Runtime API made faulty on purpose, through the real bootstrap.

Each fault is a subclass of the emulator's own request handler, so everything else
(queues, records, exactly-once bookkeeping) is the real emulator; exactly-once is
checked from its records of every request the runtime made.
"""

import socket
import struct
import time

import pytest

from shim.local.environment import Environment

HANDLER = """\
import os, time

def Handle(event, context):
    if "wait_for" in event:  # a file the test creates when the fault has struck
        deadline = time.time() + 20
        while not os.path.exists(event["wait_for"]) and time.time() < deadline:
            time.sleep(0.01)
        time.sleep(0.1)
    return {"n": event.get("n"), "pid": os.getpid()}
"""


def lingering_close(connection):
    """Close after the reply without a `Connection: close`, reading what the client still sends
    (its pipelined GET) until it closes too, so the kernel sends a FIN, never a reset."""
    connection.shutdown(socket.SHUT_WR)
    connection.settimeout(10)
    try:
        while connection.recv(65536):
            pass
    except OSError:
        pass


def reset(connection):
    """Drop the connection with a TCP reset (SO_LINGER 0)."""
    connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    connection.close()


@pytest.fixture
def faulty(make_function):
    """faulty(fault, **env) -> a started Environment whose Runtime API handler is fault(Base)."""
    started = []

    def start(fault, env=None):
        environment = Environment(make_function({"handler.py": HANDLER}), env=env or {})
        base = environment.api._server.RequestHandlerClass
        environment.api._server.RequestHandlerClass = fault(base, environment.api)
        started.append(environment.start())
        assert environment.wait_ready(20) is not None, environment.output()
        return environment

    yield start
    for environment in started:
        environment.stop()


def answers(env, result):
    """(all posts for the request, accepted ones): exactly once means (1, 1)."""
    return len(env.api.answers(result.request_id)), len(env.api.answers(result.request_id, accepted_only=True))


def warnings(env):
    env.drain()
    return [line for line in env.output("stdout").splitlines() if "Runtime API at" in line]


def close_after_answer(base, api):
    class CloseAfterAnswer(base):
        def do_POST(self):
            super().do_POST()
            lingering_close(self.connection)
            self.close_connection = True

    return CloseAfterAnswer


def http_10(base, api):
    class Http10(base):
        protocol_version = "HTTP/1.0"  # closes after every reply; replies say HTTP/1.0, no Connection header

    return Http10


@pytest.mark.parametrize("pipeline", ["1", "0"], ids=["pipelined", "SHIM_PIPELINE=0"])
@pytest.mark.parametrize("fault", [close_after_answer, http_10], ids=["closes-after-each-answer", "HTTP/1.0"])
def test_a_server_that_closes_after_each_answer_loses_no_event(faulty, fault, pipeline):
    env = faulty(fault, {"SHIM_PIPELINE": pipeline})
    results = [env.invoke({"n": n}, timeout=20) for n in range(5)]
    assert [r.payload["n"] for r in results] == list(range(5))
    assert len({r.payload["pid"] for r in results}) == 1 and env.returncode is None  # it kept serving
    for result in results:
        assert answers(env, result) == (1, 1)
    # Said once, naming the address, if it had to adapt (an HTTP/1.0 reply says so by itself).
    said = warnings(env)
    assert len(said) <= 1 and all(env.api.address in line for line in said), said


def test_a_post_whose_bytes_were_written_is_never_sent_twice(faulty):
    taken = []

    def reset_after_reading_the_first_answer(base, api):
        class ResetAfterPost(base):
            def do_POST(self):
                prefix = "/2018-06-01/runtime/invocation/"
                if taken or not self.path.startswith(prefix):
                    return super().do_POST()
                # The answer arrives and is taken (202 in the records); the reply never leaves.
                body = self._body()
                headers = self._record(body)
                request_id, _, action = self.path[len(prefix) :].partition("/")
                taken.append(api.take_answer(request_id, action, body, headers, self.recorded))
                reset(self.connection)
                self.close_connection = True

        return ResetAfterPost

    env = faulty(reset_after_reading_the_first_answer)
    first = env.invoke({"n": 1}, timeout=20)
    second = env.invoke({"n": 2}, timeout=20)
    assert taken and first.payload["n"] == 1 and second.payload["n"] == 2
    assert answers(env, first) == (1, 1)  # the resend of old would show here as a second post (403)
    assert answers(env, second) == (1, 1)
    said = warnings(env)
    assert any("may be lost" in line and first.request_id in line and env.api.address in line for line in said), said


def test_a_post_not_written_because_of_a_reset_is_sent_again_and_said(faulty, tmp_path):
    struck = tmp_path / "reset-done"

    def reset_after_handing_out_the_event(base, api):
        class ResetAfterEvent(base):
            def do_GET(self):
                super().do_GET()
                if self.recorded.status == 200 and not struck.exists():
                    reset(self.connection)  # the runtime now holds an event on a dead connection
                    self.close_connection = True
                    struck.write_text("done")

        return ResetAfterEvent

    env = faulty(reset_after_handing_out_the_event)
    result = env.invoke({"n": 7, "wait_for": str(struck)}, timeout=20)
    assert result.payload["n"] == 7 and answers(env, result) == (1, 1)
    said = warnings(env)
    assert any(
        "before POST" in line and result.request_id in line and "new connection" in line and env.api.address in line
        for line in said
    ), said
    assert env.invoke({"n": 8}, timeout=20).payload["n"] == 8


def test_a_refusal_names_the_address(faulty):
    def refuse_answers(base, api):
        class Refuse(base):
            def do_POST(self):
                self._record(self._body())
                self._reply(500, {"errorMessage": "storage full", "errorType": "ServiceException"})

        return Refuse

    env = faulty(refuse_answers)
    pending = env.api.submit({"n": 1})
    assert env.api.wait_polls(2, timeout=10) is not None  # done with the event: it asks for the next one
    deadline = time.monotonic() + 10
    while not [line for line in warnings(env) if "returned HTTP 500" in line] and time.monotonic() < deadline:
        time.sleep(0.02)
    said = warnings(env)
    assert any("returned HTTP 500" in line and "storage full" in line and env.api.address in line for line in said)
    assert not pending.done  # refused: the request stays unanswered, as on Lambda
    assert env.returncode is None


def test_a_runtime_api_that_is_gone_is_named(start, make_function):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    address = "127.0.0.1:%d" % listener.getsockname()[1]
    listener.close()  # nobody listens there now
    env = start(make_function({"handler.py": HANDLER}), env={"AWS_LAMBDA_RUNTIME_API": address}, ready=False)
    assert env.process.wait(30) == 1
    env.join_readers()
    [line] = [line for line in env.output("stdout").splitlines() if "Runtime API" in line]
    assert "cannot connect to the Runtime API at %s" % address in line
