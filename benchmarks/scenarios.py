"""One run of one runtime, measured (bench.py's scenarios, also coldstart_rows' and streaming_rows'): a cold
start and its first invoke, a warm loop, large payloads, a soak; the readings they take from /proc (the
runtime's own Python process, its CPU time, its memory), the checks every response goes through, and how a
runtime is stopped so that nothing of it is left to take the next run's events."""

import json
import os

from server import BenchmarkError, next_reply


def python_pid(pid):
    """The Python process itself: our bootstrap supervises it as a child, awslambdaric's is the process."""
    try:
        if "python" in os.path.basename(os.readlink("/proc/%d/exe" % pid)):
            return pid
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            children = f.read().split()
        return int(children[0]) if children else pid
    except OSError:
        return pid


def cpu_ns(pid):
    """Time the runtime process itself spent on a CPU (/proc/PID/schedstat), in ns."""
    with open("/proc/%d/schedstat" % python_pid(pid)) as f:
        return int(f.read().split()[0])


def memory_kb(pid, field="VmHWM"):
    with open("/proc/%d/status" % python_pid(pid)) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise BenchmarkError("no %s for pid %d" % (field, pid))


def stop(process):
    # The runtime's pid is read while the launcher lives (a dead launcher lists no children), and
    # killed after it (else the launcher would report the kill as a crash). Left running, a runtime
    # would reconnect to the API (it asks again for an event when a connection closes) and take the
    # next run's first event.
    children = _children(process.pid)
    process.kill()
    for child in children:
        try:
            os.kill(child, 9)
        except OSError:
            pass
    process.wait()


def _children(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(c) for c in f.read().split()]
    except OSError:
        return []


def expect_json(value):
    def check(body):
        if json.loads(body) != value:
            raise BenchmarkError("wrong response: %r" % body[:300])

    return check


def same_as_first(expected_value):
    """Check the first body by value, then every later one byte for byte against it (cheap in a loop)."""
    first = []

    def check(body):
        if not first:
            expect_json(expected_value)(body)
            first.append(body)
        elif body != first[0]:
            raise BenchmarkError("response changed: %r" % body[:300])

    return check


# -- scenarios: each returns a dict of figures for one run of one runtime ----------------------


def cold(runtime, api, handler="trivial.Handle", event=b'{"n": 1}', check=None):
    process, started = runtime.start(api, handler)
    try:
        polled = api.expect_next()
        init_rss = memory_kb(process.pid)
        api.hand(next_reply(b"first", event))
        answered = api.expect_response(b"first", check or expect_json("ok"))
        return {"cold_ms": (polled - started) * 1000, "first_ms": (answered - polled) * 1000, "init_rss_kb": init_rss}
    finally:
        stop(process)
        api.drop()


def warm(runtime, api, handler, count, expected="ok"):
    process, started = runtime.start(api, handler)
    try:
        api.expect_next()
        template = next_reply(b"%s", b'{"n": 1}')  # formatting one id in is cheaper than building a reply
        cpu_before = cpu_ns(process.pid)
        elapsed = api.serve(count, lambda rid: template % rid, same_as_first(expected))
        cpu = cpu_ns(process.pid) - cpu_before
        return {
            "us_per_invoke": elapsed / count * 1e6,
            "invokes_per_s": count / elapsed,
            "cpu_us_per_invoke": cpu / count / 1000,
            "rss_kb": memory_kb(process.pid),
        }
    finally:
        stop(process)
        api.drop()


def payload(runtime, api, handler, event, count, expected):
    process, started = runtime.start(api, handler)
    try:
        api.expect_next()
        elapsed = api.serve(count, lambda rid: next_reply(rid, event), same_as_first(expected))
        return {"ms_per_invoke": elapsed / count * 1000, "rss_kb": memory_kb(process.pid)}
    finally:
        stop(process)
        api.drop()


def soak(runtime, api, count, every):
    process, started = runtime.start(api, "handler.log_one")
    try:
        api.expect_next()
        check = same_as_first("ok")
        samples = []
        done = 0
        while done < count:
            batch = min(every, count - done)
            api.serve(batch, lambda rid: next_reply(rid, b'{"n": 1}'), check)
            done += batch
            samples.append((done, memory_kb(process.pid, "VmRSS")))
            if done < count:
                api.expect_next()
        return {"rss_samples_kb": samples}
    finally:
        stop(process)
        api.drop()
