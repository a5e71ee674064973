"""Runtime plugins: installed packages that extend the runtime, found when the zip is built.

A distribution declares an entry point in the group `lambda_shim.plugins`. `shim pack`
finds those among the function's dependencies (shim.pack.plugins) and writes them, in
order, to `lambda_shim_plugins.json` at the root of the zip. At cold start this module
reads that file and imports what it lists, and nothing else: no importlib.metadata and
no scan of the installed distributions, which together cost ~40-50 ms here, more than a
whole cold start. Without the file the cost is one stat(): main does not even import this module.

The plugin contract (the hooks init, wrap and shutdown, what each gets, their order and the
faults) is described once, in shim.runtime.plugin_api.Plugin; this module implements it.
"""

import os
import sys

from shim.runtime import PLUGIN_MANIFEST, PLUGIN_MANIFEST_VARIABLE, aio, errors
from shim.runtime.signals import FatalSignal

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (the cold start)
if TYPE_CHECKING:
    from typing import Any, Callable, Mapping

    from shim.runtime.plugin_api import Handler, PluginSettings

    Hook = Callable[..., object]

GROUP = "lambda_shim.plugins"
MANIFEST = PLUGIN_MANIFEST  # at the root of the zip, i.e. the task root
MANIFEST_VARIABLE = PLUGIN_MANIFEST_VARIABLE  # read this file instead (the local tools set it for --no-pack)
SELECTION_VARIABLE = "SHIM_PLUGINS"  # unset: all; "a,b": those, in that order; "" or "none": none
FORMAT = 1


class Entry:
    """One plugin as the manifest lists it."""

    __slots__ = ("name", "value", "distribution", "version", "origin")

    def __init__(
        self, name: "str", value: "str", distribution: "str" = "", version: "str" = "", origin: "str" = ""
    ) -> None:
        self.name = name  # the entry point's name: what SHIM_PLUGINS selects
        self.value = value  # 'module:attr.sub', as in the entry point
        self.distribution = distribution
        self.version = version
        self.origin = origin  # where the packer found it (not in the manifest)

    def describe(self) -> "str":
        origin = " from %s %s" % (self.distribution, self.version) if self.distribution else ""
        return "'%s' (%s%s)" % (self.name, self.value, origin.rstrip())

    def as_dict(self) -> "dict[str, str]":
        return {"name": self.name, "value": self.value, "distribution": self.distribution, "version": self.version}


class Plugin:
    """An imported plugin: its entry and the object the entry point names."""

    __slots__ = ("entry", "obj")

    def __init__(self, entry: "Entry", obj: "object") -> None:
        self.entry, self.obj = entry, obj

    @property
    def name(self) -> "str":
        return self.entry.name

    def hook(self, name: "str") -> "Hook | None":
        """The hook `name`, or None; a hook that is there but not callable is the plugin's fault."""
        try:
            hook: "object" = getattr(self.obj, name, None)
        except Exception as exc:  # noqa: BLE001 - whatever the plugin's attribute lookup raised is its fault, reported as such
            raise failure(self.entry, "broke when its %s hook was looked up" % name, exc) from None
        if hook is None or callable(hook):
            return hook
        raise errors.Fault(
            errors.PLUGIN_ERROR,
            "Plugin %s: its %s hook is a %s, not a function" % (self.entry.describe(), name, type(hook).__name__),
        )


def failure(entry: "Entry", what: "str", exc: "BaseException") -> "errors.Fault":
    """A Runtime.PluginError Fault naming the plugin, with the frames of exc (the plugin's own)."""
    error_type, message = errors.describe(exc, "Plugin '%s'" % entry.name)
    fault = errors.Fault(
        errors.PLUGIN_ERROR,
        "Plugin %s %s: %s: %s" % (entry.describe(), what, error_type, message),
        errors.user_frames(exc.__traceback__).format(),
    )
    fault.__cause__ = exc
    return fault


# -- the manifest -----------------------------------------------------------------------------------


def manifest_path(task_root: "str", environ: "Mapping[str, str]") -> "tuple[str, bool]":
    """(path, whether it was asked for by SHIM_PLUGINS_MANIFEST)."""
    explicit = environ.get(MANIFEST_VARIABLE)
    if explicit:
        return explicit, True
    return os.path.join(task_root, MANIFEST), False


