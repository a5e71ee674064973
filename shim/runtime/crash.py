"""Answering for a runtime that died: native crashes, os._exit(), SIGKILL, the OOM killer.

No code inside a process can answer for it after a segfault, so the answer
comes from outside. the bootstrap runs the runtime as its child and sets
_SHIM_CRASH_FILE. The runtime (the Recorder below) keeps two files there:

  <base>.inflight  "R<request id>" while one is being handled ("Rinit" during init),
                   "-" once it is answered: a memory-mapped page, so an invoke costs two
                   memory writes and no syscall (ftruncate was ~10 µs on ext4)
  <base>.fault     where faulthandler writes the Python stack on a fatal signal

A runtime that forks (Managed Instances' workers, a local SnapStart restore) writes
"P" in its own record and supervises its children itself (shim.runtime.workers): each
child has its own pair of files, <base>.<tag>.inflight and .fault, answered by the
supervisor when that child dies, or by the bootstrap when the supervisor does.

When the child exits while .inflight is not empty, the bootstrap runs
`python -m shim.runtime.crash STATUS`, which posts Runtime.ExitError for that request
(or to /init/error) with the exit reason and the faulthandler stack, logs it,
and removes the files. On Lambda the bootstrap is the process Lambda watches,
so this answer lands before Lambda resets the environment.
"""

import faulthandler
import os
import sys

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (the cold start)
if TYPE_CHECKING:
    from typing import MutableMapping, Sequence

    from shim.runtime.errors import ErrorPayload

ENV = "_SHIM_CRASH_FILE"
INIT = "init"
RESTORE = "restore"  # SnapStart's after-restore phase: a death then goes to /restore/error
SUPERVISOR = b"P\n"  # the record of a runtime whose forked children keep their own


_ANSWERED = ord("-")
RECORD_SIZE = 16384  # room for ~200 requests in flight at once (SHIM_ASYNC_CONCURRENCY)
current: "Recorder | None" = None  # this process's Recorder (a forked child makes its own), for note_exit


class Recorder:
    """The runtime's side: say which request is in flight, and where faulthandler writes."""

    def __init__(self, base: "str") -> None:
        import mmap

        self.base = base
        fd = os.open(base + ".inflight", os.O_RDWR | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0), 0o600)
        try:
            os.ftruncate(fd, RECORD_SIZE)
            self.record = mmap.mmap(fd, RECORD_SIZE)
        finally:
            os.close(fd)
        self.fault = open(base + ".fault", "w")
        faulthandler.enable(file=self.fault, all_threads=True)
        self.begin(INIT, None)
        global current
        current = self

    def begin(self, request_id: "str", invocation_id: "str | None") -> None:
        line = ("R%s\n%s\n" % (request_id, invocation_id or "")).encode()
        if len(line) > RECORD_SIZE:
            line = line[:RECORD_SIZE]
        self.record[: len(line)] = line

    def end(self) -> None:
        self.record[0] = _ANSWERED  # one byte: an index store, cheaper than a slice's

    def many(self, pairs: "Sequence[tuple[str, str | None]]") -> None:
        """Several requests in flight in this one process: [(request id, invocation id), ...]."""
        if not pairs:
            return self.end()
        data = ("".join("%s\n%s\n" % (rid, iid or "") for rid, iid in pairs)).encode()
        data = b"M" + data[: RECORD_SIZE - 2].rpartition(b"\n")[0] + b"\n\0"
        self.record[0:1] = b"-"  # first and last: a reader never sees M before the list is whole
        self.record[1 : len(data)] = data[1:]
        self.record[0:1] = b"M"

    def supervise(self) -> None:
        """From now on this process answers nothing itself: its children's records hold the requests."""
        self.record[: len(SUPERVISOR)] = SUPERVISOR


def note_exit(status: "object") -> None:
    """The runtime exits on purpose with `status`, nothing in flight: "X<status>" in its record. The
    launcher falls back on it when a signal it forwarded made the shell lose the child's status (bash's
    `wait` can return -1 for a child reaped while a trap ran)."""
    recorder = current
    if recorder is not None and recorder.record[0] == _ANSWERED and isinstance(status, int):
        line = b"X%d\n" % status
        recorder.record[1 : len(line)] = line[1:]
        recorder.record[0:1] = b"X"


class NoRecorder:
    """Started without the supervising bootstrap (python -m shim): nothing to record."""

    base = None

    def begin(self, request_id: "str", invocation_id: "str | None") -> None:
        pass

    def end(self) -> None:
        pass

    def many(self, pairs: "Sequence[tuple[str, str | None]]") -> None:
        pass

    def supervise(self) -> None:
        pass


def recorder_from_environment(environ: "MutableMapping[str, str]" = os.environ) -> "Recorder | NoRecorder":
    """A Recorder when started by the supervising bootstrap; else faulthandler prints to stderr."""
    base = environ.pop(ENV, None)  # user subprocesses must not write into our files
    if base:
        try:
            return Recorder(base)
        except OSError:
            pass
    faulthandler.enable()
    return NoRecorder()


