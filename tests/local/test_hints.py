"""Hints where users get stuck, through the real CLI: a missing boto3, a handler name that does not exist,
a --no-runtime zip run with and without layers, a zip packed for another architecture."""

import json
import platform
import subprocess
import sys
import zipfile

import pytest

from shim.runtime import handlerhint

SHIM = [sys.executable, "-c", "import sys; from shim.cli import main; sys.exit(main())"]
OTHER_ARCH = "arm64" if platform.machine() in ("x86_64", "amd64") else "x86_64"


def shim(*args, cwd, stdin=None):
    return subprocess.run(SHIM + list(args), input=stdin, capture_output=True, text=True, timeout=180, cwd=str(cwd))


# -- boto3 -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["init", "invoke"])
def test_a_missing_boto3_names_with_boto3_and_what_each_runtime_ships(tmp_path, where):
    source = (
        "import boto3\n\ndef Handle(e, c):\n    return boto3.__name__\n"
        if where == "init"
        else "def Handle(e, c):\n    import boto3\n    return boto3.__name__\n"
    )
    (tmp_path / "handler.py").write_text(source)
    run = shim("invoke", ".", "--no-pack", cwd=tmp_path)
    assert run.returncode == 1
    assert "No module named 'boto3'" in json.loads(run.stdout)["errorMessage"]
    hints = [line for line in run.stderr.splitlines() if line.startswith("shim invoke: hint: ")]
    assert len(hints) == 2, run.stderr
    assert "managed python3.x runtimes ship boto3" in hints[0] and "provided.al2023" in hints[0]
    assert "--with-boto3" in hints[1] and "requirements.txt" in hints[1]
    # boto3 is installed here (test extra); importing it in an invoke may take seconds on a loaded machine
    fixed = shim("invoke", ".", "--no-pack", "--with-boto3", "--timeout", "60", cwd=tmp_path)
    assert fixed.returncode == 0 and json.loads(fixed.stdout) == "boto3", fixed.stderr
    assert "hint:" not in fixed.stderr


def test_no_hint_for_another_missing_module(tmp_path):
    (tmp_path / "handler.py").write_text("import requestz\n\ndef Handle(e, c):\n    return 1\n")
    run = shim("invoke", ".", "--no-pack", cwd=tmp_path)
    assert run.returncode == 1 and "hint:" not in run.stderr


# -- a handler that does not exist --------------------------------------------------------------------


def test_a_missing_handler_lists_the_callables_and_suggests_the_closest(tmp_path):
    (tmp_path / "handler.py").write_text(
        "import json\nfrom os import path\n\nLIMIT = 3\n\n"
        "def lambda_handler(event, context):\n    return 1\n\n"
        "def helper():\n    pass\n\nclass Model:\n    pass\n"
    )
    run = shim("invoke", ".", "--no-pack", cwd=tmp_path)  # the default handler.Handle
    assert run.returncode == 1
    error = json.loads(run.stdout)
    assert error["errorType"] == "Runtime.HandlerNotFound"  # awslambdaric's type, unchanged
    assert error["errorMessage"] == (
        "Handler 'Handle' missing on module 'handler'. Did you mean "
        "'handler.lambda_handler'? Its callables: lambda_handler, helper, Model"
    )
    typo = shim("invoke", ".", "--no-pack", "--handler", "handler.lamda_handler", cwd=tmp_path)
    assert "Did you mean 'handler.lambda_handler'?" in json.loads(typo.stdout)["errorMessage"]


@pytest.mark.parametrize(
    "attr, names, expected",
    [
        ("handle", ["Handle", "other"], "Handle"),  # case only
        ("lamda_handler", ["lambda_handler", "x"], "lambda_handler"),
        ("Handle", ["lambda_handler", "helper_one"], "lambda_handler"),  # nothing close: the common name
        ("lambda_handler", ["main"], "main"),  # the only callable there is
        ("zzz", ["alpha", "beta"], None),
    ],
)
def test_the_closest_name(attr, names, expected):
    assert handlerhint.closest(attr, names) == expected


def test_a_module_without_callables_says_so():
    import types

    module = types.ModuleType("empty")
    module.VALUE = 1
    assert handlerhint.suggestion(module, "empty", "Handle") == ": the module defines no functions or classes"


# -- a --no-runtime zip, layers, another architecture ------------------------------------------------

LAYERED = """\
import os, layered, only_first, shim

def Handle(event, context):
    # The mode bits, not a write: root writes anyway.
    writable = bool(os.stat(os.path.dirname(layered.__file__)).st_mode & 0o222)
    return {"who": layered.WHO, "first": only_first.OK, "runtime": shim.__file__, "opt_writable": writable}
"""


