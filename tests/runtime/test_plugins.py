"""Runtime plugins at cold start and per invoke: the real bootstrap against the local Runtime API.

The manifest is written the way `shim pack` writes it (discovered from the plugin
distributions in the task root), at the root of the task root, where the zip has it.
"""

import json
import os
import signal
import time

import pytest

from shim.pack import plugins as discovery
from shim.runtime import plugins

HANDLER = """\
import asyncio, sys

def Handle(event, context):
    if event.get("raise"):
        raise ValueError("the handler says no")
    return {"in": event.get("in", []), "request": context.aws_request_id}

async def Async(event, context):
    await asyncio.sleep(0)
    return {"in": event.get("in", []), "async": True}

def Modules(event, context):
    return sorted(sys.modules)

def Stream(event, context):
    yield "a"
    yield "b"

async def AsyncStream(event, context):
    yield "a"
    yield "b"

def Slow(event, context):
    import time
    time.sleep(event.get("sleep", 2))
    return "done"
"""

# A plugin that shows what it saw: its init call and its place in the chain, on the way in and out.
TRACER = """\
NAME = {name!r}
inits = []

def init(handler, settings):
    inits.append({{"handler": handler, "name": settings["name"], "plugins": settings["plugins"],
                  "function_name": settings["function_name"], "memory_mb": settings["memory_mb"],
                  "started_is_float": isinstance(settings["init_started"], float)}})

def wrap(handler):
    def wrapped(event, context):
        if event.get("break") == NAME:
            raise RuntimeError(NAME + " broke")
        event.setdefault("in", []).append(NAME)
        result = handler(event, context)
        if isinstance(result, dict):
            result.setdefault("out", []).append(NAME)
            result.setdefault("inits", {{}})[NAME] = inits
        return result
    return wrapped

def shutdown():
    print("shutdown " + NAME, flush=True)
"""


def write_manifest(root):
    """What `shim pack` would put at the root of the zip for the distributions in root."""
    found = discovery.discover([str(root)])
    (root / plugins.MANIFEST).write_bytes(discovery.manifest(found))
    return found


@pytest.fixture
def two_plugins(make_function, make_plugin):
    # The distribution name orders them, not the entry point name: zulu (aaa-tools) before alpha (bbb-tools).
    root = make_function({"handler.py": HANDLER})
    make_plugin(root, "bbb-tools", {"alpha": "alpha_plugin"}, {"alpha_plugin.py": TRACER.format(name="alpha")})
    make_plugin(root, "aaa-tools", {"zulu": "zulu_plugin"}, {"zulu_plugin.py": TRACER.format(name="zulu")})
    assert [entry.name for entry in write_manifest(root)] == ["zulu", "alpha"]
    return root


def only_answer(env, request_id):
    answers = env.api.answers(request_id, accepted_only=True)
    assert len(answers) == 1, env.api.requests
    return answers[0]


def init_error_posts(env):
    return [r for r in env.api.requests if r.path == "/2018-06-01/runtime/init/error"]


# -- loading and wrapping -------------------------------------------------------------------------


def test_plugins_wrap_in_manifest_order_and_init_once_after_the_handler(start, two_plugins):
    env = start(two_plugins)
    first = env.invoke({}, timeout=10)
    assert first.kind == "response", first.payload
    body = first.payload
    assert body["in"] == ["zulu", "alpha"]  # the first plugin is the outermost
    assert body["out"] == ["alpha", "zulu"]
    assert body["request"] == first.request_id
    for name in ("zulu", "alpha"):
        assert body["inits"][name] == [
            {
                "handler": "handler.Handle",
                "name": name,
                "plugins": ["zulu", "alpha"],
                "function_name": "function",
                "memory_mb": 128,
                "started_is_float": True,
            }
        ]
    second = env.invoke({}, timeout=10)
    assert len(second.payload["inits"]["zulu"]) == 1  # init ran once, not per invoke
    only_answer(env, first.request_id)
    only_answer(env, second.request_id)


def test_an_async_handler_reaches_the_wrapper_as_its_result(start, two_plugins):
    env = start(two_plugins, "handler.Async")
    result = env.invoke({}, timeout=10)
    assert result.payload["async"] is True and result.payload["in"] == ["zulu", "alpha"]
    assert result.payload["out"] == ["alpha", "zulu"]