def read_manifest(path: "str", explicit: "bool" = False) -> "list[Entry]":
    """The entries the manifest at path lists; [] when there is none (unless it was asked for)."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        if explicit:
            raise errors.Fault(
                errors.PLUGIN_ERROR, "%s names the plugin manifest %s, which does not exist" % (MANIFEST_VARIABLE, path)
            ) from None
        return []
    except OSError as exc:
        raise errors.Fault(
            errors.PLUGIN_ERROR, "Cannot read the plugin manifest %s: %s" % (path, exc.strerror or exc)
        ) from None
    return parse_manifest(data, path)


def parse_manifest(data: "bytes", where: "str" = MANIFEST) -> "list[Entry]":
    import json  # loaded already (marshal uses it); here so the module says what it needs

    try:
        document = json.loads(data.decode("utf-8"))
        if document.get("format") != FORMAT:
            raise ValueError("format %r, this runtime reads format %d" % (document.get("format"), FORMAT))
        entries = [
            Entry(
                str(item["name"]),
                str(item["value"]),
                str(item.get("distribution") or ""),
                str(item.get("version") or ""),
            )
            for item in document["plugins"]
        ]
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise errors.Fault(
            errors.PLUGIN_ERROR,
            "The plugin manifest %s is not valid (%s: %s): pack the function again" % (where, type(exc).__name__, exc),
        ) from None
    return entries


def select(entries: "list[Entry]", selection: "str | None") -> "list[Entry]":
    """The entries SHIM_PLUGINS asks for, in its order: all of them when it is unset (None)."""
    if selection is None:
        return list(entries)
    names = [name.strip() for name in selection.split(",") if name.strip()]
    if names in ([], ["none"]):
        return []
    by_name = {entry.name: entry for entry in entries}
    chosen: "list[Entry]" = []
    for name in names:
        if name not in by_name:
            raise errors.Fault(
                errors.PLUGIN_ERROR,
                "%s=%s names '%s', which is not one of this function's plugins "
                "(%s)" % (SELECTION_VARIABLE, selection, name, ", ".join(sorted(by_name)) or "it has none"),
            )
        if by_name[name] not in chosen:
            chosen.append(by_name[name])
    return chosen


# -- loading ----------------------------------------------------------------------------------------


def load(task_root: "str", environ: "Mapping[str, str]") -> "list[Plugin]":
    """Import the plugins the manifest lists (as SHIM_PLUGINS selects them); [] without a manifest."""
    path, explicit = manifest_path(task_root, environ)
    entries = read_manifest(path, explicit)
    if not entries:
        return []
    return [Plugin(entry, resolve(entry)) for entry in select(entries, environ.get(SELECTION_VARIABLE))]


def resolve(entry: "Entry") -> "object":
    """The object 'module:attr.sub' names (importlib.import_module, minus importing importlib)."""
    value = entry.value.split("[", 1)[0]  # an old-style '[extras]' suffix says nothing to us
    module, _, attrs = value.partition(":")
    module = module.strip()
    try:
        __import__(module)
        obj: "object" = sys.modules[module]
        for attr in filter(None, attrs.strip().split(".")):
            obj = getattr(obj, attr)
        return obj
    except FatalSignal:
        raise
    except BaseException as exc:  # noqa: BLE001 - sys.exit() at import time is the plugin's fault too
        raise failure(entry, "could not be imported", exc) from None


def start(
    plugins: "list[Plugin]", handler: "Handler", spec: "str", environ: "Mapping[str, str]", started: "float"
) -> "Handler":
    """Run the init hooks, wrap the handler, register the shutdown hooks; the handler to call."""
    names = [plugin.name for plugin in plugins]
    streaming, awaitable = bool(aio.code_flags(handler) & aio.GENERATOR_FLAGS), aio.is_async(handler)
    for plugin in plugins:
        init = plugin.hook("init")
        if init is not None:
            try:
                init(spec, settings_for(plugin, names, spec, environ, started, streaming, awaitable))
            except FatalSignal:
                raise
            except BaseException as exc:  # noqa: BLE001
                raise failure(plugin.entry, "failed in its init hook", exc) from None
    handler = chain(plugins, handler)
    for plugin in plugins:
        hook = plugin.hook("shutdown")
        if hook is not None:
            register_shutdown(plugin, hook)
    return handler


def settings_for(
    plugin: "Plugin",
    names: "list[str]",
    spec: "str",
    environ: "Mapping[str, str]",
    started: "float",
    streaming: "bool" = False,
    awaitable: "bool" = False,
) -> "PluginSettings":
    """What a plugin's init hook gets besides the handler: a fresh dict for each plugin."""
    memory = environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "")
    return {
        "name": plugin.name,  # this plugin's entry point name
        "plugins": list(names),  # every plugin loaded, in order
        "handler": spec,
        "task_root": environ.get("LAMBDA_TASK_ROOT") or os.getcwd(),
        "function_name": environ.get("AWS_LAMBDA_FUNCTION_NAME"),
        "function_version": environ.get("AWS_LAMBDA_FUNCTION_VERSION"),
        "memory_mb": int(memory) if memory.isdigit() else None,
        "region": environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION"),
        "log_group_name": environ.get("AWS_LAMBDA_LOG_GROUP_NAME"),
        "log_stream_name": environ.get("AWS_LAMBDA_LOG_STREAM_NAME"),
        "initialization_type": environ.get("AWS_LAMBDA_INITIALIZATION_TYPE"),
        "init_started": started,  # time.monotonic() when the runtime started
        "streaming": streaming,  # the handler is a generator: it returns its chunks
        "awaitable": awaitable,  # it returns a coroutine, awaited by the runtime
    }  # (SHIM_ASYNC_CONCURRENCY: one event loop for N invokes)


