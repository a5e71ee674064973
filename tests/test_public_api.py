"""The function's API: `shim`'s __all__, loaded lazily so that `import shim` (every cold start) stays cheap."""

import inspect
import os
import subprocess
import sys
import typing

import pytest

import shim

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _fresh(code):
    """Run code in a new interpreter (this one has imported everything already); its stdout."""
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO).stdout


def test_import_shim_loads_no_other_module():
    loaded = _fresh(
        "import sys; before = set(sys.modules); import shim; print(' '.join(sorted(set(sys.modules) - before)))"
    )
    assert loaded.split() == ["shim"]  # not typing, not shim.runtime.stream or .context


def test_every_name_in_all_is_there_and_loads_on_first_use():
    assert sorted(shim.__all__) == [
        "HttpResponse",
        "LambdaContext",
        "Plugin",
        "PluginSettings",
        "on_shutdown",
        "register_after_restore",
        "register_before_snapshot",
    ]
    assert set(shim.__all__) <= set(dir(shim))
    seen = _fresh(
        "import sys, shim\n"
        "print('shim.runtime.stream' in sys.modules, shim.HttpResponse.__module__, "
        "'shim.runtime.stream' in sys.modules, shim.LambdaContext.__module__)"
    )
    assert seen.split() == ["False", "shim.runtime.stream", "True", "shim.runtime.context"]


def test_the_lazy_names_are_the_runtimes_own():
    from shim.runtime.context import LambdaContext
    from shim.runtime.stream import HttpResponse

    assert shim.HttpResponse is HttpResponse and shim.LambdaContext is LambdaContext
    namespace = {}
    exec("from shim import *", namespace)
    assert set(shim.__all__) <= set(namespace)


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="has no attribute 'Nope'"):
        getattr(shim, "Nope")
    assert not hasattr(shim, "Nope")


def test_everything_public_is_annotated():
    for name in ("on_shutdown", "register_before_snapshot", "register_after_restore"):
        signature = inspect.signature(getattr(shim, name))
        assert signature.return_annotation is not inspect.Signature.empty, name
        assert all(p.annotation is not inspect.Parameter.empty for p in signature.parameters.values()), name
    for cls in (shim.HttpResponse, shim.LambdaContext):
        for method_name, method in vars(cls).items():
            if callable(method) and (not method_name.startswith("_") or method_name == "__init__"):
                assert "return" in method.__annotations__, (cls.__name__, method_name)
    assert {"aws_request_id", "function_name", "memory_limit_in_mb", "identity", "client_context"} <= set(
        shim.LambdaContext.__annotations__
    )


def test_the_package_says_it_is_typed():
    assert os.path.isfile(os.path.join(os.path.dirname(shim.__file__), "py.typed"))


def test_the_plugin_protocol_matches_what_the_runtime_gives_a_plugin():
    """The Protocol's hooks and PluginSettings' keys are the ones shim.runtime.plugins looks up and fills in."""
    from shim.runtime import plugins

    hooks = {name for name, value in vars(shim.Plugin).items() if callable(value) and not name.startswith("_")}
    assert hooks == {"init", "wrap", "shutdown"}
    source = inspect.getsource(plugins)
    assert all('hook("%s")' % hook in source for hook in hooks)
    entry = plugins.Entry("p", "p:plugin")
    settings = plugins.settings_for(plugins.Plugin(entry, object()), ["p"], "handler.Handle", {}, 1.0)
    assert set(settings) == set(typing.get_type_hints(shim.PluginSettings))
