"""Lambda Managed Instances: AWS_LAMBDA_MAX_CONCURRENCY=N invokes at once in one execution environment.

The contract (AWS docs, "custom runtimes" and "Python runtime for Managed
Instances"): the runtime takes up to N events at once from /next and answers them
by request id. For Python, AWS runs N worker processes, each with its own init and
its own connection, each handling one request at a time; awslambdaric forks N
workers before importing the handler. So does this module by default:

- per-worker init (default): the runtime forks N workers, each of which imports
  the handler (you will see N inits in the logs, as AWS documents); a few standard
  library modules nearly every function uses are loaded once before the fork (PRELOAD);
- SHIM_FORK_AFTER_INIT=1 (opt-in): the runtime imports the handler once, then
  forks N workers that share the imported code copy-on-write: faster to N workers
  polling and less memory, but everything init opened is shared by every worker. A
  connection opened at import (a database, an SDK client that already connected)
  would carry several workers' requests at once and mix their bytes; sockets open
  at fork time are named in a warning. Connect in the handler, or again in each
  worker (os.register_at_fork(after_in_child=...));
- SHIM_ASYNC_CONCURRENCY=1 (opt-in, `async def` handlers): one process, one event
  loop, N polls at once (shim.runtime.aioconcurrency). Module state is shared by
  every request in flight.

This process supervises the workers (shim.runtime.workers): a worker that dies
mid-invoke has its request answered with Runtime.ExitError; as AWS documents
("the execution environment continues operating with the remaining healthy
workers") it is not replaced, and when the last one is gone the runtime exits
(Lambda then replaces the environment). SIGTERM is forwarded to every worker,
which answers its request in flight, runs its shutdown callbacks and exits; one
still running at the end of the grace period is killed and its request answered.

Logs are always in Lambda's JSON format here (Managed Instances support no other;
shim.runtime.logs), and each worker's lines carry its own request's requestId and
trace id. With _LAMBDA_TELEMETRY_LOG_FD_PROVIDER_SOCKET set, each worker connects
two streams to that Unix socket and makes them its stdout and stderr, as the
official client does; this process keeps the output Lambda gave it.
"""

import os
import sys

from shim.runtime import crash, errors, extension, lifeline, logs, shutdown, workers
from shim.runtime.signals import FatalSignal

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (the cold start)
if TYPE_CHECKING:
    from typing import Callable, Collection, Dict, List, NoReturn

    from shim.runtime.main import Recorder, Runtime

LIMIT = 1024
SOCKET_ENV = "_LAMBDA_TELEMETRY_LOG_FD_PROVIDER_SOCKET"
# Standard-library modules nearly every function imports (and that awslambdaric's process has
# loaded before it forks its workers): with an init per worker, loaded once here before the fork
# and shared copy-on-write, instead of once in each worker. The function's own modules are still
# imported by each worker.
PRELOAD = (
    "logging",
    "re",
    "enum",
    "typing",
    "decimal",
    "datetime",
    "uuid",
    "socket",
    "threading",
    "traceback",
    "base64",
    "urllib.parse",
)


def parse(value: "str | None") -> "int | None":
    """AWS_LAMBDA_MAX_CONCURRENCY as a number of workers, or None if it is not one."""
    try:
        number = int((value or "").strip())
    except ValueError:
        return None
    return number if 1 <= number <= LIMIT else None


def run(runtime: "Runtime") -> "None":
    """Serve N at once: the init (here or in each worker), then the workers' invoke loops."""
    environ = runtime.environ
    raw = environ.get("AWS_LAMBDA_MAX_CONCURRENCY")
    count = parse(raw)
    if count is None:
        _refuse(runtime, raw)
    mode = (
        "async"
        if environ.get("SHIM_ASYNC_CONCURRENCY") == "1"
        else "fork after init"
        if environ.get("SHIM_FORK_AFTER_INIT") == "1"
        else "init per worker"
    )
    level = runtime.log.config.level
    if level is not None and level <= 10:  # awslambdaric logs the same event, at DEBUG too
        runtime.log.emit(
            {
                "event": "runtime_worker_pool_initializing",
                "logger": "lambda-shim",
                "location": None,
                "workerCount": 1 if mode == "async" else count,
                "executionEnvironmentMaxConcurrency": count,
                "mode": mode,
            },
            10,
            "debug",
        )
    if mode == "async":
        from shim.runtime import aioconcurrency

        aioconcurrency.run(runtime, count)
        return
    processes = WorkerProcesses(runtime, count, environ.get(SOCKET_ENV) or None)
    if mode == "fork after init":
        processes.fork_after_init()
    else:
        processes.init_per_worker()