@pytest.mark.parametrize(
    "concurrency",
    [{"AWS_LAMBDA_MAX_CONCURRENCY": "2"}, {"AWS_LAMBDA_MAX_CONCURRENCY": "2", "SHIM_ASYNC_CONCURRENCY": "1"}],
    ids=["worker-processes", "one-event-loop"],
)
def test_managed_instances_workers_run_the_plugins(start, two_plugins, concurrency):
    env = start(two_plugins, "handler.Async", env=concurrency)
    results = [env.api.submit({}) for _ in range(4)]
    for pending in results:
        answer = pending.wait(20)
        assert answer.kind == "response" and answer.payload["in"] == ["zulu", "alpha"], answer.payload
        assert len(env.api.answers(pending.request_id, accepted_only=True)) == 1


def test_cold_start_reads_the_manifest_and_imports_no_metadata_library(start, two_plugins):
    # Run in place with this environment's interpreter, where importlib_metadata is installed and
    # importable: nothing imports it, nor the stdlib's importlib.metadata.
    env = start(two_plugins, "handler.Modules")
    modules = env.invoke({}, timeout=10).payload
    assert {"zulu_plugin", "alpha_plugin", "shim.runtime.plugins"} <= set(modules)
    assert not [m for m in modules if m.startswith(("importlib_metadata", "importlib.metadata", "zipp"))], modules


def test_no_manifest_loads_nothing_and_the_handler_is_called_directly(start, make_function, make_plugin):
    root = make_function({"handler.py": HANDLER})
    make_plugin(root, "aaa-tools", {"zulu": "zulu_plugin"}, {"zulu_plugin.py": TRACER.format(name="zulu")})
    env = start(root, "handler.Modules")  # installed, but not in a manifest: not loaded
    modules = env.invoke({}, timeout=10).payload
    assert "zulu_plugin" not in modules
    assert "shim.runtime.plugins" not in modules  # not even the runtime's plugin module


@pytest.mark.parametrize(
    "selection,expected",
    [("alpha,zulu", ["alpha", "zulu"]), ("alpha", ["alpha"]), (" zulu , ", ["zulu"]), ("", []), ("none", [])],
)
def test_shim_plugins_picks_and_orders_them_or_turns_them_off(start, two_plugins, selection, expected):
    env = start(two_plugins, env={plugins.SELECTION_VARIABLE: selection})
    assert env.invoke({}, timeout=10).payload["in"] == expected


def test_a_manifest_elsewhere_is_read_from_shim_plugins_manifest(start, two_plugins, tmp_path):
    moved = tmp_path / "elsewhere.json"
    os.replace(str(two_plugins / plugins.MANIFEST), str(moved))
    env = start(two_plugins, env={plugins.MANIFEST_VARIABLE: str(moved)})
    assert env.invoke({}, timeout=10).payload["in"] == ["zulu", "alpha"]


# A plugin that brackets a streamed response with chunks of its own, sync or async alike.
FRAMER = """\
seen = {}

def init(handler, settings):
    seen["streaming"] = settings["streaming"]

def wrap(handler):
    def framed(event, context):
        chunks = handler(event, context)
        if hasattr(chunks, "__anext__"):
            async def bracket():
                yield "[%s " % seen["streaming"]
                async for chunk in chunks:
                    yield chunk
                yield "]"
            return bracket()
        def bracket():
            yield "[%s " % seen["streaming"]
            yield from chunks
            yield "]"
        return bracket()
    return framed
"""


@pytest.mark.parametrize("handler", ["handler.Stream", "handler.AsyncStream"])
def test_a_streaming_handler_streams_through_the_plugins(start, two_plugins, make_plugin, handler):
    # The tracers pass the generator on untouched; the framer (its distribution sorts first) wraps it.
    make_plugin(two_plugins, "a-framer", {"framer": "framer_plugin"}, {"framer_plugin.py": FRAMER})
    assert [e.name for e in write_manifest(two_plugins)] == ["framer", "zulu", "alpha"]
    env = start(two_plugins, handler)
    exchange = env.api.invoke({}, timeout=10)
    assert exchange.kind == "response" and exchange.chunks == [b"[True ", b"a", b"b", b"]"]
    assert len(env.api.answers(exchange.request_id, accepted_only=True)) == 1


