"""The runtime plugin contract, for type checkers and plugin authors: `Plugin` and `PluginSettings`.

Nothing in the runtime imports this module (it imports typing, which the cold start does not pay for);
`shim.Plugin` and `shim.PluginSettings` load it on first use. A plugin needs nothing from lambda-shim
at run time, so import these under `if TYPE_CHECKING:` only.
"""

from typing import Any, Callable, List, Optional, Protocol, TypedDict

__all__ = ["Handler", "Plugin", "PluginSettings"]

Handler = Callable[[Any, Any], Any]
"""`handler(event, context)`: what a wrap hook gets and returns (context is a shim.LambdaContext)."""


class PluginSettings(TypedDict):
    """What a plugin's init hook gets besides the handler: a new dict for each plugin."""

    name: str  # this plugin's entry point name (what SHIM_PLUGINS selects)
    plugins: List[str]  # every plugin loaded, in order
    handler: str  # the _HANDLER string
    task_root: str
    function_name: Optional[str]
    function_version: Optional[str]
    memory_mb: Optional[int]
    region: Optional[str]
    log_group_name: Optional[str]
    log_stream_name: Optional[str]
    initialization_type: Optional[str]  # AWS_LAMBDA_INITIALIZATION_TYPE: "on-demand", "snap-start", ...
    init_started: float  # time.monotonic() when the runtime started
    streaming: bool  # the handler is a generator function: its call returns its chunks
    awaitable: bool  # its call returns a coroutine the runtime awaits (SHIM_ASYNC_CONCURRENCY)


class Plugin(Protocol):
    """A runtime plugin: the object an entry point in the group `lambda_shim.plugins` names.

    This docstring is the contract; shim.runtime.plugins implements it. A plugin is any object (a
    module, an instance, ...) with any of the three hooks below: the runtime looks each one up by
    name and skips a missing one, so a plugin with only some of them is valid even though a type
    checker matches an object against this Protocol only when it has all three.

    Finding and loading. `shim pack` finds the entry points among the function's dependencies
    (shim.pack.plugins) and writes them, in order, to `lambda_shim_plugins.json` at the root of the
    zip; at cold start the runtime imports what that file lists and nothing else (no
    importlib.metadata, no scan of the installed distributions). `SHIM_PLUGINS` selects and orders
    them ("a,b"; "" or "none" for none); `SHIM_PLUGINS_MANIFEST` names another manifest (the local
    tools use it for `--no-pack`). Plugins are imported before the handler's module, so they can
    instrument the libraries it imports: keep them cheap to import, that is part of every cold start.

    Order. The init hooks run once, plugin by plugin, after the handler is loaded; then the wrap
    hooks, the last plugin first, so the first plugin's wrapper is the outermost; a shutdown hook
    becomes one of the runtime's shutdown callbacks (shim.on_shutdown).

    Faults. A plugin that cannot be imported, or whose init or wrap hook raises, or whose wrap hook
    returns something that is not a plain callable (an `async def` wrapper included), is an init
    error of type Runtime.PluginError naming the plugin. An exception a wrapper raises itself is a
    Runtime.PluginError too; the handler's own exceptions pass through the wrappers untouched.
    """

    def init(self, handler: str, settings: PluginSettings) -> None:
        """Once per execution environment, after the handler's module is loaded: handler is the
        `_HANDLER` string, settings a new dict for this plugin (see PluginSettings)."""

    def wrap(self, handler: Handler) -> Handler:
        """Middleware, once, after every init: gets a plain `handler(event, context)` and returns one with
        the same signature. It sees the decoded event, the context, and the result or the exception (decoding
        the event and encoding the result happen around it, in the runtime). An `async def` handler arrives
        already adapted to the environment's event loop, so the wrapper sees its awaited result. A streaming
        handler's call returns its (async) generator: the wrapper passes it on, or returns a generator of its
        own that yields its chunks; an error raised mid-stream is the handler's, not the plugin's. Under
        SHIM_ASYNC_CONCURRENCY (settings["awaitable"]) the call returns the handler's coroutine, which the
        wrapper passes on or wraps in a coroutine of its own."""

    def shutdown(self) -> None:
        """On SIGTERM, as one of the runtime's shutdown callbacks: run newest first with the function's own
        shim.on_shutdown callbacks, within SHIM_SHUTDOWN_TIMEOUT_MS. A plugin with one makes the runtime
        register as an internal extension, so Lambda sends SIGTERM even without a layer."""
