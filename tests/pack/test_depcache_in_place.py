"""Installed requirements in the local tools: `shim invoke` (packed and in place), the pytest fixture, and
`shim serve` with --refresh, all from the cache `shim pack` fills.

Every install here is real (uv, or pip for its fallback) and offline: the packages are
built in the test and found through --find-links or a package index on 127.0.0.1.
"""

import glob
import json
import os
import signal
import subprocess
import sys

import pytest

from shim.pack import depcache
from support import generations, shim, snapshot

# The slow tier (`make test-slow`, and CI): real installs and whole executions, many seconds each.
pytestmark = pytest.mark.slow


# -- in place ------------------------------------------------------------------------------------------


def test_invoke_runs_a_zip_from_the_tree_it_unpacked_before_and_checks_it(function):
    first = shim("invoke", function)
    assert first.returncode == 0 and json.loads(first.stdout) == {"value": "purewheel 1.0"}
    [tree] = glob.glob(os.path.join(depcache.deps_dir(area="trees"), "*", "g-*", "site"))
    assert os.path.isfile(os.path.join(tree, "purewheel", "__init__.py"))
    assert "1 unpacked zip " in shim("cache").stdout
    target = os.path.join(tree, "handler.py")
    os.chmod(target, 0o644)
    with open(target, "w") as handle:
        handle.write("def Handle(event, context):\n    return 'tampered'\n")
    again = shim("invoke", function)
    assert again.returncode == 0 and json.loads(again.stdout) == {"value": "purewheel 1.0"}
    [line] = [line for line in again.stderr.splitlines() if "changed since" in line]
    assert "the unpacked zip" in line and "handler.py differs" in line


def test_invoke_in_place_imports_a_requirement_from_the_cache(function):
    before = snapshot(function)
    run = shim("invoke", function, "--no-pack")
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == {"value": "purewheel 1.0"}
    assert snapshot(function) == before
    packed = shim("invoke", function)  # the same entry, packed
    assert packed.returncode == 0 and json.loads(packed.stdout) == {"value": "purewheel 1.0"}
    assert len(generations()) == 1


@pytest.mark.parametrize("mode", [["--no-pack"], []], ids=["in-place", "packed"])
def test_another_target_says_so_in_one_line(function, mode):
    other = "arm64" if os.uname().machine == "x86_64" else "x86_64"
    machine = "x86_64" if other == "arm64" else "arm64"
    run = shim("invoke", function, "--arch", other, *mode)
    assert run.returncode == 0, run.stderr  # pure Python: it still runs
    [line] = [line for line in run.stderr.splitlines() if "installed for Lambda's" in line]
    assert line.startswith("shim invoke: warning: ") and "--arch %s" % machine in line
    assert json.loads(run.stdout) == {"value": "purewheel 1.0"}
    same = shim("invoke", function, *mode)
    assert "installed for Lambda's" not in same.stderr


def test_the_fixture_in_place_sees_the_requirements(function, lambda_function):
    fn = lambda_function(str(function))
    assert fn.invoke({}).payload == {"value": "purewheel 1.0"}


@pytest.mark.parametrize("mode", [[], ["--no-pack"]], ids=["packed", "in-place"])
def test_serve_answers_with_the_requirements_and_refresh_installs_again(function, mode):
    import http.client
    import re
    import threading

    assert shim("pack", function, "-o", str(function.parent / "warm.zip")).returncode == 0
    before = generations()
    process = subprocess.Popen(
        [sys.executable, "-m", "shim.cli", "serve", str(function), "--port", "0", "--refresh"] + mode,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        universal_newlines=True,
    )
    lines, listening = [], threading.Event()

    def read():
        for line in process.stderr:
            lines.append(line)
            if "listening on" in line:
                listening.set()

    threading.Thread(target=read, daemon=True).start()
    try:
        assert listening.wait(60), "".join(lines)
        port = int(re.search(r"http://127\.0\.0\.1:(\d+)/", "".join(lines)).group(1))
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        connection.request("POST", "/2015-03-31/functions/function/invocations", b"{}")
        assert json.loads(connection.getresponse().read()) == {"value": "purewheel 1.0"}
        connection.close()
        assert len(generations()) == 1 and generations() != before  # --refresh: a new generation
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(30)
