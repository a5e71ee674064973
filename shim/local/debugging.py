"""A debugger on a local invoke (`shim invoke`): pdb at the terminal, or an editor over DAP (debugpy).

pdb: the function's process gets `shim invoke`'s own stdin for that run (unless the
event was read from it), so `breakpoint()` opens a working pdb: at the terminal, or fed
by a pipe of commands. Its output is passed on as it arrives, unended lines included,
so pdb's `(Pdb) ` prompt shows at once. breakpoint() goes through a small hook
(PYTHONBREAKPOINT) that tells us the invoke is held by a debugger: from then on its
timeout is not enforced (one line says so). The function still sees its real deadline in
`context.get_remaining_time_in_millis()`. A pdb.set_trace() of the handler's own is not
seen: the timeout stands then.

debugpy (`--debug-port N`): the runtime's interpreter is started through a launcher that
listens on 127.0.0.1:N (debugpy's in-process adapter: no process left behind) and waits
for an editor to attach before the runtime imports the handler's module. The init and
invoke timeouts are not enforced for the run (one line says so). debugpy is the one
installed beside lambda-shim if there is one, else installed once into the tools cache
($SHIM_CACHE_DIR or $XDG_CACHE_HOME/lambda-shim, under tools/), never into the zip or
the function's folder; only the debugpy package itself is put on the function's path.
For a packed run, the editor's paths (the function's folder) are mapped to the task root.
"""

import atexit
import codecs
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import threading

from shim.pack.errors import UsageError

NOTICE_VARIABLE = "_SHIM_BREAKPOINT_NOTICE"
HOOK_MODULE = "_shim_breakpoint"

HOOK = (
    '''"""lambda-shim: breakpoint() under `shim invoke`: says a debugger holds the invoke, then starts pdb."""
import os
import sys


def set_trace(*args, **kwargs):
    notice = os.environ.get("%s")
    if notice:
        try:
            open(notice, "a").close()
        except OSError:
            pass
    import pdb
    debugger = pdb.Pdb()
    if kwargs.get("header") is not None:
        debugger.message(kwargs["header"])
    debugger.set_trace(sys._getframe(1))
'''
    % NOTICE_VARIABLE
)

LAUNCHER = '''"""lambda-shim: start the runtime under debugpy, once an editor has attached (`shim invoke --debug-port`)."""
import os
import sys

del sys.path[0]  # this script's folder
where, port = os.environ.pop("_SHIM_DEBUGPY_PATH"), int(os.environ.pop("_SHIM_DEBUG_PORT"))
sys.path.append(where)
import debugpy

debugpy.listen(("127.0.0.1", port), in_process_debug_adapter=True)
sys.stderr.write("debugpy: waiting for a debugger to attach on 127.0.0.1:%d\\n" % port)
sys.stderr.flush()
debugpy.wait_for_client()
if len(sys.argv) < 3 or sys.argv[1] != "-c":
    sys.exit("lambda-shim debug launcher: expected -c CODE, got %r" % sys.argv[1:])
code, sys.argv = sys.argv[2], ["-c"] + sys.argv[3:]
exec(compile(code, "<string>", "exec"), {"__name__": "__main__", "__builtins__": __builtins__})
'''

_home = None
_lock = threading.Lock()


def _workdir():
    global _home
    with _lock:
        if _home is None:
            _home = tempfile.mkdtemp(prefix="shim-debug-")
            atexit.register(shutil.rmtree, _home, True)
            with open(os.path.join(_home, HOOK_MODULE + ".py"), "w") as f:
                f.write(HOOK)
        return _home


def stdin_usable(event_source):
    """Whether `shim invoke` can hand its stdin to the function: not used for the event, and open."""
    if event_source == "-" or sys.stdin is None:
        return False
    try:
        os.fstat(0)
    except OSError:
        return False
    return True


def check(debug_port, max_concurrency=None):
    """UsageError for a --debug-port that cannot work (call before anything is prepared)."""
    if debug_port is None:
        return
    if not 1 <= debug_port <= 65535:
        raise UsageError("--debug-port must be between 1 and 65535, got %s" % debug_port)
    if max_concurrency:
        raise UsageError(
            "--debug-port and --max-concurrency do not combine: the workers are forked from one "
            "process, and one debug server cannot follow them all"
        )
    find_debugpy(lambda stream, text: sys.stderr.write(text))  # installed now if need be; found once


