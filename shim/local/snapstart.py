"""SnapStart, locally: take the snapshot once per environment, restore from it as often as needed.

With AWS_LAMBDA_INITIALIZATION_TYPE=snap-start the runtime runs its init and the
before-snapshot hooks, then waits on /restore/next: that is the snapshot point, and
the init phase (INIT_REPORT) ends there. Each restore lets it go with
protocol.RESTORE_FORK, so the runtime forks: the child runs the after-restore hooks
and serves (its first /next ends the restore: RESTORE_REPORT, and Restore Duration
in the REPORT of the first invoke), while the snapshotted process stays as it was.
When the restored environment has to go (a timeout, a crash), only the child is
killed, and the next invoke restores from the same snapshot again, with the same
memory, as Lambda restores one snapshot into many environments.

What this does not emulate: the microVM snapshot itself (the restored process is a
fork, with a new pid, of a process that still runs, and the restore takes a fork,
not Lambda's page loading, so Restore Duration here is mostly the after-restore
hooks'); network connections survive the fork where Lambda's would not be
guaranteed to; credentials and environment variables are not swapped.
"""

import os
import signal
import time

from shim.local.environment import _descendants, exit_reason

RESTORE_TIMEOUT_S = 10.0  # Lambda's limit for loading the runtime and running the after-restore hooks


def snapshot(environment, timeout_s, echo=None):
    """Wait for the snapshot point; the init duration in ms, or None if init failed or timed out."""
    api = environment.api
    deadline = time.monotonic() + timeout_s
    while not api.restores.wait_arrivals(1, 0.05):
        if api.init_error is not None or environment.returncode is not None or time.monotonic() > deadline:
            return None
    init_ms = (api.restores.snapshot_at - environment.started_at) * 1000
    _say(environment, echo, "INIT_REPORT Init Duration: %.2f ms\tPhase: init" % init_ms)
    return init_ms


def restore(environment, echo=None):
    """Restore (again) from the environment's snapshot; the restore duration in ms, or None if it failed."""
    api = environment.api
    wanted = len(api.restores.released) + 1
    deadline = time.monotonic() + RESTORE_TIMEOUT_S
    # After a restored child died, the snapshot process comes back to /restore/next.
    while not api.restores.wait_arrivals(wanted, 0.05):
        if environment.returncode is not None or time.monotonic() > deadline:
            return None
    _say(environment, echo, "RESTORE_START")
    released = time.monotonic()
    api.restores.restore(fork=True)
    while True:
        polled = api.wait_poll_after(released, 0.05)
        if polled is not None:
            break
        failed = api.restores.error is not None or environment.returncode is not None
        if failed or time.monotonic() > released + RESTORE_TIMEOUT_S:
            status = "error" if failed else "timeout"
            _say(
                environment,
                echo,
                "RESTORE_REPORT Restore Duration: %.2f ms\tStatus: %s" % ((time.monotonic() - released) * 1000, status),
            )
            return None
    restore_ms = (polled - released) * 1000
    _say(environment, echo, "RESTORE_REPORT Restore Duration: %.2f ms" % restore_ms)
    return restore_ms


def kill_restored(environment):
    """Kill the restored environment (the snapshot process's children and theirs), not the snapshot.
    True if the snapshot process is still there to restore from."""
    process = environment.process
    if process is None or process.poll() is not None:
        return False
    for pid in _descendants(process.pid)[2:]:  # [launcher, snapshot process, restored child, ...]
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    return process.poll() is None


def describe_failure(environment):
    """(body, errorType) for a restore that failed."""
    import json

    api = environment.api
    if api.restores.error is not None:
        body, headers = api.restores.error
        return body, headers.get("lambda-runtime-function-error-type") or "Runtime.AfterRestoreError"
    if environment.returncode is not None:
        message = "Runtime exited with error: %s during restore" % exit_reason(environment.returncode)
    else:
        message = "Restore timed out after %.2f seconds" % RESTORE_TIMEOUT_S
    return json.dumps({"errorMessage": message, "errorType": "Runtime.ExitError"}).encode(), "Runtime.ExitError"


def _say(environment, echo, line):
    """A phase line, after everything the runtime wrote before the API saw that phase (a hook's
    output is in the pipe by the time the restored child asks for /next, but maybe not yet read)."""
    if echo is not None:
        environment.drain()
        echo("platform", line + "\n")
