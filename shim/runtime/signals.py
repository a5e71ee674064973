"""Panics: signals that would end the process while a request is in flight.

The official client dies on a stray signal and the request is lost. Here a
catchable signal is turned into an exception *inside the handler* (so the
request gets an /error naming the signal), deferred while the runtime itself is
between the handler and its post (so a half-sent answer is finished first),
and acted on at once while idle on /next. Terminating signals (TERM, INT, HUP)
stop the runtime after the request is answered; the others are recoverable.
A terminating signal deferred before the handler started (while the event was
read) is raised as the handler starts: the request is answered with the
signal's error, not run to completion after Lambda asked us to stop. Only the
init is INIT (a signal raises at once); the loop waits for events in RUNTIME, and the wait wakes through the
signal wake-up pipe to act on what was deferred (see wakeup_fd), so a signal
never strikes between the event's arrival and its handling, where the request
would be taken from /next and never answered.
Native crashes cannot be caught in-process: the bootstrap answers the
request from outside (see shim.runtime.crash).

A handler the user installs for a terminating signal (`signal.signal(SIGTERM, fn)`
at import, as in AWS's graceful-shutdown samples) replaces ours; adopt() then
wraps it, so that it runs exactly once per signal, wherever the runtime is, and
decides: if it returns, the runtime carries on as if nothing happened; if it
exits (sys.exit(n), or raises), the runtime stops as for its own SIGTERM (the
request in flight is answered, shutdown callbacks run) and exits with n.
"""

import _signal  # signal.py only adds enums on top, and they cost ~3 ms of the cold start
import os

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (the cold start)
if TYPE_CHECKING:
    from types import FrameType
    from typing import Callable, Iterable, TypeVar

    from _signal import _Handler

    T = TypeVar("T")

NAMES = {getattr(_signal, name): name for name in ("SIGTERM", "SIGINT", "SIGHUP", "SIGUSR1", "SIGUSR2", "SIGALRM")}
TERMINATING = (_signal.SIGTERM, _signal.SIGINT, _signal.SIGHUP)
RECOVERABLE = (_signal.SIGUSR1, _signal.SIGUSR2, _signal.SIGALRM)


class FatalSignal(BaseException):
    """Raised in the handler when a signal arrives during an invoke."""

    def __init__(self, signum: "int", exit_status: "int | None" = None) -> None:
        self.signum = signum
        self.name = NAMES.get(signum, "signal %d" % signum)
        self.exit_status = exit_status  # decided by a user's own handler, else None
        super().__init__("Handler was interrupted by %s" % self.name)

    @property
    def terminating(self) -> "bool":
        return self.signum in TERMINATING

    @property
    def status(self) -> "int":
        """The runtime's exit status for this signal: the user's choice, else 0 for SIGTERM
        (a graceful stop, as Lambda asks for) and 128+n for the others, as a shell reports them."""
        if self.exit_status is not None:
            return self.exit_status
        return 0 if self.signum == _signal.SIGTERM else 128 + self.signum


