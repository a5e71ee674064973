"""Forked children the runtime supervises: Managed Instances' workers, a local SnapStart restore.

Each child keeps its own in-flight record (<base>.<tag>.inflight and .fault, see
shim.runtime.crash) and its own Guard, so a child that dies mid-invoke (a native
crash, os._exit, the OOM killer) has its request answered from here with
Runtime.ExitError, as the bootstrap does for a single runtime; the supervisor's
own record says "P", so if it dies itself the bootstrap answers for every child.

Signals the supervisor gets (forwarded by the bootstrap) go to every child, once.
A terminating one also arms a grace timer: a child still running when it fires
is killed and its request answered, so nothing is left behind and every request
gets its answer before Lambda's own SIGKILL.

The supervisor waits for its children in a poll of the signal wake-up pipe (see
shim.runtime.signals.Guard.wakeup_fd), with SIGCHLD given a Python handler so that a
child's exit writes to it too, rather than in a blocking waitpid(): a signal that
landed just before waitpid() began would be forwarded only when some child exited.

A child never returns into the code that forked it: it ends with os._exit, after
atexit functions and a flush, with the status its run() exited with.
"""

import _signal
import os
import sys

from shim.runtime import crash, lifeline, logs, shutdown, signals

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (the cold start)
if TYPE_CHECKING:
    from types import FrameType
    from typing import Any, Callable, Dict, Tuple

    from shim.runtime.main import Recorder

FORWARDED = (_signal.SIGTERM, _signal.SIGINT, _signal.SIGHUP, _signal.SIGUSR1, _signal.SIGUSR2)
TERMINATING = (_signal.SIGTERM, _signal.SIGINT, _signal.SIGHUP)


class Stopped(BaseException):
    """Raised by a supervisor with stop_when_idle set, when a terminating signal finds no children."""


class Child:
    __slots__ = ("pid", "tag", "base")

    def __init__(self, pid: "int", tag: "str", base: "str | None") -> "None":
        self.pid, self.tag, self.base = pid, tag, base

    def __repr__(self) -> "str":
        return "<worker %s pid %d>" % (self.tag, self.pid)


def _child_exited(signum: "int", frame: "FrameType | None") -> "None":
    pass  # only for its byte in the wake-up pipe: reap() does the rest


class Supervisor:
    def __init__(
        self, base: "str | None", api_address: "str", grace_s: "float", wakeup_fd: "int | None" = None
    ) -> "None":
        self.base = base  # the runtime's own record base, or None without the bootstrap
        self.api_address = api_address
        self.grace_s = grace_s
        self.wakeup_fd = wakeup_fd  # this process's signal wake-up pipe; None: reap() blocks in waitpid
        self.children: "Dict[int, Child]" = {}  # pid -> Child, while alive
        self.stopping: "int | None" = None  # the terminating signal we are stopping on (-1: the Runtime API failed)
        self.stop_when_idle = False  # with no children, a terminating signal raises Stopped
        self._saved: "Dict[int, Any] | None" = None  # the handlers the children get back after a fork

    # -- forking -----------------------------------------------------------------------------

    def spawn(self, tag: "str", run: "Callable[[Recorder], None]") -> "Child":
        """Fork a child that runs run(recorder) and exits; in the parent, the Child."""
        base = "%s.%s" % (self.base, tag) if self.base else None
        for stream in (sys.stdout, sys.stderr):
            stream.flush()  # or the child writes the parent's buffered output again
        blocked = _signal.pthread_sigmask(_signal.SIG_BLOCK, FORWARDED)
        pid = os.fork()
        if pid:
            _signal.pthread_sigmask(_signal.SIG_SETMASK, blocked)
            child = self.children[pid] = Child(pid, tag, base)
            return child
        code = 1
        try:
            if self._saved is not None:  # the function's handlers, not our forwarding ones
                for signum, handler in self._saved.items():
                    _signal.signal(signum, handler)
            lifeline.watch_parent()
            recorder: "Recorder" = crash.Recorder(base) if base else crash.NoRecorder()
            try:
                # Unblocked what the caller had blocked around the fork: the child takes its signals. One
                # forwarded since the fork runs its handler here, before run() can take it.
                _signal.pthread_sigmask(_signal.SIG_UNBLOCK, FORWARDED)
                run(recorder)
            except signals.FatalSignal as sig:  # a stop before the child was ready for one, not a failure
                shutdown.stop_in_init(sig, recorder)
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 1
        except BaseException:  # noqa: BLE001 - a child must never return into its parent's code
            import traceback

            traceback.print_exc()
        finally:
            try:
                import atexit

                atexit._run_exitfuncs()
                for stream in (sys.stdout, sys.stderr):
                    stream.flush()
            finally:
                os._exit(code)

    # -- signals -----------------------------------------------------------------------------

    def take_signals(self) -> "None":
        """From now on this process forwards the signals it gets to its children."""
        if self._saved is None:
            self._saved = {signum: _signal.getsignal(signum) for signum in FORWARDED + (_signal.SIGCHLD,)}
        for signum in FORWARDED:
            _signal.signal(signum, self._forward)
        _signal.signal(_signal.SIGALRM, self._grace_over)
        if self.wakeup_fd is not None:
            _signal.signal(_signal.SIGCHLD, _child_exited)

    def _forward(self, signum: "int", frame: "FrameType | None") -> "None":
        for pid in list(self.children):
            try:
                os.kill(pid, signum)
            except ProcessLookupError:
                pass
        if signum in TERMINATING and self.stopping is None:
            self.stopping = signum
            if self.stop_when_idle and not self.children:
                raise Stopped()
            _signal.setitimer(_signal.ITIMER_REAL, self.grace_s)

    def _grace_over(self, signum: "int", frame: "FrameType | None") -> "None":
        for child in list(self.children.values()):
            logs.runtime_error(
                "Worker %s (pid %d) did not stop within %d ms; killing it" % (child.tag, child.pid, self.grace_s * 1000)
            )
            try:
                os.kill(child.pid, _signal.SIGKILL)
            except ProcessLookupError:
                pass

    # -- reaping -----------------------------------------------------------------------------

    def reap(self, block: "bool" = True) -> "Tuple[Child, int] | None":
        """Wait for a child to exit and answer for its request: (Child, shell-style status), or None
        when there are no children (or, with block=False, none has exited)."""
        waits = block and self.wakeup_fd is not None and self._saved is not None  # SIGCHLD wakes us
        while self.children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG if waits or not block else 0)
            except ChildProcessError:
                self.children.clear()
                return None
            if pid == 0:
                if not waits or self.wakeup_fd is None:  # (waits: it is not None)
                    return None
                signals.await_signal(self.wakeup_fd)  # a child's exit, or a signal to forward
                continue
            child = self.children.pop(pid, None)
            if child is None:
                continue
            code = os.waitstatus_to_exitcode(status)
            shell_status = code if code >= 0 else 128 - code
            self.answer_for(child, shell_status)
            return child, shell_status
        return None

    def answer_for(self, child: "Child", shell_status: "int") -> "None":
        if not child.base:
            return
        try:
            crash.report(child.base, shell_status, self.api_address, setup_logs=False)
        except Exception as exc:  # noqa: BLE001 - the Runtime API may refuse (already answered) or be gone
            logs.runtime_error("Could not answer for worker %s (pid %d): %s" % (child.tag, child.pid, exc))
        finally:
            crash.remove(child.base)
