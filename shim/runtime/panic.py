"""Panics: signals that would end the process while a request is in flight.

The official client dies on a stray signal and the request is lost. Here a
catchable signal is turned into an exception *inside the handler* (so the
request gets an /error naming the signal), deferred while the runtime itself is
between the handler and its post (so a half-sent answer is finished first),
and acted on at once while idle on /next. Terminating signals (TERM, INT, HUP)
stop the runtime after the request is answered; the others are recoverable.
Native crashes cannot be caught in-process: the bootstrap answers the
request from outside (see shim.runtime.crash).
"""
import _signal  # signal.py only adds enums on top, and they cost ~3 ms of the cold start

NAMES = {getattr(_signal, name): name for name in ("SIGTERM", "SIGINT", "SIGHUP", "SIGUSR1", "SIGUSR2", "SIGALRM")}
TERMINATING = (_signal.SIGTERM, _signal.SIGINT, _signal.SIGHUP)
RECOVERABLE = (_signal.SIGUSR1, _signal.SIGUSR2, _signal.SIGALRM)


class FatalSignal(BaseException):
    """Raised in the handler when a signal arrives during an invoke."""

    def __init__(self, signum):
        self.signum = signum
        self.name = NAMES.get(signum, "signal %d" % signum)
        super().__init__("Handler was interrupted by %s" % self.name)

    @property
    def terminating(self):
        return self.signum in TERMINATING


class Guard:
    """Where the runtime is, so a signal can be raised, deferred or obeyed."""

    IDLE, RUNTIME, HANDLER = 0, 1, 2

    def __init__(self):
        self.where = self.IDLE
        self.pending = None  # a signal that arrived while the runtime was busy

    def install(self):
        for signum in TERMINATING + RECOVERABLE:
            _signal.signal(signum, self._on_signal)

    def _on_signal(self, signum, frame):
        if self.where != self.IDLE:
            self.pending = signum  # so a terminating signal still stops us once the request is answered
        if self.where != self.RUNTIME:
            raise FatalSignal(signum)

    def take_pending(self):
        """After a request is answered: stop now if a terminating signal was deferred."""
        signum, self.pending = self.pending, None
        if signum in TERMINATING:
            raise FatalSignal(signum)
