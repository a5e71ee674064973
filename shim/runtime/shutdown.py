"""Shutdown callbacks: `shim.on_shutdown(fn)`, run when Lambda stops the execution environment.

    import shim

    @shim.on_shutdown
    def flush_metrics():
        buffer.flush()

On SIGTERM the runtime answers the request in flight (the handler is interrupted
and the request gets an error naming the signal), runs the callbacks, most
recently registered first (as atexit does), flushes its output and exits 0.
Each callback gets a fair share of what is left of SHIM_SHUTDOWN_TIMEOUT_MS
(default 300 ms, of the 500 ms Lambda gives a runtime with an internal
extension): one that raises is logged with its traceback; one that overruns its
share is interrupted (a timer raises in it) and logged; neither holds up the
others or the exit. atexit functions run after them, as on any normal exit.

Lambda sends SIGTERM only when an extension is registered. If a callback is
registered, or the function installed its own SIGTERM handler, by the end of
init, the runtime registers itself as an internal extension (shim.runtime.extension)
before its first /next, so no layer is needed. A callback registered later than
that still runs on SIGTERM, but Lambda sends one only if some extension (a layer's)
is registered; the runtime says so once.
"""

import _signal
import os
import sys

from shim.runtime import logs

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (the cold start)
if TYPE_CHECKING:
    from types import FrameType, TracebackType
    from typing import Callable, Mapping, NoReturn, TypeVar

    from shim.runtime.crash import NoRecorder, Recorder
    from shim.runtime.signals import FatalSignal, Guard

    Callback = TypeVar("Callback", bound=Callable[[], object])  # on_shutdown returns what it was given

DEFAULT_BUDGET_MS = 300
_callbacks: "list[Callable[[], object]]" = []
_init_over = False  # Lambda closed extension registration (our first /next went out)
_warned = False


def on_shutdown(fn: "Callback") -> "Callback":
    """Run fn() when the environment shuts down (SIGTERM). Returns fn: usable as a decorator."""
    global _warned
    if not callable(fn):
        raise TypeError("on_shutdown() takes a callable, got %r" % (fn,))
    _callbacks.append(fn)
    if _init_over and not _warned and not _extension_registered():
        _warned = True
        logs.runtime_error(
            "shim.on_shutdown() was called after init: Lambda sends SIGTERM only to a function "
            "with a registered extension, and registration closed when init ended. Register "
            "callbacks at import time, or attach an extension layer."
        )
    return fn


def callbacks() -> "list[Callable[[], object]]":
    return list(_callbacks)


def wanted(guard: "Guard") -> "bool":
    """Does anything need Lambda's SIGTERM: a callback, or the function's own SIGTERM handler?"""
    return bool(_callbacks) or guard.user_handler(_signal.SIGTERM) is not None


def init_over() -> None:
    """Lambda closed extension registration (see shim.runtime.extension.before_first_next)."""
    global _init_over
    _init_over = True


def _extension_registered() -> "bool":
    extension = sys.modules.get("shim.runtime.extension")
    return extension is not None and extension.identifier is not None


def budget_s(environ: "Mapping[str, str]" = os.environ) -> "float":
    try:
        return max(int(environ.get("SHIM_SHUTDOWN_TIMEOUT_MS") or DEFAULT_BUDGET_MS), 0) / 1000.0
    except ValueError:
        return DEFAULT_BUDGET_MS / 1000.0


def stop(sig: "FatalSignal") -> "NoReturn":
    """Stop on a terminating signal: callbacks, flush, exit with the signal's status. Does not return."""
    ignore_terminating()
    logs.runtime_info("Stopping on %s" % sig.name)
    run_callbacks(budget_s(), sig.status)
    flush()
    crash = sys.modules.get("shim.runtime.crash")  # loaded at start-up (shim.runtime.main), when supervised
    if crash is not None:
        crash.note_exit(sig.status)
    sys.exit(sig.status)


def ignore_terminating() -> None:
    """From now on the runtime is on its way out: a second SIGTERM (Lambda's, the launcher's forward of
    one sent twice) changes nothing. Ignored rather than handled: as the interpreter finalizes it puts
    back the default action (death, status 143) for every signal with a Python handler, but leaves an
    ignored one ignored, so the exit status decided here is the one the process ends with."""
    for signum in (_signal.SIGTERM, _signal.SIGINT, _signal.SIGHUP):
        try:
            _signal.signal(signum, _signal.SIG_IGN)
        except ValueError:  # not the main thread (a loop run in a thread, in tests)
            return


