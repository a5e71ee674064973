"""Signals reach the runtime once, and the runtime never outlives its launcher.

The bootstrap runs the runtime as its child and forwards SIGTERM (and INT, HUP,
USR1, USR2) to it. Lambda, and the AWS emulator, may signal the launcher's whole
process group instead of its pid; a runtime in that group would then get the
signal twice, once from the group and once forwarded, and a user's SIGTERM
handler would run twice. So the runtime leaves the launcher's group at start
(its own group, with anything it forks): a group signal reaches only the
launcher, which forwards it once; a signal to the launcher's pid alone is
forwarded once too.

The price of a group of our own: SIGKILL sent to the launcher's group (Lambda
after the grace period, at a timeout, at a reset) no longer reaches the runtime
directly. A runtime left behind would keep polling /next and take events meant
for its successor, so a thread waits on a pidfd of the launcher and kills our
whole group the moment it is gone: workers, forked children, the handler's
subprocesses. Forked workers hold a lifeline to their own parent the same way.

The thread starts when init is over (watch()), just before the first /next: it does
not compete with the init for the interpreter.
A launcher that dies during the init is noticed then, before the first /next.

Without os.pidfd_open (Python < 3.9, or a kernel before 5.3) the runtime stays
in the launcher's group, as before: safe, with the double delivery back.
"""

import _signal
import _thread
import os

from shim.runtime import signals

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (the cold start)
if TYPE_CHECKING:
    from select import poll
    from typing import Mapping, NoReturn


# (poller on the launcher's pidfd, its pid, the fd), until watch() starts the thread
_held: "tuple[poll, int, int] | None" = None


def hold(environ: "Mapping[str, str]") -> "bool":
    """In the runtime started by the supervising bootstrap: own process group, die with the launcher."""
    global _held
    if not environ.get("_SHIM_CRASH_FILE"):
        return False  # started some other way (python -m shim): leave the process group alone
    launcher = os.getppid()
    fd = _pidfd(launcher)
    if fd is None:
        return False
    try:
        os.setpgid(0, 0)
    except OSError:
        os.close(fd)
        return False
    _held = (_poller(fd), launcher, fd)
    return True


def watch() -> None:
    """Start watching the launcher (once init is over): from now on we die with it."""
    global _held
    if _held is None:
        return
    (poller, launcher, _), _held = _held, None
    if os.getppid() != launcher:
        _die()  # it went during the init: not one /next for an orphan
    signals.start_thread(_thread.start_new_thread, _watch, (poller,))


def watch_parent() -> None:
    """In a forked child: die (with our group) when the process that forked us dies."""
    global _held
    if _held is not None:  # the launcher is our parent's business, not ours
        os.close(_held[2])
        _held = None
    fd = _pidfd(os.getppid())
    if fd is not None:
        signals.start_thread(_thread.start_new_thread, _watch, (_poller(fd),))


def _pidfd(pid: "int") -> "int | None":
    try:
        fd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None
    if os.getppid() != pid:  # it died before we held it: we are already an orphan
        _die()
    return fd


def _poller(fd: "int") -> "poll":
    import select  # at start-up, with the runtime's own imports: none once invokes run

    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return poller


def _watch(poller: "poll") -> "NoReturn":
    while not poller.poll():
        pass
    _die()


def _die() -> "NoReturn":
    try:
        os.killpg(0, _signal.SIGKILL)
    finally:
        os._exit(137)
