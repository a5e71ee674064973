"""`shim pack --optimize`: -O/-OO bytecode in the plain pyc names; the zip still runs through its bootstrap."""

import os
import subprocess
import sys
import zipfile

from shim.pack import ziputil
from shim.pack.packer import extract, pack

TAG = sys.implementation.cache_tag
BASE_PYTHON = getattr(sys, "_base_executable", None) or sys.executable
APP = '''
"""The module's docstring."""


def documented():
    """A function's docstring."""


def Handle(event, context):
    try:
        assert event.get("fail") is None, "asserts run"
        asserted = False
    except AssertionError:
        asserted = True
    return {"module_doc": __doc__, "function_doc": documented.__doc__, "asserted": asserted, "debug": __debug__}
'''


def run_zip(zip_path, tmp_path, name, start):
    task = extract(str(zip_path), str(tmp_path / name))
    try:
        env = start(task, "app.Handle", bootstrap=os.path.join(task, "bootstrap"), python=BASE_PYTHON)
        result = env.invoke({"fail": 1}, timeout=10)
        assert result.kind == "response", env.output()
        return result.payload
    finally:
        ziputil.make_writable(task)


def test_optimize_2_drops_docstrings_and_asserts_and_the_zip_runs(make_function, tmp_path, start):
    function = make_function({"app.py": APP})
    plain = pack(function, tmp_path / "plain.zip", handler="app.Handle")
    optimized = pack(function, tmp_path / "oo.zip", handler="app.Handle", optimize=2)
    assert any("python -OO" in note for note in optimized.notes)
    with zipfile.ZipFile(str(optimized.path)) as archive:
        names = archive.namelist()
    assert "__pycache__/app.%s.pyc" % TAG in names  # the plain name: loaded whatever the interpreter's -O flag
    assert not any(".opt-" in name for name in names)
    assert run_zip(plain.path, tmp_path, "plain", start) == {
        "module_doc": "The module's docstring.",
        "function_doc": "A function's docstring.",
        "asserted": True,
        "debug": True,
    }
    assert run_zip(optimized.path, tmp_path, "oo", start) == {
        "module_doc": None,
        "function_doc": None,
        "asserted": False,
        "debug": False,
    }


def test_optimize_1_keeps_docstrings(make_function, tmp_path, start):
    function = make_function({"app.py": APP})
    result = pack(function, tmp_path / "o.zip", handler="app.Handle", optimize=1)
    payload = run_zip(result.path, tmp_path, "o", start)
    assert payload["function_doc"] == "A function's docstring." and payload["asserted"] is False


def test_the_option_on_the_command_line(make_function, tmp_path):
    function = make_function({"app.py": APP})
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from shim.cli import main; sys.exit(main())",
            "pack",
            str(function),
            "--handler",
            "app.Handle",
            "--optimize",
            "2",
            "-q",
            "--output",
            str(tmp_path / "cli.zip"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "python -OO" in done.stdout
    bad = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from shim.cli import main; sys.exit(main())",
            "pack",
            str(function),
            "--optimize",
            "3",
            "--output",
            str(tmp_path / "x.zip"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2
