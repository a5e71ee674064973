"""`shim pack` when the installer fails: one clear line, exit status 2, nothing written.

The installer (uv; pip where uv cannot) is a subprocess that cannot fail on demand here without a package
index: pytest-subprocess stands in for it. The fake answers whatever command pack runs for its
requirements, so these tests hold whichever installer pack uses and however it is called; only
INSTALLER_SAYS is the installer's own wording (its last lines for each failure).
"""

import os
import sys

import pytest

from shim import cli
from support import snapshot

INSTALLER_SAYS = {
    "conflict": [
        "Resolved 0 packages in 12ms",
        "  × No solution found when resolving dependencies:",
        "  ╰─▶ Because a==1 depends on c==1 and b==2 depends on c==2, we can conclude that a==1 and b==2 "
        "are incompatible.",
        "      And because you require a==1 and b==2, we can conclude that your requirements are unsatisfiable.",
    ],
    "missing": [
        "  × No solution found when resolving dependencies:",
        "  ╰─▶ Because nosuchpkg was not found in the package registry and you require nosuchpkg==9.9, we can "
        "conclude that your requirements are unsatisfiable.",
    ],
    "crash": ["Collecting a==1", "  Downloading a-1.0-py3-none-any.whl (10 kB)"],
}


@pytest.fixture
def function(tmp_path):
    root = tmp_path / "function"
    root.mkdir()
    (root / "handler.py").write_text("def Handle(event, context):\n    return 'ok'\n")
    (root / "requirements.txt").write_text("a==1\nb==2\nnosuchpkg==9.9\n")
    return root


@pytest.fixture
def installer(fp):
    """installer(lines, returncode): every command pack runs (but the bytecode compiler's, which is real)
    prints lines and exits with returncode; the commands are recorded in fp.calls."""

    def fail(lines, returncode):
        fp.pass_command([sys.executable, "-S", fp.any()], occurrences=50)  # bytecode workers, for real
        fp.register([fp.any()], stdout=lines, returncode=returncode, occurrences=10)

    return fail


def _pack(function, tmp_path, capsys):
    output = tmp_path / "out" / "function.zip"
    before = snapshot(function)
    status = cli.main(["pack", str(function), "--output", str(output), "--arch", "x86_64", "--quiet"])
    out, err = capsys.readouterr()
    assert snapshot(function) == before  # the user's folder is never written
    assert not output.exists()
    return status, err


def test_a_resolver_conflict_is_one_line_naming_it(function, tmp_path, capsys, installer, fp):
    installer(INSTALLER_SAYS["conflict"], 1)
    status, err = _pack(function, tmp_path, capsys)
    assert status == 2 and err.count("\n") == 1 and err.startswith("shim pack: "), err
    assert "a==1 and b==2 are incompatible" in err and "c==1" in err and "Traceback" not in err
    assert len(fp.calls) >= 1


def test_a_requirement_with_nothing_to_install_is_named(function, tmp_path, capsys, installer):
    installer(INSTALLER_SAYS["missing"], 1)
    status, err = _pack(function, tmp_path, capsys)
    assert status == 2 and err.count("\n") == 1 and err.startswith("shim pack: "), err
    assert "nosuchpkg" in err and "not found" in err and "Traceback" not in err


def test_an_installer_that_crashes_is_one_line_with_its_status(function, tmp_path, capsys, installer):
    installer(INSTALLER_SAYS["crash"], -9)  # killed (SIGKILL), mid-download, no error line of its own
    status, err = _pack(function, tmp_path, capsys)
    assert status == 2 and err.count("\n") == 1 and err.startswith("shim pack: "), err
    assert ("-9" in err or "SIGKILL" in err or "killed" in err) and "Traceback" not in err
    assert "Downloading a-1.0" in err  # with no error line, the last thing it said


def test_the_fake_stands_in_for_the_installer_only(function, tmp_path, fp):
    """The fakes above can fail: with the installer succeeding (and installing nothing) pack writes its zip."""
    fp.pass_command([sys.executable, "-S", fp.any()], occurrences=50)
    fp.register([fp.any()], stdout=["Successfully installed"], occurrences=10)
    output = tmp_path / "ok.zip"
    assert cli.main(["pack", str(function), "--output", str(output), "--arch", "x86_64", "--quiet"]) == 0
    assert os.path.isfile(str(output))
