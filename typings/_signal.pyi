# The C module behind signal.py, which the runtime imports instead (signal.py only adds enums on top, and they
# cost the cold start ~3 ms). typeshed has no stub for it; these are signal.pyi's signatures for what the shim
# uses, with plain ints where signal.py would wrap them in its enums (_signal returns and takes ints).
from types import FrameType
from typing import Callable, Iterable

_Handler = Callable[[int, FrameType | None], object] | int | None

SIGALRM: int
SIGCHLD: int
SIGHUP: int
SIGINT: int
SIGKILL: int
SIGTERM: int
SIGUSR1: int
SIGUSR2: int
SIG_DFL: int
SIG_IGN: int
SIG_BLOCK: int
SIG_UNBLOCK: int
SIG_SETMASK: int
ITIMER_REAL: int

def signal(signalnum: int, handler: _Handler, /) -> _Handler: ...
def getsignal(signalnum: int, /) -> _Handler: ...
def pthread_sigmask(how: int, mask: Iterable[int], /) -> set[int]: ...
def setitimer(which: int, seconds: float, interval: float = 0.0, /) -> tuple[float, float]: ...
def set_wakeup_fd(fd: int, /, *, warn_on_full_buffer: bool = True) -> int: ...
