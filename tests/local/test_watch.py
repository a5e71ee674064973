"""`shim serve --watch` and `shim invoke --watch`: edits to a function's folder redeploy it (real CLI, real files)."""

import json
import signal
import subprocess
import threading
import time

import pytest

from serving import SHIM, ServeProcess, wheel
from support import snapshot

PATH = "/2015-03-31/functions/function/invocations"


def handler(version, extra=""):
    return (
        "import os, time\n"
        "def Handle(event, context):\n"
        "    if 'wait_for' in event:\n"
        "        while not os.path.exists(event['wait_for']):\n"
        "            time.sleep(0.01)\n"
        "    return {'version': %r, 'pid': os.getpid()}\n%s" % (version, extra)
    )


def invoke(server, event=None):
    status, headers, body = server.request("POST", PATH, json.dumps(event or {}).encode())
    assert status == 200
    return dict(headers), json.loads(body)


def edit(path, text):
    # A new mtime for sure, and the write done in one go, as an editor's save.
    path.write_text(text)


def redeployed(server, generation):
    assert server.wait_for_output("shim serve: redeployed (%d)" % generation, timeout=60), server.output()


@pytest.mark.parametrize("mode", [["--no-pack"], []], ids=["in-place", "packed"])
def test_an_edit_is_served_with_a_cold_start_then_a_syntax_error_then_a_fix(tmp_path, mode):
    function = tmp_path / "fn"
    function.mkdir()
    edit(function / "handler.py", handler("v1"))
    before = snapshot(function)
    with ServeProcess(str(function), "--watch", *mode) as server:
        assert server.wait_for_output("shim serve: watching")
        _, first = invoke(server)
        assert first["version"] == "v1"

        edit(function / "handler.py", handler("v2"))
        redeployed(server, 1)
        mark = len(server.lines)
        _, second = invoke(server)
        assert second["version"] == "v2" and second["pid"] != first["pid"]
        assert server.wait_for_output("Init Duration", start=mark)  # a cold start, as after a deployment

        edit(function / "handler.py", handler("v3", "def broken(:\n"))
        redeployed(server, 2)
        for _ in range(2):  # each invoke that hits it gets the init error; the server goes on
            headers, error = invoke(server)
            assert headers.get("X-Amz-Function-Error") == "Unhandled"
            assert error["errorType"] == "Runtime.UserCodeSyntaxError", error

        edit(function / "handler.py", handler("v4"))
        redeployed(server, 3)
        assert invoke(server)[1]["version"] == "v4"
    assert server.process.returncode == 0
    assert snapshot(function).keys() == before.keys()  # nothing written into the user's folder


def test_in_flight_invokes_finish_on_the_old_code_and_noise_is_ignored(tmp_path):
    function = tmp_path / "fn"
    function.mkdir()
    edit(function / "handler.py", handler("v1"))
    flag = tmp_path / "go"
    with ServeProcess(str(function), "--watch", "--no-pack", "--concurrency", "2") as server:
        results = []
        slow = threading.Thread(target=lambda: results.append(invoke(server, {"wait_for": str(flag)})[1]))
        slow.start()
        # Files an editor or Python leave behind are not edits of the function.
        (function / "__pycache__").mkdir()
        (function / "__pycache__" / "handler.cpython-311.pyc").write_bytes(b"\0")
        (function / "handler.py~").write_text("backup")
        (function / ".handler.py.swp").write_text("swap")
        (function / "4913").write_text("")
        edit(function / "handler.py", handler("v2"))
        redeployed(server, 1)
        assert invoke(server)[1]["version"] == "v2"
        flag.write_text("")
        slow.join(60)
        assert results and results[0]["version"] == "v1"  # started before the edit: the old code answers
        changed = [line for line in server.lines if "shim serve: changed:" in line]
        assert changed == ["shim serve: changed: handler.py; redeploying\n"], changed


def test_a_requirements_edit_reinstalls_them(tmp_path):
    function = tmp_path / "fn"
    function.mkdir()
    edit(
        function / "handler.py",
        "import importlib\ndef Handle(event, context):\n"
        "    try:\n        return importlib.import_module('localdep').VERSION\n"
        "    except ImportError:\n        return None\n",
    )
    first, second = wheel(tmp_path, "localdep", "1.0"), wheel(tmp_path, "localdep", "2.0")
    with ServeProcess(str(function), "--watch") as server:
        assert invoke(server)[1] is None
        edit(function / "requirements.txt", "%s\n" % first)
        redeployed(server, 1)
        assert invoke(server)[1] == "1.0"
        edit(function / "requirements.txt", "%s\n" % second)
        redeployed(server, 2)
        assert invoke(server)[1] == "2.0"


def test_invoke_watch_runs_again_after_each_edit(tmp_path):
    function = tmp_path / "fn"
    function.mkdir()
    edit(function / "handler.py", handler("v1"))
    process = subprocess.Popen(
        SHIM + ["invoke", str(function), "--no-pack", "--watch"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    out, err = [], []
    threading.Thread(target=lambda: out.extend(iter(process.stdout.readline, "")), daemon=True).start()
    threading.Thread(target=lambda: err.extend(iter(process.stderr.readline, "")), daemon=True).start()

    def wait_for(lines, text, count=1):
        deadline = time.monotonic() + 60
        while sum(text in line for line in lines) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        assert sum(text in line for line in lines) >= count, "".join(err)

    def wait_for_results(count):  # stdout has its own reader: its line may come after stderr's
        deadline = time.monotonic() + 30
        while len(out) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(out) >= count, "".join(err)

    try:
        wait_for(err, "for changes (Ctrl-C stops)")
        wait_for_results(1)
        assert json.loads(out[0])["version"] == "v1"
        edit(function / "handler.py", handler("v2"))
        wait_for(err, "for changes (Ctrl-C stops)", 2)
        wait_for_results(2)
        assert json.loads(out[1])["version"] == "v2"
        assert sum("Init Duration" in line for line in err) == 2  # each run a cold start
        assert any("changed: handler.py; invoking again" in line for line in err)
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(30)
    assert process.returncode == 0


def test_a_redeploy_that_cannot_be_packed_keeps_the_previous_code(tmp_path):
    function = tmp_path / "fn"
    function.mkdir()
    edit(function / "handler.py", handler("v1"))
    with ServeProcess(str(function), "--watch") as server:
        edit(function / "requirements.txt", "%s\n" % (tmp_path / "missing-1.0-py3-none-any.whl"))
        assert server.wait_for_output("the redeploy failed, still serving the previous code", timeout=120)
        assert invoke(server)[1]["version"] == "v1"
        (function / "requirements.txt").unlink()
        edit(function / "handler.py", handler("v2"))
        deadline = time.monotonic() + 60  # one redeploy or two, as the watcher batches the edits
        while invoke(server)[1]["version"] != "v2":
            assert time.monotonic() < deadline, server.output()
            time.sleep(0.05)
