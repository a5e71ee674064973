"""Why did it time out? A warning shortly before the deadline, saying where the handler is.

When an invoke runs out of time Lambda kills the environment and logs "Task timed
out"; nothing says what the handler was doing. So, SHIM_TIMEOUT_WARNING_MS before the
deadline (default: a tenth of the time the invoke has, at most 1 s; 0 turns it off),
the runtime logs one WARNING record with the request id, the time left, the Python
stack of the thread running the handler, and one line for each other thread.

Cost: one long-lived thread, started at init, that the invoke loop arms by writing the
Invocation into `armed` and disarms by writing None: two attribute stores per invoke,
no syscall, no allocation. The watcher polls (POLL_S) for a new invoke, then sleeps
until its warning time; if the invoke is still the armed one then, it warns, once.
Not SIGALRM: that signal belongs to the handler (see shim.runtime.signals), and arming a
timer costs two syscalls per invoke.
"""

import _thread
import sys
import time

from shim.runtime import errors, logs, signals

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (the cold start)
if TYPE_CHECKING:
    from typing import Mapping, TypedDict

    from shim.runtime.client import Invocation

    class Frame(TypedDict):
        """One frame of the handler's stack, as the warning shows it."""

        file: str
        line: int | None
        function: str
        code: str


ENV = "SHIM_TIMEOUT_WARNING_MS"
SHARE = 0.1  # of the time an invoke has: enough to capture a stack, late enough to mean it
CAP_MS = 1000  # a 15-minute function is warned 1 s before, not 90 s
POLL_S = 0.05  # how soon the watcher sees a new invoke; it then sleeps until its warning time


class Watchdog:
    """Warns before a deadline about the invoke in `armed` (an Invocation, or None between invokes)."""

    def __init__(self, lead_ms: "int | None" = None, thread_id: "int | None" = None) -> None:
        self.lead_ms = lead_ms  # None: SHARE of the time the invoke has, at most CAP_MS
        self.thread_id = thread_id if thread_id is not None else _thread.get_ident()  # runs the handler
        self.armed: "Invocation | None" = None
        self.running = False
        self.noted = False  # said that lead_ms is too long for the time an invoke has

    def start(self) -> "Watchdog":
        self.running = True
        signals.start_thread(_thread.start_new_thread, self._watch, ())
        return self

    def _watch(self) -> None:
        seen: "Invocation | None" = None
        warned: "Invocation | None" = None
        warn_at = 0.0
        while True:
            invocation = self.armed
            if invocation is None or invocation is warned:
                time.sleep(POLL_S)
                continue
            if invocation is not seen:
                seen = invocation
                if invocation.deadline_ms is None:
                    warned = invocation  # no deadline, no warning
                    continue
                warn_at = self.warning_time(invocation.deadline_ms, time.time() * 1000) / 1000.0
            wait = warn_at - time.time()
            if wait > 0:
                time.sleep(min(wait, POLL_S))
                continue
            warned = invocation
            if self.armed is invocation:
                try:
                    self.warn(invocation)
                except Exception as exc:  # noqa: BLE001 - the watcher must outlive a failed warning
                    logs.runtime_error("Could not write the timeout warning: %r" % (exc,))

    def warning_time(self, deadline_ms: "int", now_ms: "float") -> "float":
        has = deadline_ms - now_ms
        lead: "float | None" = self.lead_ms
        if lead is not None and lead >= has:
            # As set, it would warn as every invoke starts, saying nothing: the default instead, said once.
            if not self.noted:
                self.noted = True
                logs.runtime_warning(
                    "%s=%d is not less than the %d ms this invoke has (the function's timeout); "
                    "warning at the default instead, a tenth of the time left (at most %d ms)"
                    % (ENV, lead, has, CAP_MS)
                )
            lead = None
        if lead is None:
            lead = min(has * SHARE, CAP_MS)
        return deadline_ms - lead

    def warn(self, invocation: "Invocation") -> None:
        """Log the warning for `invocation` now (called from the watcher thread)."""
        deadline: "int | None" = invocation.deadline_ms
        if deadline is None:
            return  # the watcher arms no warning without a deadline
        remaining = max(0, deadline - int(time.time() * 1000))
        stack, threads = snapshot(self.thread_id, _thread.get_ident())
        if self.armed is not invocation:
            return  # it finished while the stacks were taken: in time after all
        where = stack[-1] if stack else None
        message = "Task is about to time out: %d ms left%s" % (
            remaining,
            ", the handler is at %s:%s in %s" % (where["file"], where["line"], where["function"]) if where else "",
        )
        event = {
            "event": message,
            "logger": "lambda-shim",
            "requestId": invocation.request_id,
            "location": "%s:%s:%s" % (where["file"], where["function"], where["line"]) if where else None,
        }
        if logs.pipeline.config.json:
            event.update(remainingTimeMs=remaining, stack=stack, threads=threads)
        else:  # the Text line: the stack as a traceback reads, folded into the one record
            lines = ["Handler thread, most recent call last:"]
            for frame in stack:
                lines.append('  File "%s", line %s, in %s' % (frame["file"], frame["line"], frame["function"]))
                if frame["code"]:
                    lines.append("    " + frame["code"])
            if threads:
                lines.append("Other threads:")
                lines += ["  " + line for line in threads]
            event["_traceback"] = "\n".join(lines)
        logs.pipeline.emit(event, 30, "warning")


