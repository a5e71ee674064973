"""Local runs see only what Lambda would: the task root, the standard library, and what is asked for.

The developer's virtual environment has pytest, awslambdaric and the checkout itself (an editable
install); none of it may be importable by a function run by `shim invoke`, `shim serve` or the plugin."""

import json
import os
import subprocess
import sys
import textwrap

import pytest

pytest_plugins = ["pytester"]

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HANDLERS = os.path.join(REPO, "shim", "local", "templates", "handlers")
SHIM = [sys.executable, "-c", "import sys; from shim.cli import main; sys.exit(main())"]

HANDLER = """\
import sys

def Handle(event, context):
    return {"path": sys.path, "modules": sorted(m for m in ("pytest", "awslambdaric", "iniconfig") if m in sys.modules)}

def Imports(event, context):
    __import__(event["module"])
    return "imported " + event["module"]
"""


def shim(*args, stdin=None, cwd=REPO):
    return subprocess.run(SHIM + list(args), input=stdin, capture_output=True, text=True, timeout=120, cwd=cwd)


@pytest.fixture
def function(tmp_path):
    root = tmp_path / "function"
    root.mkdir()
    (root / "handler.py").write_text(HANDLER)
    for name in ("needs_pytest", "needs_awslambdaric"):
        (root / (name + ".py")).write_text("import %s\ndef Handle(e, c):\n    return 'ok'\n" % name.split("_", 1)[1])
    return root


@pytest.mark.parametrize("module", ["pytest", "awslambdaric"])
@pytest.mark.parametrize("mode", [[], ["--no-pack"]], ids=["packed", "in-place"])
def test_a_package_only_in_the_dev_venv_fails_as_on_lambda(function, module, mode):
    run = shim("invoke", str(function), "--handler", "needs_%s.Handle" % module, *mode)
    assert run.returncode == 1, run.stdout + run.stderr
    error = json.loads(run.stdout)
    assert error["errorType"] == "Runtime.ImportModuleError"
    assert "No module named '%s'" % module in error["errorMessage"]
    assert run.stderr.splitlines()[-1].startswith("shim invoke: init failed: Runtime.ImportModuleError")


def test_a_handler_cannot_reach_outside_the_task_root(tmp_path):
    # handlers/ is packed; `handlers.handler` exists only in the checkout around it.
    run = shim("invoke", HANDLERS, "--handler", "handlers.handler.Handle", "--event", "-", stdin="{}")
    assert run.returncode == 1, run.stdout
    error = json.loads(run.stdout)
    assert error["errorType"] == "Runtime.ImportModuleError" and "'handlers'" in error["errorMessage"]


@pytest.mark.parametrize("mode", [[], ["--no-pack"]], ids=["packed", "in-place"])
def test_sys_path_holds_the_task_root_and_the_standard_library_only(function, mode):
    run = shim("invoke", str(function), *mode)
    assert run.returncode == 0, run.stderr
    seen = json.loads(run.stdout)
    assert seen["modules"] == []
    venv, base = sys.prefix, getattr(sys, "base_prefix", sys.prefix)
    for entry in seen["path"]:
        assert not entry.startswith((REPO + os.sep, venv + os.sep)), entry  # neither the checkout nor the venv
        assert "site-packages" not in entry or not os.listdir(entry), entry  # an empty site-packages at most
    stdlib = os.path.dirname(os.__file__)
    assert stdlib in seen["path"] and base != venv


def test_with_boto3_needs_boto3_installed(function):
    try:
        import boto3  # noqa: F401
    except ImportError:
        run = shim("invoke", str(function), "--no-pack", "--with-boto3")
        assert run.returncode == 2 and run.stderr.count("\n") == 1, run.stderr
        assert run.stderr.startswith("shim invoke: boto3 is not installed in this environment")
    else:
        # The invoke imports boto3 and botocore from their sources (the sandbox's bytecode cache starts empty):
        # ~1.5 s on a quiet machine, more than the default 3 s timeout on a cold, loaded one. 30 s fits the work.
        run = shim(
            "invoke",
            str(function),
            "--no-pack",
            "--with-boto3",
            "--timeout",
            "30",
            "--handler",
            "handler.Imports",
            "--event",
            "-",
            stdin='{"module": "boto3"}',
        )
        assert run.returncode == 0 and json.loads(run.stdout) == "imported boto3", run.stderr


PLUGIN_TEST = """\
def test_runtime_packages_are_opt_in(lambda_function):
    plain = lambda_function("fn", "handler.Imports")
    refused = plain.invoke({"module": "iniconfig"})
    assert refused.kind == "init_error" or refused.error_type == "ModuleNotFoundError", refused
    assert "No module named 'iniconfig'" in refused.error["errorMessage"]
    given = lambda_function("fn", "handler.Imports", runtime_packages=("iniconfig",))
    assert given.invoke({"module": "iniconfig"}).payload == "imported iniconfig"
    assert given.invoke({"module": "pytest"}).error_type == "ModuleNotFoundError"  # iniconfig only

def test_the_plugin_isolates_too(lambda_function):
    result = lambda_function("fn", "needs_pytest.Handle").invoke({})
    assert result.kind == "init_error" and result.error_type == "Runtime.ImportModuleError"
"""


def test_the_plugin_runs_isolated_and_adds_packages_on_request(pytester):
    fn = pytester.mkdir("fn")
    (fn / "handler.py").write_text(HANDLER)
    (fn / "needs_pytest.py").write_text("import pytest\ndef Handle(e, c):\n    return 'ok'\n")
    pytester.makepyfile(test_isolated=textwrap.dedent(PLUGIN_TEST))
    pytester.runpytest_subprocess("-q").assert_outcomes(passed=2)


def test_a_run_in_place_writes_nothing_into_the_function_folder(function):
    before = sorted(os.listdir(str(function)))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}  # set here, not on a laptop
    run = subprocess.run(
        SHIM + ["invoke", str(function), "--no-pack"], capture_output=True, text=True, timeout=120, cwd=REPO, env=env
    )
    assert run.returncode == 0, run.stderr
    assert sorted(os.listdir(str(function))) == before  # no __pycache__: bytecode goes to the sandbox