# -- faults: visible, named, and every request answered once -------------------------------------

BROKEN = {
    "import": (
        {"broken_plugin.py": "import not_installed_anywhere\n"},
        " could not be imported",
        "ModuleNotFoundError: No module named 'not_installed_anywhere'",
    ),
    "import-exit": (
        {"broken_plugin.py": "import sys\nsys.exit(4)\n"},
        " could not be imported",
        "SystemExit: Plugin 'broken' called sys.exit(4)",
    ),
    "attribute": ({"broken_plugin.py": "x = 1\n"}, " could not be imported", "AttributeError"),
    "init": (
        {"broken_plugin.py": "def init(handler, settings):\n    raise KeyError('no config')\n"},
        " failed in its init hook",
        "KeyError: 'no config'",
    ),
    "wrap": (
        {"broken_plugin.py": "def wrap(handler):\n    raise TypeError('cannot wrap')\n"},
        " failed in its wrap hook",
        "TypeError: cannot wrap",
    ),
    "not-a-handler": (
        {"broken_plugin.py": "def wrap(handler):\n    return 42\n"},
        ": its wrap hook returned a int, not a handler",
        "",
    ),
    "async-wrapper": (
        {"broken_plugin.py": "def wrap(handler):\n    async def w(e, c):\n        return 1\n    return w\n"},
        ": its wrap hook returned an async function",
        "",
    ),
    "hook-not-callable": (
        {"broken_plugin.py": "init = 'yes please'\n"},
        ": its init hook is a str, not a function",
        "",
    ),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_a_plugin_that_fails_at_init_is_one_init_error_naming_it(start, make_function, make_plugin, case):
    modules, what, detail = BROKEN[case]
    root = make_function({"handler.py": HANDLER})
    value = "broken_plugin:missing_object" if case == "attribute" else "broken_plugin"
    make_plugin(root, "broken-dist", {"broken": value}, modules, version="2.5")
    write_manifest(root)
    env = start(root, ready=False)
    pending = env.api.submit({})  # an event waiting for it: answered as the init error
    assert env.process.wait(15) != 0
    posts = init_error_posts(env)
    assert len(posts) == 1, env.api.requests
    assert posts[0].headers["lambda-runtime-function-error-type"] == "Runtime.PluginError"
    body = json.loads(posts[0].body)
    assert body["errorType"] == "Runtime.PluginError"
    assert body["errorMessage"].startswith("Plugin 'broken' (%s from broken-dist 2.5)%s" % (value, what)), body
    assert detail in body["errorMessage"]
    assert not [r for r in env.api.requests if r.path.endswith("/next")]
    assert pending.wait(5).kind == "init_error"
    env.join_readers()
    assert "Runtime.PluginError" in env.output()


@pytest.mark.parametrize(
    "env_vars,message",
    [
        (
            {plugins.SELECTION_VARIABLE: "alpha,nope"},
            "SHIM_PLUGINS=alpha,nope names 'nope', which is not one of this function's plugins (alpha, zulu)",
        ),
        (
            {plugins.MANIFEST_VARIABLE: "/nonexistent/manifest.json"},
            "SHIM_PLUGINS_MANIFEST names the plugin manifest /nonexistent/manifest.json, which does not exist",
        ),
    ],
)
def test_a_bad_selection_or_manifest_path_is_an_init_error(start, two_plugins, env_vars, message):
    env = start(two_plugins, ready=False, env=env_vars)
    assert env.process.wait(15) != 0
    assert len(init_error_posts(env)) == 1
    assert env.api.init_error.payload["errorMessage"] == message
    assert env.api.init_error.error_type == "Runtime.PluginError"


def test_a_corrupt_manifest_is_an_init_error(start, two_plugins):
    (two_plugins / plugins.MANIFEST).write_text('{"format": 1, "plugins": [{"value": "x"}]}')
    env = start(two_plugins, ready=False)
    assert env.process.wait(15) != 0
    assert len(init_error_posts(env)) == 1
    assert "is not valid (KeyError" in env.api.init_error.payload["errorMessage"]


def test_a_wrapper_that_raises_is_that_invokes_error_naming_the_plugin(start, two_plugins):
    env = start(two_plugins)
    broken = env.invoke({"break": "alpha"}, timeout=10)
    assert broken.kind == "error" and broken.error_type == "Runtime.PluginError"
    body = broken.payload
    assert body["errorMessage"] == (
        "Plugin 'alpha' (alpha_plugin from bbb-tools 1.0) raised in its wrapper: RuntimeError: alpha broke"
    )
    assert body["requestId"] == broken.request_id
    assert "alpha_plugin.py" in body["stackTrace"][-1] and "raise RuntimeError" in body["stackTrace"][-1]
    assert "shim" + os.sep + "runtime" not in "".join(body["stackTrace"])
    # The outer plugin saw the inner one's failure pass through, named as the inner one's.
    outer = env.invoke({"break": "zulu"}, timeout=10)
    assert outer.payload["errorMessage"].startswith("Plugin 'zulu' ")
    # The handler's own exception goes through the wrappers as it is, with its own type.
    handler_error = env.invoke({"raise": True}, timeout=10)
    assert handler_error.error_type == "ValueError"
    assert handler_error.payload["errorMessage"] == "the handler says no"
    trace = "".join(handler_error.payload["stackTrace"])
    assert "alpha_plugin.py" in trace and "handler.py" in trace and "plugins.py" not in trace
    after = env.invoke({}, timeout=10)  # and the runtime keeps serving
    assert after.kind == "response" and after.payload["in"] == ["zulu", "alpha"]
    for result in (broken, outer, handler_error, after):
        only_answer(env, result.request_id)
    env.drain()
    assert "Runtime.PluginError: Plugin 'alpha'" in env.output()
    assert "RuntimeError: alpha broke" in env.output()  # the cause, logged whole


# -- shutdown hooks ---------------------------------------------------------------------------------


def test_shutdown_hooks_run_on_sigterm_the_last_plugin_first(start, two_plugins):
    env = start(two_plugins)
    assert env.invoke({}, timeout=10).kind == "response"
    env.process.send_signal(signal.SIGTERM)
    assert env.process.wait(15) == 0  # a clean stop, as the shutdown callbacks end it
    env.join_readers()
    out = env.output()
    assert out.index("shutdown alpha") < out.index("shutdown zulu"), out


def test_a_shutdown_hook_that_raises_or_hangs_cannot_block_the_exit(start, make_function, make_plugin):
    root = make_function({"handler.py": HANDLER})
    make_plugin(
        root,
        "aaa-hangs",
        {"hangs": "hangs_plugin"},
        {"hangs_plugin.py": "import time\ndef shutdown():\n    time.sleep(120)\n"},
    )
    make_plugin(
        root,
        "bbb-raises",
        {"raises": "raises_plugin"},
        {"raises_plugin.py": "def shutdown():\n    raise OSError('flush failed')\n"},
    )
    write_manifest(root)
    env = start(root, "handler.Slow")
    pending = env.api.submit({"sleep": 30})  # SIGTERM cuts it short
    deadline = time.monotonic() + 10
    while pending.taken_at is None and time.monotonic() < deadline:
        time.sleep(0.01)
    env.process.send_signal(signal.SIGTERM)  # with an invoke in flight
    started = time.monotonic()
    assert env.process.wait(60) == 0  # on its own: no SIGKILL needed
    assert time.monotonic() - started < 60  # and far sooner than the hook's 120 s
    assert pending.wait(1).kind == "error" and pending.error_type == "FatalSignal"
    assert len(env.api.answers(pending.request_id, accepted_only=True)) == 1
    env.join_readers()
    out = env.output()
    assert (
        "Shutdown callback of plugin 'raises' (raises_plugin from bbb-raises 1.0) raised OSError: flush failed" in out
    )
    assert "Shutdown callback of plugin 'hangs' (hangs_plugin from aaa-hangs 1.0) did not finish within" in out