def snapshot(handler_thread: "int", own_thread: "int") -> "tuple[list[Frame], list[str]]":
    """(the handler thread's frames outermost first, as dicts without the runtime's own; one line per other thread)."""
    import traceback  # the warning's path only

    frames = sys._current_frames()
    stack: "list[Frame]" = []
    handler_frame = frames.get(handler_thread)
    coroutine = getattr(sys.modules.get("shim.runtime.aio"), "running", None)
    if coroutine is not None:
        # An async handler: the thread is in the event loop; where the handler is is the chain of awaits.
        stack = _awaits(coroutine)
    elif handler_frame is not None:
        summary = traceback.extract_stack(handler_frame)
        start = 0
        while start < len(summary) and (
            summary[start].filename == "<string>" or errors.is_runtime_frame(summary[start].filename)
        ):
            start += 1
        stack = [
            {"file": f.filename, "line": f.lineno, "function": f.name, "code": f.line or ""}
            for f in summary[start:] or summary
        ]
    names: "dict[int | None, str]" = {}
    threading = sys.modules.get("threading")
    if threading is not None:
        names = {thread.ident: thread.name for thread in list(getattr(threading, "_active", {}).values())}
    threads: "list[str]" = []
    for ident, frame in sorted(frames.items()):
        if ident in (handler_thread, own_thread):
            continue
        code = frame.f_code
        threads.append(
            "%s: %s:%d in %s" % (names.get(ident, "thread %d" % ident), code.co_filename, frame.f_lineno, code.co_name)
        )
    return stack, threads


def _awaits(coroutine: "object") -> "list[Frame]":
    import linecache

    stack: "list[Frame]" = []
    while coroutine is not None and len(stack) < 100:
        frame = getattr(coroutine, "cr_frame", None) or getattr(coroutine, "gi_frame", None)
        if frame is None:
            break
        code = frame.f_code
        stack.append(
            {
                "file": code.co_filename,
                "line": frame.f_lineno,
                "function": code.co_name,
                "code": linecache.getline(code.co_filename, frame.f_lineno).strip(),
            }
        )
        coroutine = getattr(coroutine, "cr_await", None) or getattr(coroutine, "gi_yieldfrom", None)
    return stack


def from_environment(environ: "Mapping[str, str]") -> "tuple[Watchdog, str | None]":
    """A Watchdog configured by SHIM_TIMEOUT_WARNING_MS (started unless it is 0), and a warning or None."""
    raw = (environ.get(ENV) or "").strip()
    if not raw:
        return Watchdog().start(), None
    if not raw.isdigit():
        return Watchdog().start(), (
            "%s must be a whole number of milliseconds (0 turns the warning off), got %r; "
            "using the default" % (ENV, raw)
        )
    lead = int(raw)
    watchdog = Watchdog(lead)
    return (watchdog.start() if lead else watchdog), None
