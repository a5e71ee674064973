"""`shim pack` on the command line and `make pack`: the summary, one-line errors, --quiet, the make variables."""

import os
import subprocess
import zipfile

import pytest

from shim import cli

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HANDLERS = os.path.join(REPO, "shim", "local", "templates", "handlers")


# -- the command line and make -----------------------------------------------------------------------


@pytest.fixture
def pack_cli(monkeypatch):
    # Only the pack command: the others' modules are not this test's concern.
    monkeypatch.setattr(cli, "COMMANDS", {"pack": cli.COMMANDS["pack"]})
    return cli.main


def test_cli_packs_and_prints_a_summary(pack_cli, tmp_path, capsys):
    output = tmp_path / "dist" / "handler.zip"
    assert pack_cli(["pack", HANDLERS, "--output", str(output), "--arch", "arm64"]) == 0
    out, err = capsys.readouterr()
    assert str(output) in out and "Architecture arm64" in out and "Handler handler.Handle" in out
    assert "compiling" in err
    assert zipfile.ZipFile(str(output)).getinfo("bootstrap").external_attr >> 16 == 0o100755


def test_cli_bad_input_is_one_line_and_status_2(pack_cli, tmp_path, capsys):
    assert pack_cli(["pack", str(tmp_path / "nowhere"), "--output", str(tmp_path / "x.zip")]) == 2
    out, err = capsys.readouterr()
    assert err.count("\n") == 1 and err.startswith("shim pack: ") and "Traceback" not in err


def test_cli_quiet_prints_only_the_summary(pack_cli, tmp_path, capsys):
    assert pack_cli(["pack", HANDLERS, "-o", str(tmp_path / "q.zip"), "--quiet"]) == 0
    out, err = capsys.readouterr()
    assert err == "" and "Packed" in out


@pytest.mark.parametrize(
    "variables, handler, zip_name",
    [
        ([], "handler.Handle", "dist/handler.zip"),
        (["HANDLER=api"], "api.Handle", "dist/api.zip"),
        (["HANDLER=api", "PACKAGE=orders", "FUNCTION=src"], "api.Handle", "dist/orders.zip"),
    ],
)
def test_make_pack_follows_the_variables(variables, handler, zip_name):
    done = subprocess.run(
        ["make", "-n", "-C", REPO, "pack"] + variables,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        universal_newlines=True,
    )
    assert done.returncode == 0, done.stdout
    [line] = [line for line in done.stdout.splitlines() if " pack " in line]
    assert "--handler %s" % handler in line and "--output %s" % zip_name in line
    assert (" src " if "FUNCTION=src" in variables else " shim/local/templates/handlers ") in line
