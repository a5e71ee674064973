"""The SnapStart checkpoint: runtime hooks around the snapshot, when AWS_LAMBDA_INITIALIZATION_TYPE=snap-start.

After init, as the official client does (awslambdaric's bootstrap.on_init_complete):

1. before-snapshot hooks, newest registration first; the registry is emptied as they run;
2. GET /runtime/restore/next, which returns once Lambda has restored the snapshot
   into a new execution environment (possibly much later, possibly many times);
3. after-restore hooks, in registration order;
4. then the invoke loop (Runtime.serve), as after any init.

A hook that raises in 1, or a failed restore/next, is an init error of type
Runtime.BeforeSnapshotError (POST /init/error; exit status 64); a hook that raises
in 3 is posted to /runtime/restore/error as Runtime.AfterRestoreError (exit status 65).
The error body is the official client's: errorType is the exception's class name.

Hooks come from snapshot_restore_py (a real copy, or shim.runtime.snapshot_hooks
standing in for it) and from shim.register_before_snapshot / register_after_restore,
which register into the same list, so their relative order is kept.

Between 2 and 3 the runtime refreshes what it holds from before the snapshot: the
`random` module's global generator is reseeded from os.urandom (a snapshot would
otherwise hand every restored environment the same sequence; tempfile's name
sequence likewise), the function settings the context caches are read again
(Lambda changes the log stream), and the Runtime API connection is dropped, so
the first /next opens a fresh one (no kept-alive socket crosses the snapshot:
the connection is also closed before restore/next). The runtime keeps no
clock-based values of its own; the function's own (tokens, cached timestamps,
connections) are for its after-restore hooks, as AWS documents.

Locally (shim invoke/serve --snapstart) the reply to restore/next may carry
protocol.RESTORE_FORK: the runtime then restores into a forked child and stays
at the snapshot point itself, supervising it; when the child is gone, it waits
on restore/next for the next restore. Every restore so starts from the same
memory, as on Lambda. Lambda never sends that header.
"""

import os
import sys

from shim.runtime import context, crash, errors, lifeline, logs, protocol, snapshot_hooks
from shim.runtime.client import RuntimeAPIError
from shim.runtime.signals import FatalSignal

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (the cold start)
if TYPE_CHECKING:
    from types import ModuleType
    from typing import Callable, NoReturn

    from shim.runtime.client import RuntimeAPI
    from shim.runtime.main import Recorder, Runtime

BEFORE_SNAPSHOT_EXIT = 64
AFTER_RESTORE_EXIT = 65
_FORK = protocol.RESTORE_FORK.lower().encode()


def run_before_snapshot(hooks: "ModuleType") -> "None":
    registry = hooks.get_before_snapshot()
    while registry:
        func, args, kwargs = registry.pop()
        func(*args, **kwargs)


def run_after_restore(hooks: "ModuleType") -> "None":
    for func, args, kwargs in hooks.get_after_restore():
        func(*args, **kwargs)


def run(runtime: "Runtime") -> "None":
    """After init: the hooks around the snapshot, then runtime.serve() in the restored process. Does not return."""
    from shim.runtime import extension

    api, recorder, guard = runtime.api, runtime.recorder, runtime.guard
    hooks = snapshot_hooks.registry()
    recorder.begin(crash.INIT, None)  # a native crash in a hook is an init error
    try:
        run_before_snapshot(hooks)
        guard.adopt()
        extension.before_first_next(api.address, guard)  # registration closes at restore/next too
        lifeline.watch()
        api.close()
        headers = api.restore_next()
    except FatalSignal:
        raise
    except BaseException as exc:  # noqa: BLE001 - whatever a hook raises fails the snapshot
        _fail(
            exc, errors.BEFORE_SNAPSHOT_ERROR, api.init_error, recorder, BEFORE_SNAPSHOT_EXIT, "A before-snapshot hook"
        )
    api.close()
    recorder.end()
    if headers.get(_FORK):
        _restore_in_children(runtime, hooks)
    else:
        _restored(runtime, hooks)


def _restored(runtime: "Runtime", hooks: "ModuleType") -> "None":
    recorder = runtime.recorder
    recorder.begin(crash.RESTORE, None)  # a native crash now goes to /restore/error
    refresh(runtime.api)
    try:
        run_after_restore(hooks)
    except BaseException as exc:  # noqa: BLE001
        _fail(
            exc,
            errors.AFTER_RESTORE_ERROR,
            runtime.api.restore_error,
            recorder,
            AFTER_RESTORE_EXIT,
            "An after-restore hook",
        )
    recorder.end()
    runtime.serve()


def refresh(api: "RuntimeAPI") -> "None":
    """What the runtime holds from before the snapshot that must differ in each restored environment."""
    random = sys.modules.get("random")
    if random is not None:
        random.seed()  # from os.urandom
    tempfile = sys.modules.get("tempfile")
    if tempfile is not None:
        tempfile._name_sequence = None  # type: ignore[attr-defined]  # rebuilt, reseeded, on next use
    context.forget_settings()
    api.close()


def _fail(
    exc: "BaseException",
    error_type: "str",
    report: "Callable[[bytes, str], object]",
    recorder: "Recorder",
    status: "int",
    culprit: "str",
) -> "NoReturn":
    """Report what a hook raised (report: the Runtime API call for this phase's error), then exit with status."""
    error, _ = errors.from_exception(exc, culprit=culprit)
    logs.uncaught(error, exc)
    try:
        report(errors.encode(error), error_type)
    except (RuntimeAPIError, OSError, ConnectionError) as failure:
        logs.runtime_error("Could not report %s to the Runtime API: %s" % (error_type, failure))
    recorder.end()
    sys.exit(status)


def _restore_in_children(runtime: "Runtime", hooks: "ModuleType") -> "None":
    """Locally: stay at the snapshot point; restore into a forked child, again and again. Never returns
    here (only the children go on, into serve)."""
    from shim.runtime import shutdown, workers

    api, recorder = runtime.api, runtime.recorder
    recorder.supervise()
    supervisor = workers.Supervisor(recorder.base, api.address, shutdown.budget_s() + 0.15, runtime.guard.wakeup_fd())
    supervisor.take_signals()

    def restored(child_recorder: "Recorder") -> "None":
        runtime.in_child(child_recorder)  # the same connection object: closed, it reconnects in the child
        _restored(runtime, hooks)

    restores = 0
    while True:
        restores += 1
        supervisor.spawn("restore%d" % restores, restored)
        while supervisor.children:
            supervisor.reap()
        if supervisor.stopping is None:
            supervisor.stop_when_idle = True  # a signal while waiting for the next restore: just go
            try:
                api.restore_next()  # the next restore of this snapshot
            except workers.Stopped:
                pass
            except (RuntimeAPIError, OSError, ConnectionError) as exc:
                logs.runtime_error("Runtime API failure while waiting for a restore, exiting: %s" % exc)
                supervisor.stopping = -1
            supervisor.stop_when_idle = False
            api.close()
        if supervisor.stopping is not None:
            # The snapshot's copy of the function's state was never served from: no callbacks
            # here (each restored child ran its own), no atexit.
            for stream in (sys.stdout, sys.stderr):
                stream.flush()
            stopping = supervisor.stopping
            os._exit(1 if stopping == -1 else FatalSignal(stopping).status)
