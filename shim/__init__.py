"""lambda-shim: a fast, debuggable Python runtime for AWS Lambda.

Three parts, and the CLI on top:
  shim/runtime/  what runs on Lambda: shipped inside every deployment zip (or the runtime layer)
  shim/pack/     the packer: builds the zip (or the layer) on your machine
  shim/local/    the local tools: a Runtime API emulator, execution environments, the pytest plugin
  shim/cli/      `shim COMMAND`: new, pack, invoke, serve, deploy, ...
Only this file, shim/__main__.py and shim/runtime/ ship to Lambda.

The function's API is this module's __all__. `import shim` stays cheap, as the runtime imports it on
every cold start: the classes load on first use (PEP 562), the functions import what they need when called.
"""

__version__ = "0.2.0"

__all__ = [
    "HttpResponse",
    "LambdaContext",
    "Plugin",
    "PluginSettings",
    "on_shutdown",
    "register_after_restore",
    "register_before_snapshot",
]

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing: type checkers take it as True
if TYPE_CHECKING:
    from typing import Any, Callable, List, TypeVar

    from shim.runtime.context import LambdaContext
    from shim.runtime.plugin_api import Plugin, PluginSettings
    from shim.runtime.stream import HttpResponse

    _Callback = TypeVar("_Callback", bound=Callable[[], Any])  # on_shutdown returns what it was given
    _Hook = TypeVar("_Hook", bound=Callable[..., Any])  # and so do the SnapStart registrations

# name -> the module that defines it, imported on first access
_LAZY = {
    "HttpResponse": "shim.runtime.stream",
    "LambdaContext": "shim.runtime.context",
    "Plugin": "shim.runtime.plugin_api",
    "PluginSettings": "shim.runtime.plugin_api",
}


def __getattr__(name: str) -> "Any":
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError("module 'shim' has no attribute %r" % name)
    value = getattr(__import__(module, fromlist=[name]), name)
    globals()[name] = value  # found directly from now on
    return value


def __dir__() -> "List[str]":
    return sorted(set(globals()) | set(_LAZY))


# The function's API (these ship in the zip with shim/runtime; each imports what it needs when called).


def on_shutdown(fn: "_Callback") -> "_Callback":
    """Run fn() when Lambda shuts the execution environment down (SIGTERM); usable as a decorator.
    See shim.runtime.shutdown."""
    from shim.runtime import shutdown

    return shutdown.on_shutdown(fn)


def register_before_snapshot(func: "_Hook", *args: "Any", **kwargs: "Any") -> "_Hook":
    """SnapStart: run func(*args, **kwargs) before the snapshot; as snapshot_restore_py's, same registry."""
    from shim.runtime import snapshot_hooks

    return snapshot_hooks.registry().register_before_snapshot(func, *args, **kwargs)


def register_after_restore(func: "_Hook", *args: "Any", **kwargs: "Any") -> "_Hook":
    """SnapStart: run func(*args, **kwargs) after each restore; as snapshot_restore_py's, same registry."""
    from shim.runtime import snapshot_hooks

    return snapshot_hooks.registry().register_after_restore(func, *args, **kwargs)
