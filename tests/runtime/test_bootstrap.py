"""build/bootstrap: which interpreter it picks and what it hands the shim, in each way Lambda starts it.

Fake interpreters (small sh scripts) record the command line they get, so the
managed runtime's /var/lang/bin/python3.12 is not needed.
"""

import os
import shutil
import subprocess
import sys
import time

import pytest

from shim.pack.packer import pack
from shim.pack.ziputil import extract, make_writable

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BOOTSTRAP = os.path.join(REPO, "shim", "runtime", "bootstrap")
BASE_PYTHON = getattr(sys, "_base_executable", None) or sys.executable
START = ["-c", "import shim.runtime.main as r; r.main()"]  # how the bootstrap starts the runtime
FAKE = """#!/bin/sh
{ printf '%s\\n' "$0" "$@"; echo --env; echo "PYTHONPATH=$PYTHONPATH"; echo "LAMBDA_TASK_ROOT=$LAMBDA_TASK_ROOT"; } > "$RECORD"
"""


@pytest.fixture
def lab(tmp_path):
    """A task root with the bootstrap and a shim/ beside it, fake interpreters, and a way to run it."""

    class Lab:
        task = tmp_path / "task"
        bin = tmp_path / "var" / "lang" / "bin"
        record = tmp_path / "record"

        def fake(self, name, where=None):
            path = (where or self.bin) / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(FAKE)
            path.chmod(0o755)
            return str(path)

        def run(self, *args, env=None, cwd=None):
            # A TMPDIR of its own: a stale lambda-shim-PID.inflight in /tmp (left by a killed runtime whose
            # pid this bootstrap reuses) would make it run the crash reporter through the fake interpreter.
            environ = {"PATH": "%s:/usr/bin:/bin" % self.bin, "RECORD": str(self.record), "TMPDIR": str(tmp_path)}
            environ.update(env or {})
            done = subprocess.run(
                [str(self.task / "bootstrap")] + list(args),
                env=environ,
                cwd=cwd or "/",
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                universal_newlines=True,
                timeout=10,
            )
            self.stderr = done.stderr
            assert done.returncode == 0, done.stderr
            lines = self.record.read_text().splitlines()
            cut = lines.index("--env")
            self.env = dict(line.split("=", 1) for line in lines[cut + 1 :])
            return lines[:cut]

    lab = Lab()
    (lab.task / "shim").mkdir(parents=True)
    shutil.copy(BOOTSTRAP, str(lab.task / "bootstrap"))
    return lab


def test_as_exec_wrapper_it_runs_the_shim_with_the_managed_runtimes_interpreter(lab):
    python = lab.fake("python3.12")
    assert lab.run(python, "/var/runtime/bootstrap.py") == [python] + START


@pytest.mark.parametrize(
    "options, kept",
    [
        (["-X", "importtime", "-u"], ["-X", "importtime", "-u"]),
        (
            ["-W", "ignore::DeprecationWarning", "-Xfrozen_modules=off"],
            ["-W", "ignore::DeprecationWarning", "-Xfrozen_modules=off"],
        ),
        (["-E", "-I", "-s"], ["-s"]),  # -E and -I would hide the shim's PYTHONPATH
        ([], []),
    ],
)
def test_interpreter_options_before_the_runtimes_script_are_kept(lab, options, kept):
    python = lab.fake("python3.12")
    argv = lab.run(python, *options, "/var/runtime/bootstrap.py", "handler name", "x")
    assert argv == [python] + kept + START


def test_a_module_or_command_in_the_runtimes_command_is_dropped_too(lab):
    python = lab.fake("python3.13")
    assert lab.run(python, "-u", "-m", "awslambdaric", "app.handler") == [python, "-u"] + START
    assert lab.run(python, "-c", "import x", "app.handler") == [python] + START
    assert lab.run(python) == [python] + START


def test_shim_python_wins_but_the_runtimes_command_is_still_dropped(lab):
    managed, chosen = lab.fake("python3.12"), lab.fake("python3.12", lab.task.parent / "opt")
    assert lab.run(managed, "/var/runtime/bootstrap.py", env={"SHIM_PYTHON": chosen}) == [chosen] + START


