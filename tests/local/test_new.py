"""`shim new DIR`: the scaffold passes its own test as written, and never overwrites a file."""

import os
import subprocess
import sys

import pytest

from shim import cli
from shim.local import scaffold


def written_for(name):
    """What `shim new NAME` writes: its test module is named after the function, unique in a project."""
    return ["handler.py", "requirements.txt", os.path.join("tests", "test_%s.py" % name), "README.md"]


@pytest.fixture
def new(monkeypatch):
    monkeypatch.setattr(cli, "COMMANDS", {"new": cli.COMMANDS["new"]})
    return lambda *args: cli.main(["new"] + [str(a) for a in args])


def tree(root):
    return sorted(os.path.relpath(os.path.join(d, f), str(root)) for d, _, files in os.walk(str(root)) for f in files)


def test_the_generated_test_passes_from_another_rootdir(new, tmp_path, capsys):
    function = tmp_path / "project" / "orders"
    assert new(function) == 0
    assert tree(function) == sorted(written_for("orders"))
    out = capsys.readouterr().out
    assert "shim invoke %s --event -" % function in out and "shim pack %s --output orders.zip" % function in out
    assert (function / "requirements.txt").read_text() == ""
    readme = (function / "README.md").read_text()
    assert readme.startswith("# orders\n")
    for command in ("shim invoke orders --event -", "pytest orders", "shim pack orders --output orders.zip"):
        assert command in readme
    # pytest's rootdir is tmp_path (its pytest.ini), not the function: the test finds its function by itself.
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            os.path.join("project", "orders", "tests", "test_orders.py"),
        ],
        cwd=str(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        universal_newlines=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout
    assert "2 passed" in done.stdout and "rootdir: %s" % tmp_path in done.stdout


def test_the_handler_is_packed_and_the_tests_are_not(new, tmp_path):
    from shim.pack.packer import pack

    assert new(tmp_path / "fn") == 0
    result = pack(tmp_path / "fn", tmp_path / "fn.zip")
    assert {"handler.py", "requirements.txt"} <= set(result.names) and "README.md" not in result.names
    assert not [n for n in result.names if n.startswith("tests/")] and result.warnings == []


def test_an_existing_empty_folder_is_fine(new, tmp_path):
    (tmp_path / "fn").mkdir()
    assert new(tmp_path / "fn") == 0
    assert tree(tmp_path / "fn") == sorted(written_for("fn"))


@pytest.mark.parametrize("existing", written_for("fn"))
def test_it_refuses_to_overwrite_any_file_and_writes_nothing(new, tmp_path, capsys, existing):
    function = tmp_path / "fn"
    (function / existing).parent.mkdir(parents=True, exist_ok=True)
    (function / existing).write_text("mine\n")
    assert new(function) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("shim new: ") and existing in err and "nothing was written" in err
    assert tree(function) == [existing]
    assert (function / existing).read_text() == "mine\n"


def test_a_file_in_the_way_is_one_line(new, tmp_path, capsys):
    (tmp_path / "fn").write_text("")
    assert new(tmp_path / "fn") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is not a directory" in err


def test_templates_name_the_folder(tmp_path):
    written = scaffold.create(tmp_path / "billing")
    assert [os.path.relpath(p, str(tmp_path / "billing")) for p in written] == written_for("billing")
    assert "@NAME@" not in "".join(open(p).read() for p in written)
    assert "billing" in open(written[0]).read()
