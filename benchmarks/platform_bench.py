"""Benchmarks for Managed Instances (N workers), the async single process, and SnapStart's restore.

A Runtime API for many connections at once (MultiAPI: one thread, a selector),
and the scenarios bench.py runs with it, alternating lambda-shim and awslambdaric:

- exec to N workers polling /next, and the memory of the whole process tree once they
  do (RSS summed: shared pages counted in every process; PSS summed: each shared page
  split between the processes that share it, the fairer figure for forked workers);
- N invokes at once, the handler waiting 10 ms (I/O-bound) or not at all: invokes/s;
- SnapStart: from the reply to /restore/next to the runtime's first /next.

Every response is checked; a wrong or missing one raises BenchmarkError.
"""

import os
import selectors
import socket
import subprocess
import time

from server import ACCEPTED, API, BenchmarkError, next_reply

NEXT = b"/2018-06-01/runtime/invocation/next"
RESTORE_NEXT = b"/2018-06-01/runtime/restore/next"
OK_200 = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"


class _Conn:
    __slots__ = ("sock", "buf", "polling")

    def __init__(self, sock):
        self.sock, self.buf, self.polling = sock, bytearray(), False


class MultiAPI:
    """Many runtime connections at once. Timestamps are time.perf_counter()."""

    def __init__(self):
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(128)
        self.listener.setblocking(False)
        self.address = "127.0.0.1:%d" % self.listener.getsockname()[1]
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.listener, selectors.EVENT_READ)
        self.conns = {}
        self.reset()

    def reset(self):
        for conn in list(self.conns.values()):
            self._drop(conn)
        try:  # connections a killed runtime left in the backlog
            while True:
                self.listener.accept()[0].close()
        except BlockingIOError:
            pass
        self.polling = []  # connections waiting for an event, in the order they asked
        self.restored_at = None  # when /restore/next was answered
        self.first_next_at = None  # the first GET /next (after the restore, with SnapStart)
        self.answered = 0
        self.check = None
        self.process = None

    def close(self):
        self.reset()
        self.selector.close()
        self.listener.close()

    def _drop(self, conn):
        self.selector.unregister(conn.sock)
        conn.sock.close()
        del self.conns[conn.sock]

    def pump(self, timeout):
        """Accept and read what arrived; answer posts (202) and restores (200) at once."""
        for key, _ in self.selector.select(timeout):
            if key.fileobj is self.listener:
                try:
                    sock, _ = self.listener.accept()
                except BlockingIOError:
                    continue
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                self.conns[sock] = _Conn(sock)
                self.selector.register(sock, selectors.EVENT_READ)
                continue
            conn = self.conns.get(key.fileobj)
            if conn is None:
                continue
            try:
                chunk = conn.sock.recv(262144)
            except OSError:
                chunk = b""
            if not chunk:
                if conn in self.polling:
                    self.polling.remove(conn)
                self._drop(conn)
                continue
            conn.buf += chunk
            while self._one_request(conn):
                pass

    def _one_request(self, conn):
        buf = conn.buf
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            return False
        head = bytes(buf[:end])
        lower = head.lower()
        length = 0
        marker = lower.find(b"\r\ncontent-length:")
        if marker >= 0:
            line_end = lower.find(b"\r\n", marker + 2)
            length = int(head[marker + 17 : line_end if line_end >= 0 else len(head)].strip())
        if len(buf) < end + 4 + length:
            return False
        body = bytes(buf[end + 4 : end + 4 + length])
        del buf[: end + 4 + length]
        method, path = head.split(b" ", 2)[:2]
        if method == b"GET" and path == NEXT:
            if self.first_next_at is None:
                self.first_next_at = time.perf_counter()
            self.polling.append(conn)
        elif method == b"GET" and path == RESTORE_NEXT:
            conn.sock.sendall(OK_200)
            self.restored_at = time.perf_counter()
        elif method == b"POST" and path.startswith(API) and path.endswith(b"/response"):
            if self.check is not None:
                self.check(body)
            self.answered += 1
            conn.sock.sendall(ACCEPTED)
        elif method == b"POST" and path.startswith(b"/2020-01-01/extension/register"):
            raise BenchmarkError("unexpected extension registration")
        else:
            raise BenchmarkError("unexpected %s %s: %r" % (method.decode(), path.decode(), body[:300]))
        return True

    def wait(self, condition, timeout=60.0):
        deadline = time.perf_counter() + timeout
        while not condition():
            if time.perf_counter() > deadline:
                raise BenchmarkError("timed out waiting for the runtime")
            if self.process is not None and self.process.poll() is not None:
                raise BenchmarkError("runtime exited with %s" % self.process.returncode)
            self.pump(0.05)
        return time.perf_counter()

    def polling_count(self):
        return len(set(self.polling))

    def serve(self, count, body=b'{"wait": 0}'):
        """Hand out `count` events, one to each polling connection as it asks; seconds until all answered."""
        template = next_reply(b"%s", body)
        issued = 0
        start = time.perf_counter()
        self.answered = 0
        while self.answered < count:
            while self.polling and issued < count:
                conn = self.polling.pop(0)
                conn.sock.sendall(template % (b"req-%d" % issued))
                issued += 1
            self.pump(1.0)
            if self.process is not None and self.process.poll() is not None:
                raise BenchmarkError("runtime exited with %s" % self.process.returncode)
        return time.perf_counter() - start


