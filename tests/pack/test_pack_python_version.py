"""`shim pack` for another Python version: bytecode compiled by that version's interpreter (or none, and a
warning), bad options, and the shim's own dependencies evaluated for the target."""

import subprocess
import sys
import zipfile

import pytest

from shim.pack import bytecode
from shim.pack import vendor
from shim.pack.errors import UsageError
from shim.pack.packer import pack

VERSION = "%d.%d" % sys.version_info[:2]


# -- target version and bytecode ------------------------------------------------------------------

OTHER = "3.12" if VERSION != "3.12" else "3.11"


def test_another_target_version_is_compiled_by_its_own_interpreter(make_function, tmp_path):
    python, _ = bytecode.find_interpreter(OTHER)
    if python is None:
        pytest.skip("no CPython %s on this machine" % OTHER)
    magic = subprocess.run(
        [python, "-c", "import importlib.util,sys; sys.stdout.buffer.write(importlib.util.MAGIC_NUMBER)"],
        stdout=subprocess.PIPE,
        check=True,
    ).stdout
    function = make_function({"handler.py": "def Handle(e, c):\n    return 1\n"})
    lines = []
    result = pack(function, tmp_path / "other.zip", python_version=OTHER, log=lines.append)
    other_tag = bytecode.cache_tag(OTHER)
    with zipfile.ZipFile(result.path) as archive:
        pycs = [n for n in archive.namelist() if n.endswith(".pyc")]
        assert pycs and all(n.endswith(".%s.pyc" % other_tag) for n in pycs)
        assert archive.read("__pycache__/handler.%s.pyc" % other_tag)[:4] == magic
    assert any("compiling with %s" % python in line for line in lines)
    assert result.compiled_with == python


def test_no_interpreter_for_the_target_packs_sources_and_says_what_it_costs(make_function, tmp_path, monkeypatch):
    monkeypatch.setattr(bytecode, "candidates", lambda version: iter(()))
    function = make_function({"handler.py": "def Handle(e, c):\n    return 1\n"})
    result = pack(function, tmp_path / "src.zip", python_version=OTHER)
    assert [n for n in result.names if n.endswith(".pyc")] == []
    assert result.compiled_with is None
    [warning] = result.warnings
    assert "no bytecode" in warning and "every cold start" in warning and "--compile-python" in warning


def test_compile_python_must_match_the_target(make_function, tmp_path):
    function = make_function({"handler.py": "def Handle(e, c):\n    return 1\n"})
    with pytest.raises(UsageError, match="--compile-python"):
        pack(function, tmp_path / "x.zip", python_version=OTHER, compile_python=sys.executable)


def test_a_syntax_error_is_a_warning_naming_the_file(make_function, tmp_path):
    function = make_function({"handler.py": "def Handle(e, c):\n    return 1\n", "broken.py": "def (:\n"})
    result = pack(function, tmp_path / "x.zip")
    assert any(w.startswith("broken.py does not compile") for w in result.warnings)


def test_bad_options_are_usage_errors(make_function, tmp_path):
    function = make_function({"handler.py": "def Handle(e, c):\n    return 1\n"})
    for options, match in (
        ({"arch": "sparc"}, "--arch"),
        ({"python_version": "3.8"}, "--python-version"),
        ({"python_version": "twelve"}, "--python-version"),
        ({"glibc": "2.5"}, "--glibc"),
        ({"requirements": str(tmp_path / "nope.txt")}, "nope.txt"),
    ):
        with pytest.raises(UsageError, match=match):
            pack(function, tmp_path / "x.zip", **options)
    with pytest.raises(UsageError, match="does not exist"):
        pack(tmp_path / "missing", tmp_path / "x.zip")


# -- the shim's dependencies for another target ---------------------------------------------------


def test_dependencies_that_do_not_fit_the_target_go_to_pip():
    here = vendor.plan(vendor.target_environment(VERSION, "x86_64"))
    assert here.reason is None and here.distributions
    old = vendor.plan(vendor.target_environment("3.9", "x86_64"))  # the installed structlog needs newer
    assert old.reason and "requires Python" in old.reason
    assert [vendor.parse_requirement(r)[0] for r in old.requirements] == ["structlog"]


@pytest.mark.parametrize(
    "marker, expected",
    [
        ('python_version < "3.11"', False),
        ('python_version >= "3.9"', True),
        ("python_version < '3.15'", True),
        ('extra == "test"', False),
        ('sys_platform != "cygwin" and extra == "check"', False),
        ('platform_python_implementation != "PyPy"', True),
        ('(os_name == "nt" or sys_platform == "linux")', True),
        ('platform_machine == "aarch64"', False),
        ('"linux" in sys_platform and python_full_version >= "3.12.0"', True),
        ('python_version == "3.12.*"', True),
        ('python_version ~= "3.10"', True),
    ],
)
def test_markers_are_evaluated_for_the_target(marker, expected):
    assert vendor.evaluate(marker, vendor.target_environment("3.12", "x86_64")) is expected
