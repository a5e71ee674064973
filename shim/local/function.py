"""A function as Lambda runs it: one execution environment at a time, restarted when it dies.

`Function` is what `shim invoke`, `shim serve`, the pytest plugin and the demo
share. It starts the real bootstrap (see shim.local.environment), measures the init and
each invoke, enforces the timeout the way Lambda does (kill the runtime, report
"Task timed out", start a fresh one for the next invoke: a cold start again),
and returns an `InvokeResult` (shim.local.result) that can print Lambda's
START/END/REPORT lines. Waiting on one invoke's answer, and Lambda's error bodies
when it does not come, are in shim.local.exchange.

    fn = Function(task_root, config=FunctionConfig(handler="handler.Handle", timeout=3))
    result = fn.invoke({"name": "Ada"})
    print(result.payload, result.report_line())
    fn.stop()

Its settings are a shim.local.project.FunctionConfig (the project file's, with
a command's flags or the fixture's arguments over them). The older keywords
(handler, timeout_s, memory_mb, env, function_name, max_concurrency, snapstart)
still work and override the config. shim.local.taskroot.prepare() makes the task
root from a directory or a zip.
"""

import threading
import time
import uuid

from shim.local import exchange, snapstart, workerlogs
from shim.local.environment import Environment
from shim.local.project import FunctionConfig
from shim.local.runconfig import environment_of, interpreter_for, target_python  # noqa: F401

# Their homes are shim.local.result and shim.local.taskroot; importable from here too, as before.
from shim.local.result import InvokeResult, for_terminal, json_bytes as _json, parse_line, parse_logs  # noqa: F401
from shim.local.taskroot import TaskRoot, prepare, remove_tree  # noqa: F401
from shim.runtime import errors

INIT_TIMEOUT_S = 10.0  # Lambda's limit for the init phase
SHUTDOWN_GRACE_MS = 500  # Lambda's for a runtime with an internal extension