def _layer(path, files):
    with zipfile.ZipFile(str(path), "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return path


@pytest.fixture(scope="module")
def no_runtime_zip(tmp_path_factory):
    root = tmp_path_factory.mktemp("layered")
    (root / "fn").mkdir()
    (root / "fn" / "handler.py").write_text(LAYERED)
    run = shim("pack", "fn", "--no-runtime", "-o", "fn.zip", "-q", cwd=root)
    assert run.returncode == 0, run.stderr
    _layer(root / "one.zip", {"python/layered.py": "WHO = 'first'\n", "python/only_first.py": "OK = True\n"})
    _layer(root / "two.zip", {"python/layered.py": "WHO = 'second'\n"})
    return root


def test_a_no_runtime_zip_without_a_runtime_layer_says_which_runtime_runs_it(no_runtime_zip):
    run = shim("invoke", "--zip", "fn.zip", "--layer", "one.zip", "--layer", "two.zip", cwd=no_runtime_zip)
    assert run.returncode == 0, run.stderr
    payload = json.loads(run.stdout)
    assert payload["who"] == "second" and payload["first"] is True  # merged in order: the later layer wins
    assert payload["opt_writable"] is False  # /opt is read-only, as on Lambda
    notes = [line for line in run.stderr.splitlines() if line.startswith("shim invoke: note: ")]
    assert len(notes) == 1 and "no runtime in the zip" in notes[0] and "from this installation" in notes[0]
    assert "--layer" in notes[0]


def test_a_runtime_layer_given_with_layer_runs_the_zip(no_runtime_zip):
    built = shim("pack", "--layer", "-o", "shim-layer.zip", "-q", cwd=no_runtime_zip)
    assert built.returncode == 0, built.stderr
    run = shim("invoke", "--zip", "fn.zip", "--layer", "shim-layer.zip", "--layer", "one.zip", cwd=no_runtime_zip)
    assert run.returncode == 0, run.stderr
    payload = json.loads(run.stdout)
    assert payload["who"] == "first"
    assert "/opt/python/shim/__init__.py" in payload["runtime"]  # the layer's runtime, in the stand-in /opt
    assert "running the layer's /opt/bootstrap (lambda-shim " in run.stderr


def test_a_zip_for_another_architecture_warns_once_before_running(no_runtime_zip):
    built = shim("pack", "fn", "--no-runtime", "--arch", OTHER_ARCH, "-o", "other.zip", "-q", cwd=no_runtime_zip)
    assert built.returncode == 0, built.stderr
    run = shim("invoke", "--zip", "other.zip", "--layer", "one.zip", cwd=no_runtime_zip)
    assert run.returncode == 0, run.stderr
    warnings = [line for line in run.stderr.splitlines() if line.startswith("shim invoke: warning: ")]
    assert len(warnings) == 1 and ("packed for %s, this machine is" % OTHER_ARCH) in warnings[0], run.stderr
    assert run.stderr.index(warnings[0]) < run.stderr.index("START RequestId")
    same = shim("invoke", "--zip", "fn.zip", "--layer", "one.zip", cwd=no_runtime_zip)
    assert "warning:" not in same.stderr


def test_serve_says_the_boto3_hint_once_and_answers_as_lambda(tmp_path):
    import http.client
    import re
    import signal

    (tmp_path / "fn").mkdir()
    (tmp_path / "fn" / "handler.py").write_text("def Handle(e, c):\n    import boto3\n")
    process = subprocess.Popen(
        SHIM + ["serve", "fn", "--no-pack", "--port", "0"],
        cwd=str(tmp_path),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines = []
    try:
        for line in process.stderr:
            lines.append(line)
            if "listening on" in line:
                break
        port = int(re.search(r"127\.0\.0\.1:(\d+)/", lines[-1]).group(1))
        for _ in range(2):
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            connection.request("POST", "/2015-03-31/functions/function/invocations", b"{}")
            response = connection.getresponse()
            body = json.loads(response.read())
            connection.close()
            assert response.getheader("X-Amz-Function-Error") == "Unhandled"
            assert body["errorType"] == "ModuleNotFoundError" and "with-boto3" not in json.dumps(body)
    finally:
        process.send_signal(signal.SIGINT)
        lines += process.stderr.readlines()
        process.wait(30)
    hints = [line for line in lines if line.startswith("shim serve: fn: hint: ")]
    assert len(hints) == 2 and "--with-boto3" in hints[1], "".join(lines)
