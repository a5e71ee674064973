"""The runtime registers itself as an internal extension, so that Lambda sends it SIGTERM.

Lambda sends SIGTERM (then SIGKILL after a grace period) only to a function with a
registered extension; with none, the runtime gets SIGKILL at once and no cleanup
runs. An internal extension is one that runs inside the runtime process: it
registers through the Extensions API (same host:port as the Runtime API) and
gives the runtime 500 ms to shut down (docs: "Extensions API", "Shutdown phase").
The rules it follows, from the same pages and the AWS emulator's source:

- register before the runtime's first /next: Lambda closes registration then;
- subscribe to no events: an internal extension may not take SHUTDOWN, and on
  Managed Instances it may take none at all; with none, no invoke waits for it;
- call /extension/event/next once and stay there: init completes only when every
  registered extension has asked for its next event. A thread parks on it
  (the reply never comes: it subscribed to nothing).

Only done when something wants the signal (see shim.runtime.shutdown): it costs a
request at init, a parked thread and one connection.
"""

import _thread

from shim.runtime import logs, signals, protocol, shutdown
from shim.runtime.client import RuntimeAPI, RuntimeAPIError

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (the cold start)
if TYPE_CHECKING:
    from shim.runtime.signals import Guard

NAME = "lambda-shim"
identifier: "str | None" = None  # Lambda-Extension-Identifier once registered
_parked: "RuntimeAPI | None" = None  # the connection waiting on /event/next


_decided_elsewhere = False  # a Managed Instances worker: its supervisor registers (or not)


def before_first_next(address: "str", guard: "Guard") -> None:
    """The last moment to register: Lambda closes registration at the runtime's first /next
    (or /restore/next). Registers only if something wants SIGTERM (shutdown.wanted)."""
    if identifier is None and not _decided_elsewhere and shutdown.wanted(guard):
        register(address)
    shutdown.init_over()


def leave_to_parent() -> None:
    """In a worker whose supervisor decides about the extension (it outlives any one worker)."""
    global _decided_elsewhere
    _decided_elsewhere = True


def register(address: "str", name: "str" = NAME) -> "str | None":
    """Register and park a thread on /event/next; the identifier, or None (said in the logs)."""
    global identifier, _parked
    api = RuntimeAPI(address, pipeline=False)
    try:
        status, headers, body = api.call(
            "POST",
            protocol.EXTENSION_REGISTER,
            b'{"events": []}',
            "%s: %s\r\nContent-Type: application/json\r\n" % (protocol.EXTENSION_NAME, name),
        )
    except (OSError, ConnectionError, RuntimeAPIError) as exc:
        logs.runtime_error(
            "Could not register the shutdown extension: %s; Lambda will send SIGTERM only if "
            "another extension is registered" % exc
        )
        return None
    finally:
        api.close()
    if status != 200:
        logs.runtime_error(
            "The Extensions API refused the shutdown extension (HTTP %d: %s); Lambda will send "
            "SIGTERM only if another extension is registered" % (status, body[:300].decode("utf-8", "replace"))
        )
        return None
    identifier = (headers.get(protocol.EXTENSION_ID.lower().encode()) or b"").decode("latin-1")
    _parked = RuntimeAPI(address, pipeline=False)
    signals.start_thread(_thread.start_new_thread, _park, (_parked, identifier))
    return identifier


def _park(api: "RuntimeAPI", ident: "str") -> None:
    try:
        api.call("GET", protocol.EXTENSION_NEXT, b"", "%s: %s\r\n" % (protocol.EXTENSION_ID, ident))
    except BaseException:  # noqa: BLE001 - the process is going away; nothing to say
        pass


def own_fds() -> "set[int]":
    """File descriptors of our own connections (not the function's), for the fork-time socket check."""
    sock = getattr(_parked, "_sock", None)
    return {sock.fileno()} if sock is not None else set()


def forget_in_child() -> None:
    """In a forked worker: close our copy of the parked connection (the thread stayed in the parent)."""
    sock = getattr(_parked, "_sock", None)
    if sock is not None:
        sock.close()