class Function:
    """The function at task_root, run by one execution environment at a time.

    The environment starts on the first invoke (or on start()), is reused while
    it lives (warm starts), and is replaced after a timeout, a crash or a failed
    init: the next invoke is then a cold start, with its Init Duration.
    echo(stream, text), if given, sees the runtime's output live.
    """

    def __init__(
        self,
        task_root,
        handler=None,
        *,
        config=None,
        memory_mb=None,
        timeout_s=None,
        env=None,
        function_name=None,
        bootstrap=None,
        python=None,
        init_timeout_s=INIT_TIMEOUT_S,
        echo=None,
        max_concurrency=None,
        snapstart=None,
        isolated=True,
        runtime_packages=(),
    ):
        """task_root: a directory, or a TaskRoot (its env and the stand-in /opt of its layers are used).
        env: variables over everything else (TaskRoot's < env file < config.environment < env)."""
        if timeout_s is not None and timeout_s <= 0:
            raise ValueError("timeout must be more than 0 seconds")
        self.config = config = (config or FunctionConfig()).with_overrides(
            handler=handler,
            memory=memory_mb,
            timeout=timeout_s,
            function_name=function_name,
            max_concurrency=max_concurrency,
            snapstart=snapstart,
        )
        self.task_root = str(getattr(task_root, "path", task_root))
        self.handler = config.handler
        self.memory_mb = config.memory
        self.timeout_s = float(config.timeout)
        self.env = environment_of(config, getattr(task_root, "env", None), env)
        # Lambda Managed Instances: up to N invokes at once in one environment (shim.runtime.concurrency).
        self.max_concurrency = max_concurrency = config.max_concurrency
        if max_concurrency:
            self.env["AWS_LAMBDA_MAX_CONCURRENCY"] = str(max_concurrency)
        # SnapStart: init up to the snapshot once, then restore from it (shim.local.snapstart).
        self.snapstart = config.snapstart
        if self.snapstart:
            self.env["AWS_LAMBDA_INITIALIZATION_TYPE"] = "snap-start"
        bootstrap = bootstrap or getattr(task_root, "bootstrap", None)  # e.g. /opt/bootstrap of a runtime layer
        python = python or interpreter_for(target_python(config, task_root))
        runtime_packages = tuple(runtime_packages)
        if config.with_boto3:
            from shim.local import sandbox

            sandbox.closure(sandbox.BOTO3)  # not installed: one line now, not a failed init later
            runtime_packages += tuple(name for name in sandbox.BOTO3 if name not in runtime_packages)
        self.restore_ms = None  # of the current restore, with snapstart
        self._restore_again = False
        self.function_name = config.lambda_name
        self.bootstrap = bootstrap
        self.python = python
        self.isolated = isolated  # see shim.local.environment.Environment
        self.runtime_packages = tuple(runtime_packages)
        self.init_timeout_s = init_timeout_s
        self.echo = echo
        self.environment = None  # the live Environment, if any
        self.init_ms = None  # of the current environment
        self.starts = 0  # how many environments were started (cold starts)
        self.init_failure = None  # (error body, errorType) while the current environment's init failed
        self._init_mark = 0
        self._init_from = 0  # where the current environment's init (or restore) output starts
        self._shutdown = None  # (what it said, ms it took, an extension was registered) at the last stop
        self._fresh = False  # started, not invoked yet: its first invoke reports the init
        self.observers = []  # callables given each InvokeResult (the pytest plugin keeps the logs)
        self._unclaimed = workerlogs.Unclaimed()  # Managed Instances: the environment's own records
        self.configure_environment = None  # called with each Environment before it starts (shim.local.debugging)
        self.timeout_enforced = True  # False: a debugger holds the invoke; its deadline stands, nobody kills it
        # One invoke at a time per environment, as in Lambda; N with Managed Instances' max concurrency.
        self._lock = threading.BoundedSemaphore(max_concurrency or 1)
        self._starting = threading.Lock()
        self._state = threading.RLock()  # guards starting against close()
        self._closed = False

    # -- lifecycle ------------------------------------------------------------------------------

    @property
    def pid(self):
        return self.environment.process.pid if self.environment and self.environment.process else None

    @property
    def alive(self):
        return self.environment is not None and self.environment.returncode is None and self.init_failure is None

    def start(self):
        """Start a fresh environment (stopping any old one) and wait for its init; the init ms or None."""
        with self._state:
            if self._closed:
                raise RuntimeError("the function was closed")
            self.stop()
            environment = Environment(
                self.task_root,
                config=self.config,
                bootstrap=self.bootstrap,
                python=self.python,
                env=self.env,
                process_group=True,
                on_line=self.echo,
                isolated=self.isolated,
                runtime_packages=self.runtime_packages,
            )
            if self.configure_environment is not None:
                self.configure_environment(environment)
            self.environment = environment
            self._init_from = 0
            self.starts += 1
            try:
                environment.start()
            except OSError as exc:  # e.g. a bootstrap of the user's own that is not executable
                environment.api.stop()
                message = "Couldn't start the bootstrap %s: %s" % (environment.bootstrap, exc.strerror or exc)
                self.init_failure = (
                    _json({"errorMessage": message, "errorType": errors.INVALID_ENTRYPOINT}),
                    errors.INVALID_ENTRYPOINT,
                )
                self.init_ms, self._fresh, self._init_mark = 0.0, True, 0
                return None
        # Not under the lock: close() may stop it meanwhile, and then the init just fails.
        if self.snapstart:
            ready_ms = snapstart.snapshot(environment, self.init_timeout_s, self.echo)
            self.restore_ms = snapstart.restore(environment, self.echo) if ready_ms is not None else None
        else:
            ready_ms = environment.wait_ready(self.init_timeout_s)
        self.init_ms = ready_ms
        self._fresh = True
        self.init_failure = None
        if self.snapstart and ready_ms is not None and self.restore_ms is None:
            self.init_failure = snapstart.describe_failure(environment)
        if ready_ms is None:
            environment.sample_memory()
            self.init_failure = exchange.init_failure(environment, self.init_timeout_s)
            self.init_ms = (time.monotonic() - environment.started_at) * 1000
            if environment.api.init_error is not None:
                self.init_ms = (environment.api.init_error.answered_at - environment.started_at) * 1000
        environment.drain()
        environment.end_lines()
        self._init_mark = environment.mark()
        return ready_ms

    def stop(self, grace_s=5.0):
        """Stop the current environment (SIGTERM, then SIGKILL after grace_s); the next invoke starts a fresh one."""
        with self._state:
            environment, self.environment = self.environment, None
        if environment is not None:
            environment.on_line = None  # what it says while stopping belongs to no invoke
            mark, started = environment.mark(), time.monotonic()
            running = environment.returncode is None
            environment.stop(grace_s)
            environment.join_readers(0.5)
            if running:
                self._shutdown = (
                    environment.since(mark),
                    (time.monotonic() - started) * 1000,
                    bool(environment.api.extensions.registered),
                )

    @property
    def wants_sigterm(self):
        """Did the last environment stopped register an extension, so that Lambda would send it SIGTERM?"""
        return self._shutdown is not None and self._shutdown[2]

    def shutdown_lines(self):
        """What the last environment stopped said on its way out (SIGTERM, as Lambda sends it only when
        an extension is registered: see wants_sigterm), and a line if it took longer than Lambda allows."""
        if self._shutdown is None:
            return []
        text, took_ms, extension = self._shutdown
        lines = [line + "\n" for line in for_terminal(text).splitlines()]
        if extension and took_ms > SHUTDOWN_GRACE_MS:
            lines.append("(stopped in %.0f ms: on Lambda, SIGKILL after %d ms)\n" % (took_ms, SHUTDOWN_GRACE_MS))
        return lines

    def close(self, grace_s=2.0):
        """Stop for good: no environment is started after this, even by an invoke in flight.

        The runtime finishes an invoke in flight before it obeys SIGTERM; like
        Lambda at shutdown, give it a short grace, then kill it.
        """
        with self._state:
            self._closed = True
            self.stop(grace_s)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- invoking --------------------------------------------------------------------------------

    def invoke(self, event, *, request_id=None, on_stream=None, **options):
        """Run one event (a JSON-able object, or bytes passed as they are) and return its InvokeResult.

        on_stream, if given, is called in this thread with ("start", content type) when a streamed
        response begins and ("chunk", bytes) as each chunk arrives (keep_stream=False: not kept)."""
        result = self._invoke(event, request_id, on_stream, options)
        for observe in self.observers:
            observe(result)
        return result

    def _invoke(self, event, request_id, on_stream, options):
        with self._lock:
            with self._starting:
                if not self.alive:
                    self.start()
                elif self._restore_again:  # SnapStart: the restored environment went; the snapshot stays
                    self._restore_again = False
                    self._init_from = self.environment.mark()
                    self.restore_ms = snapstart.restore(self.environment, self.echo)
                    if self.restore_ms is None:
                        self.init_failure = snapstart.describe_failure(self.environment)
                    self._fresh, self._init_mark = True, self.environment.mark()
                environment, cold, self._fresh = self.environment, self._fresh, False
            if environment is None:
                raise RuntimeError("the function was closed")
            request_id = request_id or str(uuid.uuid4())
            restore_ms = self.restore_ms if cold and self.snapstart else None
            init_ms = self.init_ms if cold and restore_ms is None else None
            init_logs = environment.since(self._init_from, until=self._init_mark) if cold else ""
            if self.echo is not None:
                self.echo("platform", InvokeResult(request_id=request_id, kind="").start_line() + "\n")
            if self.init_failure is not None:
                return self._after_init_failure(request_id, init_ms)
            mark, polls = environment.mark(), environment.api.polls
            deadline_ms = int((time.time() + self.timeout_s) * 1000)
            pending = environment.api.submit(event, request_id=request_id, deadline_ms=deadline_ms, **options)
            result, elapsed_ms = exchange.wait(self, environment, pending, on_stream)

            def finish(kind, body, error_type=None, content_type="application/json", duration_ms=elapsed_ms):
                return InvokeResult(
                    request_id=request_id,
                    kind=kind,
                    body=body,
                    content_type=content_type,
                    error_type=error_type,
                    duration_ms=duration_ms,
                    init_ms=init_ms,
                    restore_ms=restore_ms,
                    memory_mb=self.memory_mb,
                    max_memory_kb=environment.peak_rss_kb,
                    logs=self._logs_of(environment.since(mark), request_id, environment),
                    init_logs=init_logs,
                    **exchange.stream_fields(pending),
                )

            if result is None:  # timed out
                if self.max_concurrency:
                    pass  # Managed Instances do not stop the worker: Lambda answers, the worker runs on.
                elif self.snapstart and snapstart.kill_restored(environment):
                    self._restore_again = True  # the next invoke restores from the same snapshot
                else:  # Lambda stops the whole environment
                    environment.sample_memory()
                    environment.kill()
                    environment.join_readers()
                    self.stop()
                return finish("timeout", exchange.timed_out(request_id, elapsed_ms), errors.TIMED_OUT)
            if result.cut and exchange.exited(environment):  # it died mid-stream
                result.kind = "lost"
            if (
                result.kind != "lost"
                and result.error_type == errors.EXIT_ERROR
                and environment.returncode is None
                and (self.max_concurrency or (self.snapstart and snapstart.kill_restored(environment)))
            ):
                # A worker died (Managed Instances go on with the others), or a restored environment
                # did (the next invoke restores the snapshot again); its supervisor answered.
                self._restore_again = self.snapstart
                environment.drain()
                return finish("lost", result.body, errors.EXIT_ERROR)
            if result.kind == "lost" or result.error_type == errors.EXIT_ERROR:
                environment.join_readers()
                self.stop()
                if result.kind != "lost":  # the supervising bootstrap answered: exit reason and stack
                    return finish("lost", result.body, errors.EXIT_ERROR)
                return finish("lost", exchange.runtime_exited(request_id, environment.returncode), errors.EXIT_ERROR)
            if result.kind == "init_error":  # resolved by an init error that came after the init looked done
                environment.join_readers(0.5)
                self.stop()
                return finish("init_error", result.body, result.error_type or errors.UNKNOWN)
            # Lambda's Duration runs until the runtime asks for the next event, and by then
            # it has written all its logs for this one. (With several workers, any may poll next.)
            polled = None if self.max_concurrency else exchange.wait_for_next_poll(environment, polls + 1)
            duration_ms = ((polled or result.answered_at) - pending.taken_at) * 1000
            environment.sample_memory()
            environment.drain()
            environment.end_lines()
            if result.stream_error is not None:  # failed after its first byte: Lambda's error trailers
                return finish(
                    "error",
                    result.body,
                    result.stream_error.get("errorType") or "Unhandled",
                    content_type=result.content_type,
                    duration_ms=duration_ms,
                )
            if result.kind == "response":
                return finish("response", result.body, content_type=result.content_type, duration_ms=duration_ms)
            return finish("error", result.body, result.error_type or "Unhandled", duration_ms=duration_ms)

    def _logs_of(self, text, request_id, environment):
        """An invoke's log lines. With several at once (Managed Instances, always JSON), the records that
        carry its requestId, after the environment's own not yet shown (shim.local.workerlogs); plain
        print() lines cannot be told apart and are left out."""
        if not self.max_concurrency:
            return text
        return self._unclaimed.take(environment, self._init_mark) + "".join(
            line + "\n"
            for line in text.split("\n")
            if line.startswith("{") and parse_line(line).get("requestId") == request_id
        )

    def _after_init_failure(self, request_id, init_ms):
        environment = self.environment
        body, error_type = self.init_failure
        if environment.returncode is None and environment.api.init_error is not None:
            # The runtime exits by itself after /init/error; give it a moment to say why.
            try:
                environment.process.wait(1.0)
            except Exception:  # noqa: BLE001 - still running: stopped below anyway
                pass
        environment.join_readers(0.5)
        self.stop()  # Lambda retries the init on the next invoke
        return InvokeResult(
            request_id=request_id,
            kind="init_error",
            body=body,
            content_type="application/json",
            error_type=error_type,
            init_ms=init_ms,
            memory_mb=self.memory_mb,
            max_memory_kb=environment.peak_rss_kb,
            init_logs=environment.since(0),
        )
