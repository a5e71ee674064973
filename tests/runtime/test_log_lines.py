"""Every log line reaches its request: records from the handler's threads, unfinished print() lines,
output without a final newline. Through the real bootstrap, both log formats, without PYTHONUNBUFFERED
(set for every process here, not on Lambda: the local tools leave it out of the runtime's environment)."""

import json
import re

import pytest

# Threads that print and log at once; the first pair is ordered by events so that a record is
# logged exactly while a print()ed line is unfinished, the way it happens by chance under load.
THREADS = """\
import logging, os, sys, threading
log = logging.getLogger("worker")

def Handle(event, context):
    wrote, logged = threading.Event(), threading.Event()

    def printer():
        sys.stdout.write("unfinished ")
        wrote.set()
        logged.wait(10)
        print("line ended")
        for i in range(event.get("n", 0)):
            print("print", i, end=" ")
            print("x" * 40)

    def logger():
        wrote.wait(10)
        log.warning("from a thread")
        logged.set()
        for i in range(event.get("n", 0)):
            log.warning("thread record %d", i)

    threads = [threading.Thread(target=printer), threading.Thread(target=logger)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if event.get("tail"):
        sys.stdout.write(event["tail"])  # no newline: the invoke ends with the line open
    return {"unbuffered": bool(os.environ.get("PYTHONUNBUFFERED"))}
"""

# Empty is unset for Python: whatever the environment a runtime gets, it runs buffered, as on Lambda.
BUFFERED = {"PYTHONUNBUFFERED": ""}

TEXT_RECORD = re.compile(r"\[(WARNING|ERROR|INFO)\]\t\d{4}-\d\d-\d\dT[\d:.]+Z\t([^\t]*)\t")


def records(lines, log_format):
    """The log records among the lines, as (requestId, message); fails on a record that does not
    start its line (glued onto a print)."""
    found = []
    for line in lines:
        if log_format == "JSON":
            assert '"level"' not in line or line.startswith("{"), "a record glued onto a line: %r" % line[:200]
            if line.startswith("{"):
                record = json.loads(line)
                found.append((record.get("requestId"), record["message"], record.get("xrayTraceId")))
        else:
            assert TEXT_RECORD.search(line) is None or TEXT_RECORD.match(line), (
                "a record glued onto a line: %r" % line[:200]
            )
            match = TEXT_RECORD.match(line)
            if match:
                found.append((match.group(2), line[match.end() :], None))
    return found


@pytest.mark.parametrize("log_format", ["Text", "JSON"])
def test_records_from_threads_carry_the_request_and_start_their_own_line(start, make_function, log_format):
    env = start(make_function({"handler.py": THREADS}), env=dict(BUFFERED, AWS_LAMBDA_LOG_FORMAT=log_format))
    for n in (0, 200):
        mark = env.mark()
        result = env.invoke(
            {"n": n}, timeout=30, trace_id="Root=1-5f84c3a3-abcdef012345678912345678", tenant_id="tenant-7"
        )
        assert result.payload == {"unbuffered": False}
        env.drain()
        lines = env.since(mark, "stdout").splitlines()
        found = records(lines, log_format)
        ours = [r for r in found if r[1] == "from a thread" or r[1].startswith("thread record")]
        assert len(ours) == 1 + n
        assert {r[0] for r in ours} == {result.request_id}, ours[:3]
        if log_format == "JSON":
            assert {r[2] for r in ours} == {"Root=1-5f84c3a3-abcdef012345678912345678"}
        assert "unfinished " in lines and "line ended" in lines  # the print's line, in two parts around the record
        # A record may split a print() (it is several writes) across lines, never lose or mix its text.
        printed = "".join(line for line in lines if not TEXT_RECORD.match(line) and not line.startswith("{"))
        assert all("print %d %s" % (i, "x" * 40) in printed for i in range(n))


@pytest.mark.parametrize("log_format", ["Text", "JSON"])
def test_a_line_without_its_newline_belongs_to_the_invoke_that_wrote_it(start, make_function, log_format):
    env = start(make_function({"handler.py": THREADS}), env=dict(BUFFERED, AWS_LAMBDA_LOG_FORMAT=log_format))
    mark = env.mark()
    first = env.invoke({"tail": "tail of the first"}, timeout=30)
    assert first.ok
    env.drain()
    assert "tail of the first\n" in env.since(mark, "stdout")
    mark = env.mark()
    big = "T" * (1 << 20)
    assert env.invoke({"tail": big}, timeout=30).ok
    env.drain()
    after = env.since(mark, "stdout")
    assert big + "\n" in after and "tail of the first" not in after


MANAGED_INSTANCES = """\
import logging, threading, time
log = logging.getLogger("worker")

def Handle(event, context):
    time.sleep(0.3)  # the invokes overlap, each in its worker process
    thread = threading.Thread(target=lambda: log.warning("thread of %s", event["marker"]))
    thread.start()
    thread.join()
    return context.aws_request_id
"""


def test_managed_instances_workers_tag_their_threads_records_with_their_own_request(start, make_function):
    env = start(make_function({"handler.py": MANAGED_INSTANCES}), env={"AWS_LAMBDA_MAX_CONCURRENCY": "3"})
    pending = [env.api.submit({"marker": i}) for i in range(3)]
    answers = [p.wait(30) for p in pending]
    assert [a.payload for a in answers] == [p.request_id for p in pending]
    env.drain()
    records = [json.loads(line) for line in env.output("stdout").splitlines() if line.startswith("{")]
    by_marker = {r["message"]: r.get("requestId") for r in records if r["message"].startswith("thread of ")}
    assert by_marker == {"thread of %d" % i: p.request_id for i, p in enumerate(pending)}