def describe_exit(status: "int", shell: "bool" = True) -> "str":
    """Lambda's wording: 'exit status 3' or 'signal: SIGSEGV'. A shell's $? reports signal n
    as 128+n (shell=True); subprocess's returncode as -n."""
    signum = -status if status < 0 else status - 128 if shell and status > 128 else None
    if signum is not None:
        import signal  # only in the reporter process and the local tools

        try:
            return "signal: %s" % signal.Signals(signum).name
        except ValueError:
            if status < 0:
                return "signal: %d" % signum
    return "exit status %d" % status


def children_of(base: "str") -> "list[str]":
    """The record bases of the children of a supervising runtime (<base>.<tag>)."""
    folder, prefix = os.path.split(base)
    try:
        names = os.listdir(folder or ".")
    except OSError:
        return []
    return sorted(
        os.path.join(folder, name[: -len(".inflight")])
        for name in names
        if name.startswith(prefix + ".") and name.endswith(".inflight") and name != prefix + ".inflight"
    )


def remove(base: "str") -> None:
    for suffix in (".inflight", ".fault"):
        try:
            os.unlink(base + suffix)
        except (OSError, TypeError):
            pass


def report(base: "str", status: "int", api_address: "str", setup_logs: "bool" = True) -> "ErrorPayload | None":
    """The supervisor's side: answer for the dead runtime. Returns what was posted, or None."""
    try:
        with open(base + ".inflight", errors="replace") as f:
            record = f.read()
    except OSError:
        return None
    if record.startswith("P"):  # a supervisor died: answer for each of its children
        answered: "ErrorPayload | None" = None
        for child in children_of(base):
            try:
                answered = report(child, status, api_address, setup_logs) or answered
            except Exception as exc:  # noqa: BLE001 - the others still get their answers
                sys.stderr.write("lambda-shim: could not report for %s: %s\n" % (child, exc))
            setup_logs = False
        return answered
    in_flight = _in_flight(record)
    if not in_flight:
        return None  # nothing was in flight
    try:
        with open(base + ".fault", errors="replace") as f:
            fault = f.read()
    except OSError:
        fault = ""
    from shim.runtime import logs

    if setup_logs:
        logs.setup()
    answered = None
    for request_id, invocation_id in in_flight:
        try:
            answered = _answer(request_id, invocation_id, status, fault, api_address)
        except Exception:
            if len(in_flight) == 1:
                raise
            sys.stderr.write("lambda-shim: could not report for %s: %s\n" % (request_id, sys.exc_info()[1]))
    return answered


def _in_flight(record: "str") -> "list[tuple[str, str]]":
    """[(request id, invocation id)] from a record: "R<id>\n<invocation id>\n", or "M" and several, then NUL."""
    if record.startswith("R"):
        request_id, _, rest = record[1:].partition("\n")
        return [(request_id, rest.partition("\n")[0].strip())] if request_id else []
    if record.startswith("M"):
        lines = record[1:].split("\0", 1)[0].split("\n")
        return [(lines[i], lines[i + 1].strip()) for i in range(0, len(lines) - 1, 2) if lines[i]]
    return []


def _answer(request_id: "str", invocation_id: "str", status: "int", fault: "str", api_address: "str") -> "ErrorPayload":
    from shim.runtime import errors, logs
    from shim.runtime.client import RuntimeAPI

    phase = request_id in (INIT, RESTORE)
    during = {INIT: "init", RESTORE: "restore"}.get(request_id, "the invoke")
    message = "Runtime exited with %s during %s" % (describe_exit(status), during)
    error = errors.payload(errors.EXIT_ERROR, message, fault.splitlines(True), "" if phase else request_id)
    logs.uncaught(error)
    api = RuntimeAPI(api_address)
    body = errors.encode(error)
    try:
        if request_id == INIT:
            api.init_error(body, errors.EXIT_ERROR)
        elif request_id == RESTORE:
            api.restore_error(body, errors.EXIT_ERROR)
        else:
            api.fail(request_id, body, errors.EXIT_ERROR, None, invocation_id or None)
    finally:
        api.close()
    return error


def main(argv: "list[str] | None" = None) -> "int":
    argv = sys.argv[1:] if argv is None else argv
    base, status = os.environ.get(ENV), int(argv[0]) if argv else 1
    try:
        if base and os.environ.get("AWS_LAMBDA_RUNTIME_API"):
            report(base, status, os.environ["AWS_LAMBDA_RUNTIME_API"])
    except Exception as exc:  # noqa: BLE001 - the Runtime API may be gone too; say so and keep the exit status
        sys.stderr.write("lambda-shim: could not report the runtime's exit: %s\n" % exc)
    finally:
        if base:  # unset or empty: no files (an empty base named ./.inflight and ./.fault)
            for child in children_of(base):
                remove(child)
            remove(base)
    return status


if __name__ == "__main__":
    sys.exit(main())
