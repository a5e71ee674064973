"""The streaming rows of `make bench`: time to first byte, and a 100 MB stream's throughput.

awslambdaric cannot stream, so each row names its own baseline:
- time to first byte of a handler that has its first piece at once and 20 ms of work after it,
  against the same runtime answering buffered (the same work, one response at the end): what
  streaming buys, measured end to end through the runtime;
- time to first byte of a streamed answer against the whole round trip of the same bytes
  answered buffered, with no work: what the streaming path costs over the buffered one;
- a 100 MB stream in 1 MiB chunks, against a raw-socket chunked writer with no runtime at all
  (chunked_writer.py, sendall per piece, to the same server): the floor for Python on this machine.
"""

import os
import subprocess
import sys
import time

from server import ACCEPTED, API, BenchmarkError, next_reply

WORK_MS = 20
MEGABYTES = 100


def _line(conn):
    buf = conn.buf
    while True:
        end = buf.find(b"\r\n")
        if end >= 0:
            line = bytes(buf[:end])
            del buf[: end + 2]
            return line
        chunk = conn.sock.recv(1 << 20)
        if not chunk:
            raise BenchmarkError("the runtime closed the connection mid-stream")
        buf += chunk


def read_chunked(conn):
    """Read one chunked body: (arrival of its first chunk, body bytes, arrival of its end)."""
    buf, first, total = conn.buf, None, 0
    while True:
        size = int(_line(conn).split(b";", 1)[0], 16)
        if first is None:
            first = time.perf_counter()
        if size == 0:
            while _line(conn):  # trailers, if any, then the blank line
                pass
            return first, total, time.perf_counter()
        while len(buf) < size + 2:
            chunk = conn.sock.recv(max(1 << 20, size + 2 - len(buf)))
            if not chunk:
                raise BenchmarkError("the runtime closed the connection mid-chunk")
            buf += chunk
        del buf[: size + 2]
        total += size


def _streamed(api, request_id):
    """Read a streamed POST: (arrival of its head, of its first chunk, body bytes, arrival of its end)."""
    method, path, body = api.request()
    head = time.perf_counter()
    if path != API + request_id + b"/response" or body:
        raise BenchmarkError("expected a streamed response for %s, got %s %s" % (request_id.decode(), method, path))
    return (head,) + read_chunked(api.conn)


def ttfb(runtime, api, handler, event, count, streamed):
    """Median-ready list of ms from handing the event to the first body byte (buffered: the whole answer)."""
    process, _ = runtime.start(api, handler)
    times = []
    try:
        api.expect_next()
        for i in range(count):
            request_id = b"ttfb-%d" % i
            handed = time.perf_counter()
            api.hand(next_reply(request_id, event))
            if streamed:
                _, first, total, _ = _streamed(api, request_id)
                if total != 9:  # b"first" + b"rest"
                    raise BenchmarkError("streamed %d bytes, expected 9" % total)
                api.conn.sock.sendall(ACCEPTED)
            else:
                first = api.expect_response(request_id, lambda body: _expect(body, b'"firstrest"'))
            times.append((first - handed) * 1000)
            api.expect_next()
    finally:
        from scenarios import stop

        stop(process)
        api.drop()
    return times


def _expect(body, wanted):
    if body != wanted:
        raise BenchmarkError("wrong response: %r" % body[:200])


def throughput(runtime, api):
    """MB/s of a 100 MB stream in 1 MiB chunks, from the POST's head to the end of its body."""
    process, _ = runtime.start(api, "streaming.megabytes")
    try:
        api.expect_next()
        api.hand(next_reply(b"big", b'{"count": %d}' % MEGABYTES))
        head, _, total, ended = _streamed(api, b"big")
        api.conn.sock.sendall(ACCEPTED)
        if total != MEGABYTES << 20:
            raise BenchmarkError("streamed %d bytes, expected %d" % (total, MEGABYTES << 20))
        api.expect_next()
        return MEGABYTES / (ended - head)
    finally:
        from scenarios import stop

        stop(process)
        api.drop()


def raw_writer_floor(api):
    """MB/s of the same 100 MB from a minimal raw-socket chunked writer (its own process, no runtime)."""
    api.reset(None)
    writer = subprocess.Popen(
        [
            sys.executable,
            os.path.join(os.path.dirname(os.path.abspath(__file__)), "chunked_writer.py"),
            api.address.rsplit(":", 1)[1],
            str(MEGABYTES),
        ]
    )
    api.process = writer
    try:
        head, _, total, ended = _streamed(api, b"floor")
        api.conn.sock.sendall(ACCEPTED)
        if total != MEGABYTES << 20:
            raise BenchmarkError("floor streamed %d bytes" % total)
        return MEGABYTES / (ended - head)
    finally:
        api.drop()
        writer.wait(30)
        api.process = None


def run(ours, api, reps, summary):
    """{row name: (our summary, baseline name, baseline summary)} for the streaming rows."""
    count = 20
    rows = {}
    work = b'{"ms": %d}' % WORK_MS
    streamed = [
        t for _ in range(reps // 2 or 1) for t in ttfb(ours, api, "streaming.first_then_work", work, count, True)
    ]
    buffered = [
        t for _ in range(reps // 2 or 1) for t in ttfb(ours, api, "streaming.work_then_return", work, count, False)
    ]
    rows["streaming: time to first byte, %d ms of work after the first piece (ms)" % WORK_MS] = (
        summary(streamed),
        "lambda-shim answering buffered (same work)",
        summary(buffered),
    )
    none = b'{"ms": 0}'
    streamed = [
        t for _ in range(reps // 2 or 1) for t in ttfb(ours, api, "streaming.first_then_work", none, count, True)
    ]
    buffered = [
        t for _ in range(reps // 2 or 1) for t in ttfb(ours, api, "streaming.work_then_return", none, count, False)
    ]
    rows["streaming: time to first byte, no work (ms)"] = (
        summary(streamed),
        "lambda-shim buffered round trip of the same bytes",
        summary(buffered),
    )
    ours_mbs = [throughput(ours, api) for _ in range(reps // 2 or 1)]
    floor_mbs = [raw_writer_floor(api) for _ in range(reps // 2 or 1)]
    rows["streaming: %d MB in 1 MiB chunks (MB/s)" % MEGABYTES] = (
        summary(ours_mbs),
        "raw-socket chunked writer, no runtime",
        summary(floor_mbs),
    )
    return rows
