"""The CLI on top of the three parts, run as `python -m shim.cli` (the console script is tested per command)."""

import subprocess
import sys


def test_cli_usage_errors_are_one_line_even_as_a_module(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "shim.cli", "pack", str(tmp_path / "missing"), "-o", str(tmp_path / "x.zip")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and result.stderr.startswith("shim pack: ")
    assert "Traceback" not in result.stderr