def _refuse(runtime: "Runtime", raw: "str | None") -> "NoReturn":
    """An AWS_LAMBDA_MAX_CONCURRENCY that is no number of workers: an init error."""
    fault = errors.Fault(
        errors.INVALID_CONFIGURATION,
        "AWS_LAMBDA_MAX_CONCURRENCY must be a whole number from 1 to %d, got %r" % (LIMIT, raw),
    )
    error = errors.payload(fault.error_type, fault.message, [])
    logs.uncaught(error)
    try:
        runtime.api.init_error(errors.encode(error), fault.error_type)
    except Exception as exc:  # noqa: BLE001 - said in the logs already
        logs.runtime_error("Could not report the init error to the Runtime API: %s" % exc)
    runtime.recorder.end()
    sys.exit(1)


class WorkerProcesses:
    """N forked workers, each serving one request at a time with its own connection; this process
    supervises them (shim.runtime.workers) and exits when the last one is gone."""

    def __init__(self, runtime: "Runtime", count: "int", log_socket: "str | None") -> "None":
        self.runtime = runtime
        self.count = count
        self.log_socket = log_socket
        self.supervisor = workers.Supervisor(
            runtime.recorder.base, runtime.api.address, shutdown.budget_s() + 0.15, runtime.guard.wakeup_fd()
        )

    def init_per_worker(self) -> "NoReturn":
        """Fork first; each worker imports the handler. Lambda closes extension registration at the
        first /next, so the first worker to finish its init asks this process (which outlives any
        worker) whether to register the shutdown extension, and every worker waits for the answer
        before its first /next: one pipe each way, read only once."""
        runtime = self.runtime
        ready_r, ready_w = os.pipe()
        go_r, go_w = os.pipe()

        def work(recorder: "Recorder") -> "None":
            os.close(ready_r)
            os.close(go_w)
            self._own_output()
            runtime.in_child(recorder, reconnect=True)
            try:
                runtime.init(others_may_report=True)
                runtime.guard.adopt()
                os.write(ready_w, b"y" if shutdown.wanted(runtime.guard) else b"n")
                os.close(ready_w)
                while os.read(go_r, 1):  # EOF: the decision is made
                    pass
                os.close(go_r)
            except FatalSignal as sig:  # stopped while still importing, or waiting for the others: not a failure
                shutdown.stop_in_init(sig, recorder)
            extension.leave_to_parent()
            runtime.serve()

        for name in PRELOAD:
            try:
                __import__(name)
            except ImportError:
                pass
        runtime.recorder.supervise()
        self._spawn_all(work)
        os.close(ready_w)
        os.close(go_r)
        first = os.read(ready_r, 1)  # b"" if every worker died in its init
        if first == b"y":
            extension.register(runtime.api.address)
        shutdown.init_over()
        os.close(go_w)
        self._supervise()

    def fork_after_init(self) -> "NoReturn":
        """Init here, once; then fork workers that go straight to /next."""
        runtime = self.runtime
        runtime.init()
        runtime.guard.adopt()
        extension.before_first_next(runtime.api.address, runtime.guard)
        self._warn_about_sockets()

        def work(recorder: "Recorder") -> "None":
            extension.forget_in_child()
            self._own_output()
            runtime.in_child(recorder, reconnect=True)
            runtime.serve()

        runtime.recorder.supervise()
        self._spawn_all(work)
        self._supervise()

    # -- the parts ---------------------------------------------------------------------------------

    def _spawn_all(self, work: "Callable[[Recorder], None]") -> "None":
        import _signal

        # Signals wait until every worker exists and this process forwards them.
        previous = _signal.pthread_sigmask(_signal.SIG_BLOCK, workers.FORWARDED)
        try:
            for index in range(self.count):
                self.supervisor.spawn("w%d" % index, work)
            self.supervisor.take_signals()
        finally:
            _signal.pthread_sigmask(_signal.SIG_SETMASK, previous)

    def _supervise(self) -> "NoReturn":
        """Until every worker is gone; then exit (0 when stopped by SIGTERM)."""
        lifeline.watch()
        supervisor = self.supervisor
        while True:
            got = supervisor.reap()
            if got is None:
                break
            child, status = got
            if supervisor.stopping is None and status != 0:
                logs.runtime_error(
                    "Worker %s (pid %d) exited with %s; %d of %d workers remain"
                    % (child.tag, child.pid, crash.describe_exit(status), len(supervisor.children), self.count)
                )
        stopping = supervisor.stopping
        if stopping is None:
            logs.runtime_error("All %d workers have exited; the runtime exits" % self.count)
        self.runtime.recorder.end()  # every worker was answered for: nothing left for the bootstrap
        shutdown.flush()
        os._exit(1 if stopping is None else FatalSignal(stopping).status)

    def _own_output(self) -> "None":
        """In a worker: stdout and stderr to the telemetry socket, when Lambda provides one."""
        if not self.log_socket:
            return
        import _socket

        shutdown.flush()
        for fd in (1, 2):
            sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
            try:
                sock.connect(self.log_socket)
                os.dup2(sock.fileno(), fd)
            finally:
                sock.close()
        if sys.__stdout__ is not None:  # None only when Python started without a stdout
            self.runtime.log.sink = logs.StdoutSink(sys.__stdout__)

    def _warn_about_sockets(self) -> "None":
        own = extension.own_fds()
        fileno = self.runtime.api.fileno()
        if fileno is not None:
            own.add(fileno)
        found = open_sockets(own)
        if found:
            logs.runtime_error(
                "SHIM_FORK_AFTER_INIT: %d socket%s open at fork time will be shared by all %d workers: %s. A "
                "connection made during init (a database, an SDK client that already connected) would carry "
                "several workers' requests at once and mix their bytes. Connect in the handler, or again in "
                "each worker (os.register_at_fork(after_in_child=...))."
                % (len(found), "" if len(found) == 1 else "s", self.count, "; ".join(found))
            )