class Guard:
    """Where the runtime is, so a signal can be raised, deferred or obeyed."""

    # INIT: the init (a signal raises at once); RUNTIME: the runtime's own work, the wait for an event
    # included (deferred); HANDLER: the user's code (raised into it, and remembered).
    INIT, RUNTIME, HANDLER = 0, 1, 2

    def __init__(self) -> None:
        self.where = self.INIT
        self.pending: "int | None" = None  # a signal that arrived while the runtime was busy
        self.exit_status: "int | None" = None  # of the pending signal, when a user's handler decided it
        # Called when a signal is deferred (the async mode's event loop).
        self.notify: "Callable[[], object] | None" = None
        self._sigterm_seen: "_Handler" = None  # SIGTERM's handler when adopt() last looked
        # (pid, read end, write end) of the pipe the interpreter writes a byte to per signal
        self._wakeup: "tuple[int, int, int] | None" = None

    def install(self) -> None:
        for signum in TERMINATING + RECOVERABLE:
            _signal.signal(signum, self._on_signal)

    def wakeup_fd(self) -> "int | None":
        """A descriptor that turns readable when one of our signals arrives, for the idle wait on /next
        to poll beside its socket (shim.runtime.client).

        A blocked recv() is interrupted only when the signal is delivered to the thread in it, and
        after the syscall began. A signal that lands just before (the runtime has posted an answer and
        is on its way to the next recv), or in a thread of the function's that does not block it, only
        sets the interpreter's flag: the handler would run when an event arrives, which on Lambda is
        never before the SIGKILL. The interpreter also writes a byte here, so the wait sees it.
        One pipe per process: a forked worker that shared its parent's could drain the parent's wake-up.
        None outside the main thread, where no signal handler runs (a loop run in a thread, in tests)."""
        pid = os.getpid()
        if self._wakeup is None or self._wakeup[0] != pid:
            inherited = self._wakeup  # through a fork: the parent's, closed once ours is in place
            read, write = os.pipe()
            os.set_blocking(read, False)
            os.set_blocking(write, False)
            try:
                _signal.set_wakeup_fd(write, warn_on_full_buffer=False)
            except ValueError:  # not the main thread
                os.close(read)
                os.close(write)
                return None
            self._wakeup = (pid, read, write)
            if inherited is not None:
                os.close(inherited[1])
                os.close(inherited[2])
        return self._wakeup[1]

    def _on_signal(self, signum: "int", frame: "FrameType | None", exit_status: "int | None" = None) -> None:
        if self.where != self.INIT:
            self.pending = signum  # so a terminating signal still stops us once the request is answered
            self.exit_status = exit_status
            if self.notify is not None:
                self.notify()
        if self.where != self.RUNTIME:
            raise FatalSignal(signum, exit_status)

    def take_pending(self) -> None:
        """After a request is answered, or when the wait for the next one wakes: stop now if a
        terminating signal was deferred."""
        signum, self.pending = self.pending, None
        if signum in TERMINATING:
            raise FatalSignal(signum, self.exit_status)

    def raise_pending(self) -> None:
        """As control passes to the function (the handler starts, a streaming handler resumes):
        a terminating signal deferred meanwhile interrupts it there, as it would have a moment later.
        It stays pending, so the loop stops once the request is answered."""
        if self.pending in TERMINATING:
            raise FatalSignal(self.pending, self.exit_status)

    def adopt(self, signals: "Iterable[int]" = TERMINATING) -> None:
        """Wrap handlers the user installed for these signals (see the module's docstring)."""
        for signum in signals:
            current = _signal.getsignal(signum)
            if callable(current) and current != self._on_signal and not isinstance(current, UserHandler):
                _signal.signal(signum, UserHandler(self, current))
        self._sigterm_seen = _signal.getsignal(_signal.SIGTERM)
        if self._wakeup is not None and self._wakeup[0] == os.getpid():
            # Code that changed a signal's handler may have moved the wake-up fd too: asyncio's
            # remove_signal_handler leaves none (ours again, then), and a loop's add_signal_handler
            # sets its own, which stays: that loop learns of its signals through it.
            ours = self._wakeup[2]
            previous = _signal.set_wakeup_fd(ours, warn_on_full_buffer=False)
            if previous not in (-1, ours):
                _signal.set_wakeup_fd(previous)

    def adopt_new_sigterm(self) -> None:
        """After each invoke: adopt a SIGTERM handler the function installed lazily, in the invoke.
        One getsignal() and an identity check when nothing changed (adopt() cost 4x that)."""
        if _signal.getsignal(_signal.SIGTERM) is not self._sigterm_seen:
            self.adopt(TERMINATING[:1])

    def user_handler(self, signum: "int") -> "Callable[[int, FrameType | None], object] | None":
        """The user's own handler for signum, if one replaced ours."""
        current = _signal.getsignal(signum)
        return (
            current.handler
            if isinstance(current, UserHandler)
            else (current if callable(current) and current != self._on_signal else None)
        )


def drain(fd: "int") -> None:
    """Empty the wake-up pipe (its bytes only say that signals came; their handlers have run)."""
    try:
        while os.read(fd, 512):
            pass
    except BlockingIOError:
        pass


def await_signal(fd: "int") -> None:
    """Block until a signal with a Python handler arrives (its byte in the wake-up pipe `fd`)."""
    import select  # loaded at start-up already by shim.runtime.lifeline, under the launcher

    poller = select.poll()  # not select(): it cannot watch a descriptor numbered 1024 or more
    poller.register(fd, select.POLLIN)
    poller.poll()
    drain(fd)


class UserHandler:
    """A user's handler for a terminating signal, run once per signal; its exit becomes the runtime's."""

    def __init__(self, guard: "Guard", handler: "Callable[[int, FrameType | None], object]") -> None:
        self.guard = guard
        self.handler = handler

    def __call__(self, signum: "int", frame: "FrameType | None") -> None:
        try:
            self.handler(signum, frame)
            return  # it chose to carry on
        except SystemExit as exc:
            code = exc.code
            status = 0 if code is None else code if isinstance(code, int) else 1
            if not isinstance(code, (int, type(None))):
                import sys

                sys.stderr.write("%s\n" % (code,))  # what sys.exit("message") prints
        except KeyboardInterrupt:
            status = 128 + signum
        except BaseException as exc:  # noqa: BLE001 - whatever it raised, it asked to stop
            from shim.runtime import logs

            logs.runtime_error(
                "The %s handler installed by the function raised %s: %s; stopping"
                % (NAMES.get(signum, signum), type(exc).__name__, exc)
            )
            status = 1
        self.guard._on_signal(signum, frame, status)


def start_thread(start: "Callable[..., T]", *args: "object") -> "T":
    """start(*args) with our signals blocked, so the thread it starts never takes one (it inherits the mask).

    Python runs signal handlers in the main thread only, but the kernel may deliver a
    process-directed signal to any thread that does not block it. When a helper thread
    (the extension's parked /event/next, the lifeline, the watchdog) takes SIGTERM, the
    C-level handler only sets a flag: the main thread, blocked in recv() on /next, is not
    interrupted and runs our handler only once an event arrives — on Lambda, never before
    the SIGKILL. Blocked in the helpers, the signal goes to the main thread and interrupts it.
    SIGALRM too: the shutdown callbacks' timer must interrupt the callback, in the main thread.
    """
    previous = _signal.pthread_sigmask(_signal.SIG_BLOCK, TERMINATING + RECOVERABLE)
    try:
        return start(*args)
    finally:
        _signal.pthread_sigmask(_signal.SIG_SETMASK, previous)