class Session:
    """Set up a Function (shim.local.function) for a person at a debugger; say what changes, once.

    stdin: hand our stdin over (pdb); debug_port: start under debugpy on 127.0.0.1:port.
    echo(stream, text) is the invoke's echo (the runtime's output and our lines)."""

    def __init__(self, fn, echo, stdin=False, debug_port=None, editor_root=None):
        self.fn, self.echo = fn, echo
        self.stdin, self.debug_port = stdin, debug_port
        self.editor_root = editor_root  # the function's folder as the editor sees it (packed runs map it)
        self.notice = None
        self._decoders = {}
        self._open = False  # the last output left a line unended
        self._closed = threading.Event()
        check(debug_port, fn.max_concurrency)
        self._debugpy = find_debugpy(echo) if debug_port is not None else None
        fn.configure_environment = self.configure
        if debug_port is not None:
            fn.init_timeout_s = math.inf
            fn.timeout_enforced = False
            echo(
                "platform",
                "shim invoke: --debug-port: the init and invoke timeouts (%g s) are not enforced in this "
                "run, so a paused debugger is never killed\n" % fn.timeout_s,
            )
        if stdin:
            self.notice = os.path.join(_workdir(), "breakpoint-%d-%d" % (os.getpid(), id(self)))
            threading.Thread(target=self._watch_notice, daemon=True).start()

    def configure(self, environment):
        env = environment.extra_env
        if self.stdin:
            environment.stdin = None
            # Live while the environment echoes: Function.stop() silences it (on_line None) for the shutdown.
            environment.on_chunk = lambda stream, data: self._chunk(stream, data) if environment.on_line else None
            if "PYTHONBREAKPOINT" not in env:
                env["PYTHONBREAKPOINT"] = HOOK_MODULE + ".set_trace"
                env["PYTHONPATH"] = os.pathsep.join(p for p in (env.get("PYTHONPATH"), _workdir()) if p)
                env[NOTICE_VARIABLE] = self.notice
        if self.debug_port is not None:
            env["SHIM_PYTHON"] = launcher(environment)
            env["_SHIM_DEBUGPY_PATH"] = self._debugpy
            env["_SHIM_DEBUG_PORT"] = str(self.debug_port)
            env.setdefault("SHIM_TIMEOUT_WARNING_MS", "0")  # no timeout warning from a paused function
            root = os.path.abspath(self.editor_root) if self.editor_root else None
            if root and os.path.realpath(root) != os.path.realpath(environment.task_root):
                env["PATHS_FROM_ECLIPSE_TO_PYTHON"] = json.dumps([[root, environment.task_root]])

    def _chunk(self, stream, data):
        decoder = self._decoders.setdefault(stream, codecs.getincrementaldecoder("utf-8")("replace"))
        text = decoder.decode(data)
        if text:
            self._open = not text.endswith("\n")
            self.echo(stream, text)

    def platform(self, text):
        """One of our lines, on a line of its own after output left unended (pdb's last prompt)."""
        if self._open:
            text, self._open = "\n" + text, False
        self.echo("platform", text)

    def _watch_notice(self):
        while not self._closed.wait(0.05):
            if os.path.exists(self.notice):
                if self.fn.timeout_enforced:
                    self.fn.timeout_enforced = False
                    self.platform(
                        "shim invoke: breakpoint(): the %g s timeout is not enforced for the rest of this "
                        "invoke (the function still sees its real deadline)\n" % self.fn.timeout_s
                    )
                return

    def close(self):
        self._closed.set()
        if self.notice:
            try:
                os.unlink(self.notice)
            except OSError:
                pass


def launcher(environment):
    """An interpreter path (for SHIM_PYTHON) that runs the runtime under debugpy's launcher."""
    from shim.local import sandbox

    python = sandbox.interpreter(environment.python) if environment.isolated else environment.python
    where = _workdir()
    script = os.path.join(where, "debug_launcher.py")
    if not os.path.exists(script):
        with open(script, "w") as f:
            f.write(LAUNCHER)
    wrapper = os.path.join(where, "python-debugpy-%d" % abs(hash(python)))
    if not os.path.exists(wrapper):
        with open(wrapper + ".new", "w") as f:
            # -X frozen_modules=off: debugpy sees the standard library's own frames (ignored before 3.11).
            f.write('#!/bin/sh\nexec %s -X frozen_modules=off %s "$@"\n' % (_quote(python), _quote(script)))
        os.chmod(wrapper + ".new", 0o755)
        os.replace(wrapper + ".new", wrapper)
    return wrapper


def _quote(text):
    return "'" + text.replace("'", "'\\''") + "'"


# -- finding or installing debugpy ------------------------------------------------------------


def cache_dir():
    root = os.environ.get("SHIM_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "lambda-shim"
    )
    return os.path.join(root, "tools")


_found = []  # type: list


def find_debugpy(echo=None):
    """A folder holding only a `debugpy` package for this Python: the installed one, or the tools cache's."""
    if not _found:
        _found.append(_find_debugpy(echo))
    return _found[0]


def _find_debugpy(echo):
    import importlib.util

    spec = importlib.util.find_spec("debugpy")
    if spec is not None and spec.origin:
        return _alone(os.path.dirname(spec.origin))
    target = os.path.join(cache_dir(), "debugpy-py%d.%d" % sys.version_info[:2])
    if not os.path.isdir(os.path.join(target, "debugpy")):
        if echo is not None:
            echo("platform", "shim invoke: installing debugpy into %s (once, for --debug-port)\n" % target)
        _install(target)
    return _alone(os.path.join(target, "debugpy"))


def _install(target):
    os.makedirs(os.path.dirname(target), exist_ok=True)
    aside = tempfile.mkdtemp(prefix=".debugpy-", dir=os.path.dirname(target))
    try:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--no-input",
                "--target",
                aside,
                "debugpy",
            ],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0 or not os.path.isdir(os.path.join(aside, "debugpy")):
            lines = (done.stderr or done.stdout).strip().splitlines()
            raise UsageError(
                "--debug-port needs debugpy, and installing it failed: %s (pip install debugpy "
                "beside lambda-shim instead)" % (lines[-1] if lines else "pip exit %d" % done.returncode)
            )
        try:
            os.rename(aside, target)
        except OSError:  # another run installed it meanwhile
            pass
    finally:
        shutil.rmtree(aside, ignore_errors=True)


def _alone(package_dir):
    """A folder with a link to package_dir alone, so nothing else of its site-packages reaches the function."""
    where = os.path.join(_workdir(), "debugpy-path")
    with _lock:
        if not os.path.isdir(where):
            os.makedirs(where)
            os.symlink(package_dir, os.path.join(where, "debugpy"))
    return where
