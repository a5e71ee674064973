"""Managed Instances, locally: the runtime's log records that belong to no request, reported once.

With several invokes at once, an invoke's logs are the records that carry its requestId
(shim.local.function). The runtime also writes records about the environment itself: a
worker whose init failed after the others were serving (its error and stack trace, or the
faulthandler stack the supervisor read for a worker that crashed), a worker that exited.
On Lambda they are in the log stream among the invokes' lines. Here each goes, once, to the
first invoke that finishes after it was written, so `shim invoke`, `shim serve` and the pytest
fixture all show it exactly once, in that invoke's logs and transcript.
"""

import json
import threading


class Unclaimed:
    def __init__(self):
        self._lock = threading.Lock()
        self._environment = None
        self._at = 0

    def take(self, environment, start):
        """The records with no requestId written since the last take (from `start`, a mark, for a new environment)."""
        with self._lock:
            if environment is not self._environment:
                self._environment, self._at = environment, start
            until = environment.mark()
            text = environment.since(self._at, until=until)
            self._at = until
        return "".join(line + "\n" for line in text.split("\n") if _environment_record(line))


def _environment_record(line):
    if not line.startswith("{"):
        return False  # print() output: whose it is cannot be told
    try:
        record = json.loads(line)
    except ValueError:
        return False
    return isinstance(record, dict) and not record.get("requestId")