def open_sockets(exclude: "Collection[int]" = ()) -> "List[str]":
    """Sockets among this process's descriptors (not stdin/stdout/stderr, not `exclude`), described."""
    found: "List[str]" = []
    try:
        names = os.listdir("/proc/self/fd")
    except OSError:
        return found
    peers: "Dict[str, str] | None" = None
    for name in sorted(names, key=int):
        fd = int(name)
        if fd <= 2 or fd in exclude:
            continue
        try:
            target = os.readlink("/proc/self/fd/" + name)
        except OSError:
            continue
        if target.startswith("socket:["):
            if peers is None:
                peers = _socket_table()
            found.append("fd %d (%s)" % (fd, peers.get(target[8:-1], "socket")))
    return found


def _socket_table() -> "Dict[str, str]":
    """inode -> 'tcp 127.0.0.1:5000 -> 127.0.0.1:5432' from /proc/net (IPv4 in full, others by kind)."""
    table: "Dict[str, str]" = {}
    for kind in ("tcp", "udp", "tcp6", "udp6", "unix"):
        try:
            with open("/proc/net/" + kind) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    if kind == "unix":
                        if len(fields) >= 7:
                            table[fields[6]] = "unix" + (" " + fields[7] if len(fields) > 7 else "")
                        continue
                    if len(fields) < 10:
                        continue
                    local, remote = fields[1], fields[2]
                    if kind in ("tcp", "udp"):
                        table[fields[9]] = "%s %s -> %s" % (kind, _address(local), _address(remote))
                    else:
                        table[fields[9]] = kind
        except (OSError, StopIteration):
            continue
    return table


def _address(hex_pair: "str") -> "str":
    host, port = hex_pair.split(":")
    octets = bytes.fromhex(host)[::-1]
    return "%s:%d" % (".".join(str(b) for b in octets), int(port, 16))
