"""pytest plugin (entry point `lambda_shim`): test a function's real cold-start path in your own suite.

Two factory fixtures start a function directory or zip through the real
bootstrap, in a subprocess against a local Runtime API, exactly as `shim
invoke` does:

    lambda_function(path, handler="handler.Handle", ...)         # stopped after the test
    lambda_function_module(path, handler="handler.Handle", ...)  # stopped after the module

`path` is a function's name in the project file (pyproject.toml's [tool.lambda-shim])
or a directory; the project's settings apply, and the fixture's arguments override
them. Both return a shim.local.function.Function, already started (its init measured);
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
        self.sessions = []  # profilers (profile=True), removed at the end

    def __call__(
        self,
        path=None,
        handler=None,
        *,
        zip=None,
        pack=False,
        timeout=None,
        memory=None,
        env=None,
        start=True,
        max_concurrency=None,
        snapstart=None,
        runtime_packages=(),
        profile=False,
        **settings,
    ):
        """Start the function `path`: a function's name in the project file (pyproject.toml's
        [tool.lambda-shim] at or above the rootdir), or a directory (relative to the rootdir; in place
        unless pack=True), or `zip`. The project's settings apply; the arguments override them, and any
        other FunctionConfig setting may be given by name (with_boto3=True, env_file=..., layers=[...]).
        runtime_packages: installed distributions it may import beyond its own files, e.g. ("boto3",).
        profile=True: its cold starts are profiled (see shim.local.profiler): fn.profiler.profile is the
        latest one's Profile (.summary(), .tree), fn.profiler.write_chart() writes its chart."""
        from shim.local.function import Function
        from shim.local.taskroot import prepare_config

        if path is None and zip is None:
            raise ValueError("lambda_function needs a function directory or zip=PATH")
        if settings.get("env_file") is not None:  # paths relative to the rootdir, as `path` and `zip`
            settings["env_file"] = self._resolve(settings["env_file"])
        if settings.get("layers") is not None:
            settings["layers"] = [
                layer if str(layer).startswith("arn:") else self._resolve(layer) for layer in settings["layers"]
            ]
        config = self._config(path).with_overrides(
            handler=handler,
            timeout=timeout,
            memory=memory,
            max_concurrency=max_concurrency,
            snapstart=snapstart,
            **settings,
        )
        task_root = prepare_config(config, self._resolve(zip), pack=pack)
        try:
            fn = Function(task_root, config=config, env=env, runtime_packages=runtime_packages)
        except BaseException:
            task_root.remove()
            raise
        session = None
        if profile:
            from shim.local.profiler import Session

            session = Session()
            fn.env = session.environment(fn.env)
            self.sessions.append(session)
        if session is not None:
            session.attach(fn)
            fn.profiler = session
        fn.observers.append(_record)
        self.started.append((fn, task_root))
        if start:
            fn.start()
        return fn

    def _config(self, path):
        """The project's settings for a function's name (or for a directory it describes), else defaults."""
        from shim.local import project

        found = project.find_project(self.rootpath)
        name = os.fspath(path) if path is not None else None
        if found is not None and name in found.functions:
            return found.functions[name]
        directory = self._resolve(path)
        if found is not None and directory is not None:
            for config in found.functions.values():
                if config.path == os.path.abspath(directory):
                    return config
        return project.FunctionConfig(path=directory)

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
        for session in self.sessions:
            session.close()
        self.sessions = []


class _DurableFactory(_Factory):
    """durable_execution: DurableFunctions (shim.local.durable_runner), found and set up as lambda_function's."""

    def __call__(
        self,
        path=None,
        handler=None,
        *,
        zip=None,
        pack=False,
        timeout=None,
        memory=None,
        env=None,
        skip_time=True,
        runtime_packages=(),
    ):
        from shim.local.durable_runner import DurableFunction
        from shim.local.taskroot import prepare_config

        if path is None and zip is None:
            raise ValueError("durable_execution needs a function directory or zip=PATH")
        config = self._config(path).with_overrides(handler=handler, timeout=timeout, memory=memory)
        task_root = prepare_config(config, self._resolve(zip), pack=pack)
        try:
            fn = DurableFunction(
                task_root,
                config.handler,
                config=config,
                env=env,
                skip_time=skip_time,
                runtime_packages=runtime_packages,
            )
        except BaseException:
            task_root.remove()
            raise
        fn.function.observers.append(_record)
        self.started.append((fn, task_root))
        return fn


@pytest.fixture
def lambda_function(request):
    """A factory: lambda_function(name_or_path, handler=..., zip=..., pack=..., timeout=..., memory=..., env=...,
    max_concurrency=N, snapstart=True, with_boto3=True, ...) starts the function through the real bootstrap;
    it is stopped when the test ends."""
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
    factory = _DurableFactory(request.config.rootpath)
    yield factory
    factory.close()


# -- the logs of a failing test ------------------------------------------------------------------

_transcripts = []  # type: list


def _record(invocation):
    from shim.local.result import for_terminal

    _transcripts.append(for_terminal(invocation.transcript()))
    if not invocation.ok:
        from shim.local import hints

        _transcripts.extend(line + "\n" for line in hints.boto3_hint(invocation.error))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    del _transcripts[:]
    yield
    if _transcripts:
        item.add_report_section("call", _SECTION, "".join(_transcripts))
        del _transcripts[:]
