"""`async def` handlers: run on one event loop kept for the life of the execution environment.

The official client calls the handler and tries to JSON-encode the coroutine it gets back.
Here a coroutine function is found at init (a flag on its code object: no inspect import),
asyncio is imported then, not on the first invoke, and every invoke runs on the same loop,
so clients and connection pools made in one invoke are still usable in the next, as module
state is for a sync handler. Each invoke runs as a task, with a copy of the invoke's
context: request keys bound for logging are visible inside it.
"""

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (the cold start)
if TYPE_CHECKING:
    from asyncio import AbstractEventLoop
    from typing import Any, Coroutine

    from shim.runtime.plugin_api import Handler

_CO_COROUTINE = 0x80  # inspect.CO_COROUTINE
# A generator function, or an async one: its handler streams (shim.runtime.stream, imported only then).
GENERATOR_FLAGS = 0x20 | 0x200  # inspect.CO_GENERATOR | inspect.CO_ASYNC_GENERATOR


def code_flags(handler: "object") -> "int":
    """The co_flags of a function, or of an object's __call__; 0 for what has no code (a builtin)."""
    code = getattr(handler, "__code__", None) or getattr(getattr(handler, "__call__", None), "__code__", None)
    return code.co_flags if code is not None else 0


# The coroutine of the invoke in progress: where it awaits is the timeout warning's stack.
running: "Coroutine[Any, Any, Any] | None" = None


def is_async(handler: "object") -> "bool":
    return bool(code_flags(handler) & _CO_COROUTINE)


_loop: "AbstractEventLoop | None" = None


def event_loop() -> "AbstractEventLoop":
    """The environment's one event loop, made (and asyncio imported) the first time, at init."""
    global _loop
    if _loop is None:
        import asyncio

        _loop = asyncio.new_event_loop()
        asyncio.set_event_loop(_loop)
    return _loop


def adapt(handler: "Handler") -> "Handler":
    """The handler itself when it is sync; else a sync wrapper that runs it on the environment's loop."""
    if not is_async(handler):
        return handler
    loop = event_loop()

    def run_on_loop(event: "Any", context: "Any") -> "Any":
        global running
        running = coroutine = handler(event, context)
        try:
            return loop.run_until_complete(coroutine)
        finally:
            running = None

    run_on_loop.__wrapped__ = handler  # type: ignore[attr-defined]  # mypy types no attribute set on a function
    return run_on_loop