def test_other_arguments_go_to_the_shim_as_in_a_container_image(lab):
    python = lab.fake("python3.12", lab.task.parent / "opt")
    assert lab.run("handler.Handle", env={"SHIM_PYTHON": python}) == [python, *START, "handler.Handle"]
    # An executable that is not a Python is just an argument.
    assert lab.run("/bin/true", env={"SHIM_PYTHON": python}) == [python, *START, "/bin/true"]


@pytest.mark.skipif(os.path.exists("/var/lang/bin/python3"), reason="this machine has a managed runtime's Python")
def test_a_custom_runtime_takes_python3_from_path(lab):
    python = lab.fake("python3", lab.task.parent / "opt" / "bin")  # a layer's interpreter
    argv = lab.run(env={"PATH": "%s:/usr/bin:/bin" % (lab.task.parent / "opt" / "bin")})
    assert argv == [python] + START


@pytest.mark.skipif(os.path.exists("/var/lang/bin/python3"), reason="this machine has a managed runtime's Python")
def test_no_interpreter_is_a_clear_error(lab, tmp_path):
    tools = tmp_path / "tools"
    tools.mkdir()
    os.symlink(shutil.which("dirname"), str(tools / "dirname"))
    done = subprocess.run(
        [str(lab.task / "bootstrap")],
        env={"PATH": str(tools)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        universal_newlines=True,
    )
    assert done.returncode == 127
    assert "no Python interpreter found" in done.stderr and "SHIM_PYTHON" in done.stderr


def test_the_task_root_comes_first_on_pythonpath_from_any_directory(lab, tmp_path):
    python = lab.fake("python3.12")
    lab.run(python, "/var/runtime/bootstrap.py", env={"PYTHONPATH": "/var/runtime"}, cwd=str(tmp_path))
    assert lab.env["PYTHONPATH"] == "%s:/var/runtime" % lab.task
    assert lab.env["LAMBDA_TASK_ROOT"] == str(lab.task)
    lab.run(python, env={"LAMBDA_TASK_ROOT": "/var/task"})
    assert lab.env["LAMBDA_TASK_ROOT"] == "/var/task" and lab.env["PYTHONPATH"] == str(lab.task)


def test_bytecode_for_another_version_is_reported(lab):
    python = lab.fake("python3.12")
    cache = lab.task / "shim" / "runtime" / "__pycache__"
    cache.mkdir(parents=True)
    (cache / "main.cpython-311.pyc").write_bytes(b"")
    lab.run(python, "/var/runtime/bootstrap.py")
    assert "no bytecode for Python 3.12" in lab.stderr and "--python-version 3.12" in lab.stderr
    (cache / "main.cpython-312.pyc").write_bytes(b"")
    lab.run(python, "/var/runtime/bootstrap.py")
    assert lab.stderr == ""


def test_a_packed_function_runs_behind_a_managed_runtimes_command(tmp_path, start):
    """Lambda's managed runtime, minus Lambda: the wrapper gets `python3.X /var/runtime/bootstrap.py`."""
    version = "%d.%d" % sys.version_info[:2]
    result = pack(os.path.join(REPO, "shim", "local", "templates", "handlers"), tmp_path / "handler.zip")
    task = extract(result.path, tmp_path / "task")
    try:
        lang = tmp_path / "var" / "lang" / "bin"
        lang.mkdir(parents=True)
        python = lang / ("python" + version)
        os.symlink(BASE_PYTHON, str(python))
        env = start(
            task,
            "handler.Handle",
            args=[str(python), "/var/runtime/bootstrap.py"],
            env={"SHIM_PYTHON": "", "PYTHONPATH": "/var/runtime"},
        )
        answer = env.invoke({"name": "wrapper"}, timeout=10)
        assert answer.kind == "response", env.output()
        assert answer.payload["message"] == "Hello, wrapper!"
        assert "no bytecode" not in env.output()
    finally:
        make_writable(task)


def test_a_stale_crash_record_of_a_reused_pid_is_not_reported(lab, tmp_path):
    """A record an earlier process with the same pid left behind (killed before its clean-up) is not ours."""
    python = lab.fake("python3")
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    # `exec` keeps the pid: the launcher runs as the very process that planted the record.
    plant = 'printf "Rstale-request\\n\\n" > "$TMPDIR/lambda-shim-$$.inflight"; exec "$0" "$@"'
    done = subprocess.run(
        ["/bin/sh", "-c", plant, str(lab.task / "bootstrap")],
        env={
            "PATH": "%s:/usr/bin:/bin" % lab.bin,
            "RECORD": str(lab.record),
            "TMPDIR": str(tmp),
            "SHIM_PYTHON": python,
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        universal_newlines=True,
        timeout=10,
    )
    assert done.returncode == 0, done.stderr
    # The stand-in interpreter ran once, as the runtime: not a second time as the crash reporter.
    assert lab.record.read_text().splitlines()[1:3] == START
    assert lab.record.read_text().count("--env") == 1
    assert list(tmp.iterdir()) == []  # and the launcher cleaned up after itself


# bash 5.2's wait after a trapped signal landed between two waits (after one returned, before the next builtin
# ran: in the trap of the signal before it, or on `status=$?`): the signal's trap runs, and the next wait gives
# 128+n at once, without waiting (the handler left bash's wait_signal_received set, and only a wait clears it).
# Here that second SIGTERM lands so every time: the shell sends it to itself as the first wait returns.
LATE_SIGNAL_WAIT = """
landed=
wait() {
    if [ -n "$landed" ]; then
        landed=
        return 143
    fi
    builtin wait "$@"
    set -- $?
    if [ "$1" -gt 128 ] && [ -z "$sent" ]; then
        sent=1 landed=1
        kill -TERM $$
    fi
    return "$1"
}
"""

USER_EXIT = """
import signal, sys
signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(7))

def Handle(event, context):
    return 1
"""


@pytest.mark.skipif(shutil.which("bash") is None, reason="no bash here")
def test_a_wait_that_a_late_trapped_signal_cut_short_is_waited_again(tmp_path):
    """Under bash, a second SIGTERM that lands as the launcher is between two waits makes the next wait give 143
    at once: the launcher must not take that for the runtime's status (and exit, its lifeline killing the runtime
    mid-shutdown), but wait on for the status the function's own SIGTERM handler chose."""
    import signal

    from shim.local.emulator import RuntimeAPIServer

    (tmp_path / "task").mkdir()
    (tmp_path / "task" / "handler.py").write_text(USER_EXIT)
    (tmp_path / "bash_env").write_text(LATE_SIGNAL_WAIT)
    with RuntimeAPIServer() as api:
        env = dict(os.environ, **api.environment("handler.Handle", str(tmp_path / "task")))
        env.update(
            SHIM_PYTHON=sys.executable, PYTHONPATH=REPO, TMPDIR=str(tmp_path), BASH_ENV=str(tmp_path / "bash_env")
        )
        process = subprocess.Popen(
            ["bash", BOOTSTRAP],
            env=env,
            cwd=str(tmp_path / "task"),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            universal_newlines=True,
        )
        try:
            assert api.wait_ready(15)
            _await_trap(process.pid)  # the runtime can reach /next before the shell has set its traps
            process.send_signal(signal.SIGTERM)
            output = process.communicate(timeout=15)[0]
        finally:
            process.kill()
            process.wait()
    assert (process.returncode, "Stopping on SIGTERM" in output) == (7, True), output


def _await_trap(launcher):
    """Until the launcher traps SIGTERM (bit 15 of SigCgt in its /proc status)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with open("/proc/%d/status" % launcher) as f:
            caught = int(next(line for line in f if line.startswith("SigCgt:")).split()[1], 16)
        if caught & (1 << (15 - 1)):
            return
        time.sleep(0.001)
