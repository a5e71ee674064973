"""Local runs load the same plugins as the deployed zip: `shim invoke`, `shim serve` and the pytest
plugin, on a packed zip or on the directory in place (--no-pack), where the local tools discover the
plugins as pack does and point the runtime at a manifest of their own (SHIM_PLUGINS_MANIFEST)."""

import http.client
import json
import os
import re
import signal
import subprocess
import sys
import threading

import pytest

import shim.pack.packer  # noqa: F401 - imported before pytester runs: see tests/local/test_plugin.py
from shim.local.function import Function
from shim.local.taskroot import prepare
from shim.runtime import plugins

pytest_plugins = ["pytester"]

SHIM = [sys.executable, "-c", "import sys; from shim.cli import main; sys.exit(main())"]
HANDLER = """\
import os, sys

def Handle(event, context):
    return {"handled": True, "pid": os.getpid()}

def Modules(event, context):
    return sorted(sys.modules)
"""
# Marks every result, so a response shows that the plugin ran.
STAMP = """\
def wrap(handler):
    def stamped(event, context):
        result = handler(event, context)
        if isinstance(result, dict):
            result["stamped_by"] = "stamp"
        return result
    return stamped
"""


def with_plugin(root, make_plugin):
    root.mkdir(parents=True, exist_ok=True)
    (root / "handler.py").write_text(HANDLER)
    make_plugin(root, "stamp-plugin", {"stamp": "stamp_plugin"}, {"stamp_plugin.py": STAMP})
    return root


@pytest.fixture
def function_dir(tmp_path, make_plugin):
    return with_plugin(tmp_path / "fn", make_plugin)


def shim(*args):
    env = {k: v for k, v in os.environ.items() if k != plugins.SELECTION_VARIABLE}
    return subprocess.run(SHIM + list(args), capture_output=True, text=True, timeout=120, env=env)


@pytest.mark.parametrize("mode", [["--no-pack"], []], ids=["in-place", "packed"])
def test_shim_invoke_loads_the_plugins(function_dir, mode):
    run = shim("invoke", str(function_dir), *mode)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["stamped_by"] == "stamp"
    off = shim("invoke", str(function_dir), "--env", "SHIM_PLUGINS=", *mode)
    assert off.returncode == 0, off.stderr
    assert "stamped_by" not in json.loads(off.stdout)


def test_a_run_in_place_reads_a_manifest_of_its_own_and_imports_no_metadata_library(function_dir):
    task_root = prepare(str(function_dir), pack=False)
    try:
        manifest = task_root.env[plugins.MANIFEST_VARIABLE]
        assert not manifest.startswith(str(function_dir))  # nothing is written into the function
        assert [e.name for e in plugins.read_manifest(manifest)] == ["stamp"]
        with Function(task_root.path, "handler.Modules", env=task_root.env) as fn:
            modules = fn.invoke({}).payload
        assert "stamp_plugin" in modules
        assert not [m for m in modules if m.startswith(("importlib_metadata", "importlib.metadata"))]
    finally:
        task_root.remove()
    assert not os.path.exists(manifest)
    assert sorted(os.listdir(str(function_dir))) == ["handler.py", "stamp_plugin-1.0.dist-info", "stamp_plugin.py"]


def test_shim_serve_in_place_loads_the_plugins(function_dir):
    process = subprocess.Popen(
        SHIM + ["serve", str(function_dir), "--no-pack", "--port", "0"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines, listening = [], threading.Event()

    def read():
        for line in process.stderr:
            lines.append(line)
            if "listening on" in line:
                listening.set()

    threading.Thread(target=read, daemon=True).start()
    try:
        assert listening.wait(30), "".join(lines)
        port = int(re.search(r"http://127\.0\.0\.1:(\d+)/", "".join(lines)).group(1))
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        connection.request("POST", "/2015-03-31/functions/function/invocations", b"{}")
        response = connection.getresponse()
        assert response.status == 200
        assert json.loads(response.read())["stamped_by"] == "stamp"
        connection.close()
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(30) == 0


def test_the_pytest_fixtures_load_the_plugins_in_place_and_packed(pytester, make_plugin):
    with_plugin(pytester.mkdir("fn"), make_plugin)
    pytester.makepyfile(
        test_app="""
        def test_in_place(lambda_function):
            assert lambda_function("fn").invoke({}).payload["stamped_by"] == "stamp"

        def test_packed(lambda_function):
            assert lambda_function("fn", pack=True).invoke({}).payload["stamped_by"] == "stamp"

        def test_turned_off(lambda_function):
            assert "stamped_by" not in lambda_function("fn", env={"SHIM_PLUGINS": ""}).invoke({}).payload
    """
    )
    pytester.runpytest("-q").assert_outcomes(passed=3)


def test_in_place_without_plugins_the_runtime_runs_as_it_always_did(tmp_path):
    (tmp_path / "handler.py").write_text(HANDLER)
    task_root = prepare(str(tmp_path), pack=False)
    assert task_root.env == {} and task_root.temporary is None  # no manifest, nothing to point at
    with Function(task_root.path, "handler.Modules", env=task_root.env) as fn:
        assert "shim.runtime.plugins" not in fn.invoke({}).payload


def test_a_manifest_of_the_users_own_is_refused_in_place_too(tmp_path):
    (tmp_path / "handler.py").write_text(HANDLER)
    (tmp_path / plugins.MANIFEST).write_text("{}")
    run = shim("invoke", str(tmp_path), "--no-pack")
    assert run.returncode == 2
    assert run.stderr.strip() == (
        "shim invoke: lambda_shim_plugins.json in the function directory would replace the "
        "runtime's own plugin manifest: rename it"
    )
