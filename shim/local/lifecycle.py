"""The local Runtime API's SnapStart and Extensions routes (used by shim.local.emulator).

SnapStart: GET /runtime/restore/next blocks until the caller restores the snapshot
(`Restores.restore()`), as Lambda holds it until a new environment is restored from
the snapshot; each arrival there is a snapshot point (the first one ends the init).
POST /runtime/restore/error fails the restore. With fork=True the reply carries
protocol.RESTORE_FORK, and the runtime restores into a forked child of itself (see
shim.runtime.checkpoint), so the next restore starts from the same memory again.

Extensions: POST /2020-01-01/extension/register and GET .../event/next, as Lambda
serves them to an internal extension (one the runtime process registers itself):
registration closes at the runtime's first /next or /restore/next (403
Extension.RegistrationClosed); SHUTDOWN is refused (403 Extension.InvalidEventType,
internal extensions may not take it); event/next never returns, as for an extension
subscribed to no events. INVOKE subscriptions are refused here: the local API does
not deliver INVOKE events to extensions.
"""

import json
import queue
import threading
import time
import uuid

from shim.runtime import protocol


class Restores:
    def __init__(self):
        self.arrivals = []  # monotonic times the runtime reached /restore/next
        self.released = []  # monotonic times each restore let it go
        self.error = None  # (body, headers) of a POST /restore/error
        self._tokens = queue.Queue()
        self._changed = threading.Condition()

    @property
    def snapshot_at(self):
        """When the runtime first reached /restore/next: the end of the init phase (hooks included)."""
        return self.arrivals[0] if self.arrivals else None

    def restore(self, fork=True):
        """Let the runtime waiting on /restore/next (now or later) go on into a restored environment."""
        self._tokens.put(fork)

    def wait_arrivals(self, count, timeout=None):
        """Wait until the runtime has reached /restore/next `count` times in all; True if it has."""
        with self._changed:
            return self._changed.wait_for(lambda: len(self.arrivals) >= count, timeout)

    def next(self, stopping):
        """The runtime's side: block until restored; the fork flag, or None when the server stops."""
        with self._changed:
            self.arrivals.append(time.monotonic())
            self._changed.notify_all()
        while not stopping.is_set():
            try:
                fork = self._tokens.get(timeout=0.1)
            except queue.Empty:
                continue
            with self._changed:
                self.released.append(time.monotonic())
                self._changed.notify_all()
            return fork
        return None

    def failed(self, body, headers):
        with self._changed:
            self.error = (body, headers)
            self._changed.notify_all()


class Extensions:
    def __init__(self):
        self.registered = []  # {"name", "id", "events"} in registration order
        self.closed = False  # the runtime asked for its first event or restore
        self._lock = threading.Lock()

    def register(self, name, body):
        """(status, reply object, reply headers)."""
        try:
            events = (json.loads(body or b"{}") or {}).get("events") or []
        except (ValueError, AttributeError):
            return 400, {"errorMessage": "Invalid register body", "errorType": "Extension.InvalidRequest"}, {}
        with self._lock:
            if self.closed:
                return (
                    403,
                    {
                        "errorMessage": "Extension registration closed: the runtime already asked for its first event",
                        "errorType": "Extension.RegistrationClosed",
                    },
                    {},
                )
            if not name:
                return 403, {"errorMessage": "Empty extension name", "errorType": "Extension.InvalidExtensionName"}, {}
            if "SHUTDOWN" in events:
                return (
                    403,
                    {
                        "errorMessage": "Internal extensions may not register for SHUTDOWN",
                        "errorType": "Extension.InvalidEventType",
                    },
                    {},
                )
            if events:
                return (
                    403,
                    {
                        "errorMessage": "The local Runtime API delivers no %s events to extensions" % events,
                        "errorType": "Extension.InvalidEventType",
                    },
                    {},
                )
            if len(self.registered) >= 10:
                return 403, {"errorMessage": "Too many extensions", "errorType": "Extension.TooManyExtensions"}, {}
            ident = str(uuid.uuid4())
            self.registered.append({"name": name, "id": ident, "events": events})
        return (
            200,
            {"functionName": "function", "functionVersion": "$LATEST", "handler": ""},
            {protocol.EXTENSION_ID: ident},
        )

    def known(self, ident):
        return any(extension["id"] == ident for extension in self.registered)

    def close(self):
        with self._lock:
            self.closed = True
