"""pytest plugin (entry point `lambda_shim`): test a function's real cold-start path in your own suite.

Two factory fixtures start a function directory or zip through the real
bootstrap, in a subprocess against a local Runtime API, exactly as `shim
invoke` does:

    lambda_function(path, handler="handler.Handle", ...)         # stopped after the test
    lambda_function_module(path, handler="handler.Handle", ...)  # stopped after the module

Both return a shim.function.Function, already started (its init measured);
`fn.invoke(event)` returns an InvokeResult with .payload, .ok, .error and
.error_type, .records (the log lines of the invoke, parsed), .init_ms (on a
cold start), .duration_ms, .max_memory_mb, .request_id; for a streamed response
also .chunks, .chunk_times_ms, .first_byte_ms and .stream_error.

A third, `durable_execution(path, handler=...)`, runs a durable function's executions to their end
(shim.local.durable_runner; Python >= 3.11 and lambda-shim[durable]).

When a test fails, the Lambda log stream (START, logs, END, REPORT) of every
invoke it made is added to the report.

This module is loaded in every pytest run where lambda-shim is installed, so
it imports nothing heavy until a fixture is used.
"""
import os

import pytest

_SECTION = "lambda logs"


class _Factory:
    """Starts Functions for one scope and stops them (and removes their unpacked code) at its end."""

    def __init__(self, rootpath):
        self.rootpath = str(rootpath)
        self.started = []

    def __call__(self, path=None, handler="handler.Handle", *, zip=None, pack=False, timeout=3.0, memory=128,
                 env=None, start=True, max_concurrency=None, snapstart=False, runtime_packages=()):
        """Start the function in `path` (relative to the rootdir; in place unless pack=True) or `zip`.
        runtime_packages: installed distributions it may import beyond its own files, e.g. ("boto3",)."""
        from shim.local.function import Function, prepare
        if path is None and zip is None:
            raise ValueError("lambda_function needs a function directory or zip=PATH")
        task_root = prepare(self._resolve(path), self._resolve(zip), pack=pack, handler=handler)
        try:
            fn = Function(task_root.path, handler, timeout_s=timeout, memory_mb=memory,
                          env=dict(task_root.env, **(env or {})), max_concurrency=max_concurrency,
                          snapstart=snapstart, runtime_packages=runtime_packages)
        except BaseException:
            task_root.remove()
            raise
        fn.observers.append(_record)
        self.started.append((fn, task_root))
        if start:
            fn.start()
        return fn

    def _resolve(self, path):
        if path is None:
            return None
        path = os.fspath(path)
        return path if os.path.isabs(path) else os.path.join(self.rootpath, path)

    def close(self):
        for fn, task_root in reversed(self.started):
            fn.close()
            task_root.remove()
        self.started = []


@pytest.fixture
def lambda_function(request):
    """A factory: lambda_function(path, handler=..., zip=..., pack=..., timeout=..., memory=..., env=...,
    max_concurrency=N, snapstart=True) starts the function through the real bootstrap; it is stopped
    when the test ends."""
    factory = _Factory(request.config.rootpath)
    yield factory
    factory.close()


@pytest.fixture(scope="module")
def lambda_function_module(request):
    """Like lambda_function, but the functions it starts live until the end of the module,
    so later tests see them warm."""
    factory = _Factory(request.config.rootpath)
    yield factory
    factory.close()


@pytest.fixture
def durable_execution(request):
    """A factory for durable functions (@durable_execution handlers): durable_execution(path, handler=...,
    zip=..., pack=..., timeout=..., env=..., skip_time=True) returns a shim.local.durable_runner.DurableFunction;
    its .run(event) runs an execution to its end through the real bootstrap and returns its result (.status,
    .result, .error, .operations, .invocations). Needs Python >= 3.11 and lambda-shim[durable]."""
    from shim.local.durable_runner import Factory
    factory = Factory(request.config.rootpath, _record)
    yield factory
    factory.close()


# -- the logs of a failing test ------------------------------------------------------------------

_transcripts = []


def _record(invocation):
    from shim.local.function import for_terminal
    _transcripts.append(for_terminal(invocation.transcript()))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    del _transcripts[:]
    yield
    if _transcripts:
        item.add_report_section("call", _SECTION, "".join(_transcripts))
        del _transcripts[:]
