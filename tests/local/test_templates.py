"""`shim new DIR --template NAME`: every example handler that ships in the package, as a function of one
project whose generated tests all pass together (each function has a test module of its own name)."""

import json
import os
import subprocess
import sys

import pytest

from shim.local import scaffold

SHIM = [sys.executable, "-c", "import sys; from shim.cli import main; sys.exit(main())"]


@pytest.mark.slow
def test_every_template_scaffolds_a_function_whose_tests_pass_beside_the_others(tmp_path):
    for template in scaffold.TEMPLATES:
        done = subprocess.run(
            SHIM + ["new", "fn_" + template.replace("-", "_"), "--template", template],
            cwd=str(tmp_path),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert done.returncode == 0, done.stderr
    modules = sorted(name for _, _, files in os.walk(str(tmp_path)) for name in files if name.startswith("test_"))
    assert modules == sorted("test_fn_%s.py" % t.replace("-", "_") for t in scaffold.TEMPLATES)
    # The sample event of each template is real JSON, and the SQS one is the sample `shim event sqs` prints.
    sqs = json.loads((tmp_path / "fn_sqs" / "tests" / "event.json").read_text())
    assert [record["eventSource"] for record in sqs["Records"]] == ["aws:sqs", "aws:sqs"]
    # Not the durable one's test: its requirements.txt would install the SDK from PyPI, and tests stay offline
    # (tests/durable runs durable executions through the real bootstrap with this environment's SDK).
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "0", "--ignore", "fn_durable"],
        cwd=str(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-4000:]
    assert "%d passed" % (2 * (len(scaffold.TEMPLATES) - 1)) in done.stdout, done.stdout[-2000:]


def test_an_unknown_template_is_one_line_and_writes_nothing(tmp_path):
    done = subprocess.run(
        SHIM + ["new", "fn", "--template", "nope"],
        cwd=str(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert done.returncode == 2 and "invalid choice: 'nope'" in done.stderr
    assert os.listdir(str(tmp_path)) == []
