"""Debugging a local invoke through the real CLI: pdb at a pseudo-terminal or fed by a pipe, and an editor
attached over DAP (debugpy) with a breakpoint hit. A debugger's pause is never killed by the timeout."""

import json
import os
import pty
import select
import socket
import subprocess
import sys
import threading
import time

import pytest

from dap import DAPClient
from serving import SHIM, clean_env, wheel

PDB_HANDLER = """\
def Handle(event, context):
    x = 41
    breakpoint()
    return {"x": x + 1, "name": event.get("name")}
"""

DAP_HANDLER = """\
def Handle(event, context):
    x = 41
    y = x + 1
    return {"y": y, "name": event.get("name"), "left_ms": context.get_remaining_time_in_millis()}
"""


@pytest.fixture
def function(tmp_path):
    def make(source):
        root = tmp_path / "fn"
        root.mkdir()
        (root / "handler.py").write_text(source)
        (tmp_path / "event.json").write_text('{"name": "Ada"}')
        return root, str(tmp_path / "event.json")

    return make


class Terminal:
    """shim invoke with a pseudo-terminal as its stdin, stdout and stderr, as in a shell."""

    def __init__(self, args):
        self.master, slave = pty.openpty()
        self.process = subprocess.Popen(
            args, stdin=slave, stdout=slave, stderr=slave, env=clean_env(), start_new_session=True
        )
        os.close(slave)
        self.seen = b""

    def read_until(self, text, timeout=60):
        deadline = time.monotonic() + timeout
        while text.encode() not in self.seen:
            ready, _, _ = select.select([self.master], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                raise AssertionError(
                    "no %r on the terminal; it shows:\n%s" % (text, self.seen.decode("utf-8", "replace"))
                )
            try:
                data = os.read(self.master, 65536)
            except OSError:  # EIO: the other side is closed
                data = b""
            if not data:
                raise AssertionError(
                    "the terminal closed before %r:\n%s" % (text, self.seen.decode("utf-8", "replace"))
                )
            self.seen += data
        at = self.seen.index(text.encode()) + len(text)
        shown, self.seen = self.seen[:at], self.seen[at:]
        return shown.decode("utf-8", "replace")

    def type(self, line):
        os.write(self.master, line.encode() + b"\n")

    def close(self):
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(30)
        os.close(self.master)


def test_breakpoint_opens_pdb_on_the_terminal(function):
    root, event = function(PDB_HANDLER)
    terminal = Terminal(SHIM + ["invoke", str(root), "--no-pack", "--event", event, "--timeout", "1"])
    try:
        shown = terminal.read_until("(Pdb) ")  # the prompt shows at once, though no newline follows it
        assert "handler.py(4)Handle()" in shown
        assert "the 1 s timeout is not enforced for the rest of this invoke" in shown
        terminal.type("p event")
        assert "{'name': 'Ada'}" in terminal.read_until("(Pdb) ")
        time.sleep(1.2)  # longer than the function's timeout: a pause at the prompt is not killed
        terminal.type("x = 99")
        terminal.read_until("(Pdb) ")
        terminal.type("c")
        assert '{"x": 100, "name": "Ada"}' in terminal.read_until('"Ada"}')
        assert terminal.process.wait(60) == 0
    finally:
        terminal.close()


def test_a_pipe_of_pdb_commands_works_too(function):
    root, event = function(PDB_HANDLER)
    done = subprocess.run(
        SHIM + ["invoke", str(root), "--event", event],
        input="p event\nx = 1\nc\n",
        capture_output=True,
        text=True,
        timeout=120,
        env=clean_env(),
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"x": 2, "name": "Ada"}
    assert "(Pdb) {'name': 'Ada'}" in done.stderr


def test_without_a_debugger_the_timeout_stands(function):
    root, event = function("import time\ndef Handle(event, context):\n    time.sleep(30)\n")
    done = subprocess.run(
        SHIM + ["invoke", str(root), "--no-pack", "--timeout", "0.3"],
        input="",
        capture_output=True,
        text=True,
        timeout=120,
        env=clean_env(),
    )
    assert done.returncode == 1 and "Task timed out after" in done.stderr


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("mode", [["--no-pack"], []], ids=["in-place", "packed"])
def test_an_editor_attaches_over_dap_and_stops_at_a_breakpoint(function, mode):
    root, event = function(DAP_HANDLER)
    port = free_port()
    process = subprocess.Popen(
        SHIM + ["invoke", str(root), "--debug-port", str(port), "--event", event, "--timeout", "1"] + mode,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=clean_env(),
    )
    err = []
    threading.Thread(target=lambda: err.extend(iter(process.stderr.readline, "")), daemon=True).start()
    client = None
    try:
        deadline = time.monotonic() + 60
        while not any("waiting for a debugger to attach on 127.0.0.1:%d" % port in line for line in err):
            assert process.poll() is None and time.monotonic() < deadline, "".join(err)
            time.sleep(0.05)
        assert not any("START RequestId" in line for line in err)  # nothing runs before the editor is there
        client = DAPClient(port)
        client.response(
            client.send(
                "initialize",
                adapterID="debugpy",
                clientID="shim-test",
                pathFormat="path",
                linesStartAt1=True,
                columnsStartAt1=True,
            )
        )
        attach = client.send("attach", justMyCode=False)
        client.event("initialized")
        # The editor's path (the function's folder) even when the code runs from a packed task root.
        breakpoints = client.response(
            client.send("setBreakpoints", source={"path": str(root / "handler.py")}, breakpoints=[{"line": 3}])
        )
        assert breakpoints["body"]["breakpoints"][0]["verified"]
        client.response(client.send("configurationDone"))
        client.response(attach)
        stopped = client.event("stopped")
        assert stopped["body"]["reason"] == "breakpoint"
        thread = stopped["body"]["threadId"]
        frame = client.response(client.send("stackTrace", threadId=thread))["body"]["stackFrames"][0]
        assert (frame["source"]["path"], frame["line"], frame["name"]) == (str(root / "handler.py"), 3, "Handle")
        time.sleep(1.2)  # longer than the function's timeout: the paused debuggee is not killed
        client.response(client.send("continue", threadId=thread))
        out = process.stdout.read()
        assert process.wait(60) == 0, "".join(err)
    finally:
        if client is not None:
            client.close()
        if process.poll() is None:
            process.kill()
            process.wait()
    result = json.loads(out)
    assert result["y"] == 42 and result["name"] == "Ada"
    assert result["left_ms"] == 0  # the function saw its real deadline go by (the context clamps at 0)
    assert any("timeouts (1 s) are not enforced in this run" in line for line in err)


def test_debugpy_is_installed_on_demand_into_the_tools_cache_once(tmp_path):
    """Without a debugpy beside lambda-shim, --debug-port installs one into the tools cache (here from a local
    wheel, PIP_NO_INDEX: no network), and the next run finds it there."""
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    wheel(wheels, "debugpy", "1.8.99")
    script = (
        "import importlib.util, os, sys\n"
        "real = importlib.util.find_spec\n"
        "importlib.util.find_spec = lambda name, *a: None if name == 'debugpy' else real(name, *a)\n"
        "from shim.local import debugging\n"
        "said = []\n"
        "for _ in range(2):\n"
        "    del debugging._found[:]  # as a new shim invoke would\n"
        "    found = debugging.find_debugpy(lambda stream, text: said.append(text))\n"
        "    print(found, os.listdir(found), os.path.realpath(os.path.join(found, 'debugpy')))\n"
        "print(len(said))\n"
    )
    env = dict(clean_env(), SHIM_CACHE_DIR=str(tmp_path / "cache"), PIP_NO_INDEX="1", PIP_FIND_LINKS=str(wheels))
    env.pop("PIP_CONSTRAINT", None)
    done = subprocess.run(
        [SHIM[0], "-c", script], capture_output=True, text=True, timeout=300, env=env, cwd=str(tmp_path)
    )
    assert done.returncode == 0, done.stderr
    first, second, said = done.stdout.splitlines()
    assert first == second and said == "1"  # installed once, found the second time
    installed = tmp_path / "cache" / "tools" / ("debugpy-py%d.%d" % sys.version_info[:2])
    assert (installed / "debugpy-1.8.99.dist-info").is_dir()
    # only the debugpy package reaches the function's path, a link to the cache's
    assert first.split(" ", 1)[1] == "['debugpy'] %s" % (installed / "debugpy")
