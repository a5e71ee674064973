"""Bridges into the log pipeline: stdlib `logging` and structlog, each hooked in on first import.

A meta path finder watches for the two module names and runs a configure
function right after the module executes, so their import cost is paid only
by functions that use them, and user code sees them already wired:
- logging: a root handler feeding the pipeline. The user's own basicConfig()
  still works (it replaces our handler instead of silently doing nothing, the
  official client's bug, awslambdaric #38), and handlers the user adds run too.
- structlog: configured with the pipeline's processors, a level filter from
  AWS_LAMBDA_LOG_LEVEL and a logger that writes to the pipeline's sink.
  A later structlog.configure() from user code wins.
"""

import sys

from shim.runtime import logs

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (the cold start)
if TYPE_CHECKING:
    from importlib.machinery import ModuleSpec
    from logging import LogRecord
    from types import ModuleType
    from typing import Callable, Sequence

    from shim.runtime.logs import EventDict, Pipeline, Sink

    Callbacks = dict[str, Callable[[ModuleType], None]]


def install(pipeline: "Pipeline") -> None:
    hooks: "Callbacks" = {
        "logging": lambda module: _wire_logging(module, pipeline),
        "structlog": lambda module: _wire_structlog(module, pipeline),
    }
    for name in list(hooks):
        if name in sys.modules:
            hooks.pop(name)(sys.modules[name])
    if hooks:
        sys.meta_path.insert(0, AfterImport(hooks))


class AfterImport:
    """Runs callbacks[name](module) right after module `name` is first executed, then steps aside."""

    def __init__(self, callbacks: "Callbacks") -> None:
        self.callbacks = callbacks

    def find_spec(
        self, name: "str", path: "Sequence[str] | None" = None, target: "ModuleType | None" = None
    ) -> "ModuleSpec | None":
        callback = self.callbacks.get(name)
        if callback is None:
            return None
        spec = self._find_with_others(name, path, target)
        loader = spec.loader if spec is not None else None
        if loader is None or isinstance(loader, type) or not hasattr(loader, "exec_module"):
            return spec  # a loader we cannot wrap per module: leave the import alone
        del self.callbacks[name]
        if not self.callbacks:
            sys.meta_path.remove(self)
        execute = loader.exec_module

        def exec_then_wire(module: "ModuleType") -> None:
            execute(module)
            try:
                callback(module)
            except Exception as exc:  # noqa: BLE001 - the user's import must not fail because of our wiring
                logs.runtime_error("Could not wire %s into the log pipeline: %r" % (name, exc))

        loader.exec_module = exec_then_wire  # type: ignore[method-assign]  # this loader's, for this one module
        return spec

    def _find_with_others(
        self, name: "str", path: "Sequence[str] | None", target: "ModuleType | None"
    ) -> "ModuleSpec | None":
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            if finder is self or find is None:
                continue
            spec: "ModuleSpec | None" = find(name, path, target)
            if spec is not None:
                return spec
        return None


# -- stdlib logging ----------------------------------------------------------------------------


def _wire_logging(logging: "ModuleType", pipeline: "Pipeline") -> None:
    standard = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime", "taskName"}

    # `logging` is the module object, passed in as it finishes its import (see AfterImport): mypy sees a
    # ModuleType, not the logging module, so it cannot resolve its classes and functions here.
    class PipelineHandler(logging.Handler):  # type: ignore[name-defined,misc]
        def emit(self, record: "LogRecord") -> None:
            try:
                msg = record.msg
                event = {
                    "event": msg if isinstance(msg, dict) and not record.args else record.getMessage(),
                    "logger": record.name,
                    "_created": record.created,
                    "location": "%s:%s:%d" % (record.pathname, record.funcName, record.lineno),
                    "exc_info": record.exc_info,
                }
                event.update((k, v) for k, v in record.__dict__.items() if k not in standard)
                pipeline.emit(event, record.levelno, "exception" if record.exc_info else "msg")
            except Exception:  # noqa: BLE001 - logging's own contract: a handler's failure goes to handleError
                self.handleError(record)

    handler = PipelineHandler()
    root = logging.getLogger()
    root.addHandler(handler)
    if pipeline.config.level is not None:
        root.setLevel(pipeline.config.level)
    original = logging.basicConfig

    def basicConfig(**kwargs: "object") -> None:
        if root.handlers == [handler]:
            root.removeHandler(handler)  # the user configures logging: their handlers, their format
        original(**kwargs)

    basicConfig.__doc__ = original.__doc__
    logging.basicConfig = basicConfig  # type: ignore[attr-defined]  # the module passed in, as above


# -- structlog ---------------------------------------------------------------------------------


class SinkLogger:
    """The logger structlog's chain ends in: one method per level, each writing the rendered record."""

    def __init__(self, sink: "Sink") -> None:
        self._sink = sink

    def __call__(self, *args: "object") -> "SinkLogger":  # used as its own factory
        return self


def _level_method(levelno: "int") -> "Callable[[SinkLogger, str], None]":
    def write(self: "SinkLogger", rendered: "str") -> None:
        self._sink.write(rendered, levelno)

    return write


for _name, _levelno in logs.METHOD_LEVELS.items():
    setattr(SinkLogger, _name, _level_method(_levelno))
SinkLogger.failure = SinkLogger.error  # type: ignore[attr-defined]  # set by the loop above


def add_level(logger: "object", method_name: "str", event_dict: "EventDict") -> "EventDict":
    event_dict.setdefault("level", logs.LEVEL_NAMES[logs.METHOD_LEVELS.get(method_name, 20)])
    return event_dict


def _wire_structlog(structlog: "ModuleType", pipeline: "Pipeline") -> None:
    # Share our request variables with structlog.contextvars, so bind_contextvars(requestId=...)
    # updates the same variable instead of shadowing it with a second one of the same name.
    registry = getattr(getattr(structlog, "contextvars", None), "_CONTEXT_VARS", None)
    if isinstance(registry, dict):
        for var in logs.request_vars.values():
            registry.setdefault(var.name, var)
    logs.bind_current()  # imported mid-invoke: the invoke's keys, as start_invoke binds them with structlog loaded
    structlog.configure(
        processors=[add_level] + list(pipeline.processors),
        wrapper_class=structlog.make_filtering_bound_logger(pipeline.config.level or 0),
        logger_factory=SinkLogger(pipeline.sink),
        cache_logger_on_first_use=True,
    )
