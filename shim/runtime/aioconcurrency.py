"""SHIM_ASYNC_CONCURRENCY=1: N invokes at once in one process, on one event loop (`async def` handlers).

With AWS_LAMBDA_MAX_CONCURRENCY=N, N threads each hold a connection to the Runtime
API and poll /next on it; each event becomes a task on the one event loop (the main
thread's), and its answer goes back on the connection it came from. A handler that
awaits I/O lets the others run, so one process serves N requests at once for about
the memory of one, where Lambda's own Python runtime uses N processes.

What that changes for the function:
- module state (globals, caches, clients made at import) is shared by every request
  in flight, and the handler must not block the loop (a time.sleep stalls them all);
- each task runs in its own copy of the context, so log lines carry their own
  request's requestId and trace id;
- _X_AMZN_TRACE_ID is not set: one environment variable cannot hold N trace ids
  (each log line has its own xrayTraceId);
- should the process die (a native crash), the bootstrap answers every request in
  flight: they are all in its record (shim.runtime.crash, "M");
- a sync handler is an init error (Runtime.InvalidConfiguration): use the process
  workers (without SHIM_ASYNC_CONCURRENCY) for those.

Signals never interrupt a task here: the Guard only records them and wakes the loop.
On SIGTERM every task in flight is cancelled and answered ("Handler was interrupted
by SIGTERM"), then the shutdown callbacks run and the process exits.
"""

import sys

from shim.runtime import aio, errors, extension, invoke, lifeline, logs, marshal, signals, shutdown
from shim.runtime.client import RuntimeAPI, RuntimeAPIError
from shim.runtime.context import LambdaContext
from shim.runtime.signals import TERMINATING, FatalSignal

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (the cold start)
if TYPE_CHECKING:
    import asyncio
    from typing import Any, Dict, Optional, Set

    from shim.runtime.client import Invocation
    from shim.runtime.invoke import Answer
    from shim.runtime.main import Handler, Runtime


def _require_async(handler: "Handler") -> "Handler":
    if not aio.is_async(handler):
        raise errors.Fault(
            errors.INVALID_CONFIGURATION,
            "SHIM_ASYNC_CONCURRENCY=1 serves `async def` handlers only, and %s is not one; unset it "
            "to serve a sync handler with one worker process per concurrent request"
            % getattr(handler, "__qualname__", handler),
        )
    return handler


def run(runtime: "Runtime", count: "int") -> "None":
    """The init (an async handler only), then N polls at once on the one event loop, until stopped."""
    runtime.init(adapt=_require_async)
    runtime.guard.adopt()
    extension.before_first_next(runtime.api.address, runtime.guard)
    lifeline.watch()
    TaskLoop(runtime, count).run()


class TaskLoop:
    """The event loop that runs each event as a task, fed by N poller threads, each with its own connection."""

    def __init__(self, runtime: "Runtime", count: "int") -> "None":
        import asyncio
        import threading

        self.asyncio = asyncio
        self.runtime = runtime  # its recorder holds every request in flight, for the bootstrap should we crash
        self.guard = runtime.guard
        assert runtime.handler is not None, "init() comes first"
        self.handler = runtime.handler
        self.count = count
        self.in_flight: "Dict[str, Optional[str]]" = {}
        self.loop = aio.event_loop()  # the environment's one loop (made at init when the handler is async)
        self.tasks: "Set[asyncio.Task[Any]]" = set()  # tasks in flight (the loop's thread only)
        self.active = 0  # events taken and not yet answered (any thread)
        self.lock = threading.Condition()
        self.threading = threading
        self.stopping: "FatalSignal | None" = None  # the FatalSignal we stop on
        self.failure: "BaseException | None" = None  # a Runtime API failure that ends the runtime
        self._deadline = 0.0

    def run(self) -> "None":
        guard = self.guard
        guard.where = guard.RUNTIME  # record signals, never raise them into a task
        guard.notify = lambda: self.loop.call_soon_threadsafe(self._on_signal)
        # A signal that lands just before the loop's select(), or in a thread of the function's
        # (run_in_executor's), would wake it only at its next event: the wake-up pipe does.
        wakeup = guard.wakeup_fd()
        if wakeup is not None:  # None only outside the main thread
            self.loop.add_reader(wakeup, signals.drain, wakeup)
        for index in range(self.count):
            poller = self.threading.Thread(target=self._poll, name="lambda-shim-poll-%d" % index, daemon=True)
            signals.start_thread(poller.start)  # signals go to the main thread, which runs the loop
        self.loop.run_forever()
        if self.failure is not None:
            logs.runtime_error("Runtime API failure, exiting: %s" % self.failure)
            shutdown.flush()
            sys.exit(1)
        assert self.stopping is not None  # the loop stops on a Runtime API failure or on a terminating signal
        shutdown.stop(self.stopping)

    # -- the pollers' threads --------------------------------------------------------------------

    def _poll(self) -> "None":
        runtime = self.runtime
        api = RuntimeAPI(runtime.api.address, pipeline=runtime.api.pipeline)
        try:
            while True:
                invocation = api.next()
                if not invocation.request_id:
                    logs.runtime_error("The Runtime API sent an event without a request id; it cannot be answered")
                    continue
                with self.lock:
                    self.active += 1
                    self.in_flight[invocation.request_id] = invocation.invocation_id
                    runtime.recorder.many(list(self.in_flight.items()))
                try:
                    if self.stopping is not None:  # taken while stopping: answered, not run
                        answer = invoke.failure(self.stopping, invocation.request_id)
                    else:
                        answer = self.asyncio.run_coroutine_threadsafe(self._run(invocation), self.loop).result()
                    runtime.answer(invocation, answer, api)
                finally:
                    with self.lock:
                        self.active -= 1
                        self.in_flight.pop(invocation.request_id, None)
                        runtime.recorder.many(list(self.in_flight.items()))
                        self.lock.notify_all()
        except (RuntimeAPIError, ConnectionError) as exc:
            if self.stopping is None and self.failure is None:
                self.failure = exc
                self.loop.call_soon_threadsafe(self.loop.stop)

    # -- the loop's thread -------------------------------------------------------------------------

    async def _run(self, invocation: "Invocation") -> "Answer":
        """The handler on one event, as a task of its own: its Answer, whatever happens."""
        task = self.asyncio.current_task()
        assert task is not None  # this coroutine runs as a task of the loop
        self.tasks.add(task)
        logs.start_invoke(invocation, process_wide=False)  # this task's own context; others run beside it
        try:
            context = LambdaContext(invocation)
            event = marshal.decode_event(invocation.body, invocation.content_type)
            result = await self.handler(event, context)
            body, content_type = marshal.encode_result(result)
            return invoke.Answer(body, content_type)
        except BaseException as exc:  # noqa: BLE001 - cancelled, sys.exit, anything: the request is answered
            if isinstance(exc, self.asyncio.CancelledError) and self.stopping is not None:
                exc = self.stopping
            return invoke.failure(exc, invocation.request_id)
        finally:
            self.tasks.discard(task)

    def _on_signal(self) -> "None":
        signum, self.guard.pending = self.guard.pending, None
        if signum not in TERMINATING or self.stopping is not None:
            return
        self.stopping = FatalSignal(signum, self.guard.exit_status)
        for task in list(self.tasks):
            task.cancel()
        self._deadline = self.loop.time() + shutdown.budget_s()
        self.loop.call_soon(self._when_answered)

    def _when_answered(self) -> "None":
        with self.lock:
            done = self.active == 0
        if done or self.loop.time() >= self._deadline:
            self.loop.stop()
        else:
            self.loop.call_later(0.005, self._when_answered)