def stop_in_init(sig: "FatalSignal", recorder: "Recorder | NoRecorder") -> "NoReturn":
    """A terminating signal before the invoke loop (during init, or the SnapStart hooks): the runtime was
    stopped, it did not fail. Nothing is in flight for the supervisor to report; the callbacks registered
    so far run. Does not return."""
    recorder.end()
    stop(sig)


def flush() -> None:
    logging = sys.modules.get("logging")
    if logging is not None:
        for handler in list(logging.getLogger().handlers):
            try:
                handler.flush()
            except Exception:  # noqa: BLE001 - a broken handler must not keep us from exiting
                pass
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        if stream is None:  # sys.__stdout__ and sys.__stderr__ are when the process started without them
            continue
        try:
            stream.flush()
        except (AttributeError, OSError, ValueError):
            pass


class _Expired(BaseException):
    pass


_armed = False
# (monotonic time, exit status): a callback that will not stop is left behind then
_last_resort: "tuple[float, int] | None" = None


def _expire(signum: "int", frame: "FrameType | None") -> None:
    last_resort = _last_resort  # set whenever _armed is
    if not _armed or last_resort is None:
        return
    import time

    if time.monotonic() > last_resort[0]:
        logs.runtime_error(
            "A shutdown callback keeps running after being interrupted; exiting without it (and the callbacks after it)"
        )
        flush()
        os._exit(last_resort[1])
    raise _Expired()


def run_callbacks(budget: "float", status: "int" = 0) -> "int":
    """Each callback once, newest first, within `budget` seconds in all; returns how many ran clean.
    One that swallows its interruptions past the budget (and 100 ms) ends the process with `status`."""
    global _armed, _last_resort
    pending = list(reversed(_callbacks))
    del _callbacks[:]
    if not pending:
        return 0
    import time

    stopping = sys.exc_info()[1]  # what the runtime was handling (the FatalSignal it stops on), if anything
    deadline = time.monotonic() + budget
    _last_resort = (deadline + 0.1, status)
    previous = _signal.signal(_signal.SIGALRM, _expire)
    clean = 0
    try:
        while pending:
            fn = pending.pop(0)
            share = (deadline - time.monotonic()) / (len(pending) + 1)
            name = getattr(fn, "__qualname__", None) or repr(fn)
            if share < 0.001:
                logs.runtime_error("Shutdown callback %s skipped: no time left" % name)
                continue
            try:
                try:
                    _armed = True
                    # Re-armed every 20 ms: a callback that swallows the first interruption gets another.
                    _signal.setitimer(_signal.ITIMER_REAL, share, 0.02)
                    fn()
                finally:
                    _armed = False
                    _signal.setitimer(_signal.ITIMER_REAL, 0)
                clean += 1
            except _Expired:
                logs.runtime_error(
                    "Shutdown callback %s did not finish within %d ms; interrupted" % (name, share * 1000)
                )
            except BaseException as exc:  # noqa: BLE001 - logged; the exit goes on
                _own_story(exc, stopping)
                logs.pipeline.emit(
                    {
                        "event": "Shutdown callback %s raised %s: %s" % (name, type(exc).__name__, exc),
                        "logger": "lambda-shim",
                        "location": None,
                        "exc_info": (type(exc), exc, _from_callback(exc.__traceback__)),
                    },
                    40,
                    "exception",
                )
    finally:
        _armed = False
        _signal.setitimer(_signal.ITIMER_REAL, 0)
        _signal.signal(_signal.SIGALRM, previous if previous is not None else _signal.SIG_DFL)
    return clean


def _own_story(exc: "BaseException | None", stopping: "BaseException | None") -> None:
    """A callback's exception as the callback raised it: not chained to the runtime's own (the signal
    it stops on, implicitly the callback's __context__), and without run_callbacks' frame."""
    seen: "set[int]" = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if exc.__context__ is stopping:
            exc.__context__ = None
        if exc.__cause__ is stopping:
            exc.__cause__ = None
        exc = exc.__cause__ if exc.__cause__ is not None else exc.__context__


def _from_callback(tb: "TracebackType | None") -> "TracebackType | None":
    """The traceback from the callback's own frame on (run_callbacks' frame is the runtime's)."""
    if tb is not None and tb.tb_frame.f_code is run_callbacks.__code__ and tb.tb_next is not None:
        return tb.tb_next
    return tb