# -- the process tree's memory ----------------------------------------------------------------


def tree(pid):
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        try:
            with open("/proc/%d/task/%d/children" % (current, current)) as f:
                todo.extend(int(child) for child in f.read().split())
        except OSError:
            pass
    return found


def memory_mb(pid):
    """(RSS summed, PSS summed) of the process and its descendants, in MB."""
    rss = pss = 0
    for member in tree(pid):
        try:
            with open("/proc/%d/smaps_rollup" % member) as f:
                for line in f:
                    if line.startswith("Rss:"):
                        rss += int(line.split()[1])
                    elif line.startswith("Pss:"):
                        pss += int(line.split()[1])
        except OSError:
            pass
    return rss / 1024, pss / 1024


def cpu_ms(pid):
    """CPU time (user + system) the process and its live descendants have used, in ms: steadier
    than wall-clock time on a busy machine."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for member in tree(pid):
        try:
            with open("/proc/%d/stat" % member) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return total * 1000.0 / ticks


def kill_tree(process):
    # The launcher first: a bootstrap that saw its runtime die would start the crash reporter.
    for member in tree(process.pid):
        try:
            os.kill(member, 9)
        except OSError:
            pass
    process.wait()


# -- scenarios ---------------------------------------------------------------------------------


def pool_start(launch, api, handler, count, env):
    """exec to `count` workers polling; then the tree's memory."""
    api.reset()
    process, started = launch(handler, env)
    api.process = process
    try:
        polled = api.wait(lambda: api.polling_count() >= count)
        cpu = cpu_ms(process.pid)
        time.sleep(0.2)  # let the last worker's page faults settle before reading memory
        rss, pss = memory_mb(process.pid)
        return {"ready_ms": (polled - started) * 1000, "cpu_ms": cpu, "rss_mb": rss, "pss_mb": pss}
    finally:
        kill_tree(process)
        api.reset()


def pool_throughput(launch, api, handler, count, env, invokes, wait_s):
    api.reset()
    process, started = launch(handler, env)
    api.process = process
    expected = b'"ok"'

    def check(body):
        if body != expected:
            raise BenchmarkError("wrong response: %r" % body[:300])

    try:
        api.wait(lambda: api.polling_count() >= count)
        api.check = check
        elapsed = api.serve(invokes, b'{"wait": %s}' % str(wait_s).encode())
        return {"per_s": invokes / elapsed}
    finally:
        kill_tree(process)
        api.reset()


def restore_to_next(launch, api, handler, env):
    api.reset()
    process, started = launch(handler, dict(env, AWS_LAMBDA_INITIALIZATION_TYPE="snap-start"))
    api.process = process
    try:
        api.wait(lambda: api.first_next_at is not None)
        if api.restored_at is None:
            raise BenchmarkError("the runtime polled /next without calling /restore/next")
        return {"restore_ms": (api.first_next_at - api.restored_at) * 1000}
    finally:
        kill_tree(process)
        api.reset()


def start_process(runtime, api, handler, env, base_env, python):
    """Like bench.Runtime.start, with extra variables, against the MultiAPI."""
    environ = dict(
        base_env,
        AWS_LAMBDA_RUNTIME_API=api.address,
        _HANDLER=handler,
        LAMBDA_TASK_ROOT=runtime.task_root,
        SHIM_PYTHON=python,
        **runtime.env,
    )
    environ.update(env)
    if runtime.name == "awslambdaric":
        environ["PYTHONPATH"] = runtime.task_root
    started = time.perf_counter()
    process = subprocess.Popen(
        runtime.command(handler),
        env=environ,
        cwd=runtime.task_root,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return process, started
