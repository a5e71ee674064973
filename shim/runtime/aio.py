"""`async def` handlers: run on one event loop kept for the life of the execution environment.

The official client calls the handler and tries to JSON-encode the coroutine it gets back.
Here a coroutine function is found at init (a flag on its code object: no inspect import),
asyncio is imported then, not on the first invoke, and every invoke runs on the same loop,
so clients and connection pools made in one invoke are still usable in the next, as module
state is for a sync handler. Each invoke runs as a task, with a copy of the invoke's
context: request keys bound for logging are visible inside it.
"""
_CO_COROUTINE = 0x80  # inspect.CO_COROUTINE


def is_async(handler):
    code = getattr(handler, "__code__", None) or getattr(getattr(handler, "__call__", None), "__code__", None)
    return code is not None and bool(code.co_flags & _CO_COROUTINE)


def adapt(handler):
    """The handler itself when it is sync; else a sync wrapper that runs it on the environment's loop."""
    if not is_async(handler):
        return handler
    import asyncio

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)

    def run_on_loop(event, context):
        return loop.run_until_complete(handler(event, context))

    run_on_loop.__wrapped__ = handler
    return run_on_loop