# -- wrapping ---------------------------------------------------------------------------------------


def chain(plugins: "list[Plugin]", handler: "Handler") -> "Handler":
    """handler wrapped by every plugin with a wrap hook, the first plugin outermost.

    Each wrapper is called through a guard that tells the handler's exceptions (passed
    through as they are) from one the wrapper raised itself, which becomes a
    Runtime.PluginError naming the plugin. Without wrap hooks the handler is unchanged.
    """
    hooks = [(plugin, plugin.hook("wrap")) for plugin in plugins]
    wrapping = [(plugin, wrap) for plugin, wrap in hooks if wrap is not None]
    if not wrapping:
        return handler
    raised: "list[BaseException | None]" = [None]  # what the handler itself raised during this invoke

    def the_handler(event: "Any", context: "Any") -> "Any":
        try:
            return handler(event, context)
        except BaseException as exc:  # noqa: B036 - noted, then passed on untouched
            raised[0] = exc
            raise

    current: "Handler" = the_handler
    for plugin, wrap in reversed(wrapping):
        try:
            wrapped = wrap(current)
        except FatalSignal:
            raise
        except BaseException as exc:  # noqa: BLE001
            raise failure(plugin.entry, "failed in its wrap hook", exc) from None
        if not callable(wrapped):
            raise errors.Fault(
                errors.PLUGIN_ERROR,
                "Plugin %s: its wrap hook returned a %s, not a handler"
                % (plugin.entry.describe(), type(wrapped).__name__),
            )
        if aio.is_async(wrapped):
            raise errors.Fault(
                errors.PLUGIN_ERROR,
                "Plugin %s: its wrap hook returned an async function; wrappers "
                "are plain functions (async handlers reach them already running on the event loop)"
                % plugin.entry.describe(),
            )
        current = _guarded(wrapped, plugin.entry, raised)
    outermost = current

    def invoke(event: "Any", context: "Any") -> "Any":
        try:
            return outermost(event, context)
        finally:
            raised[0] = None  # and not kept alive with its frames until the next invoke

    # mypy types no attribute set on a function. __shim_handler__: the function's own (main streams the
    # response if it is a generator).
    invoke.__wrapped__ = handler  # type: ignore[attr-defined]
    invoke.__shim_handler__ = handler  # type: ignore[attr-defined]
    return invoke


def _guarded(wrapped: "Handler", entry: "Entry", raised: "list[BaseException | None]") -> "Handler":
    def call(event: "Any", context: "Any") -> "Any":
        try:
            return wrapped(event, context)
        except Exception as exc:
            if exc is raised[0] or getattr(exc, "error_type", None) == errors.PLUGIN_ERROR:
                raise  # the handler's own, or an inner plugin's already named
            raise failure(entry, "raised in its wrapper", exc) from exc

    return call


# -- shutdown ---------------------------------------------------------------------------------------


def register_shutdown(plugin: "Plugin", hook: "Hook") -> None:
    """Hand a plugin's shutdown hook to the runtime's shutdown callbacks (shim.runtime.shutdown):
    run on SIGTERM with the function's own, newest first, within SHIM_SHUTDOWN_TIMEOUT_MS."""
    from shim.runtime import shutdown

    shutdown.on_shutdown(_named(plugin.entry, hook))


def _named(entry: "Entry", hook: "Hook") -> "Callable[[], object]":
    """hook, under a name that says which plugin it belongs to (what the shutdown log lines show)."""

    def shutdown_hook() -> "object":
        return hook()

    shutdown_hook.__qualname__ = "of plugin %s" % entry.describe()
    return shutdown_hook
