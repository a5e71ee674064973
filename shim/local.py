"""One local execution environment: the real bootstrap as a subprocess, with its own Runtime API.

This is what Lambda does for a cold start, minus the sandbox: start `bootstrap`
with Lambda's environment variables, wait for the first /next (init done), hand
it events. The runtime's output is captured line by line, and if the process
dies every unanswered request is resolved as Runtime.ExitError, so a caller
never waits forever.
"""
import os
import signal
import subprocess
import sys
import threading
import time

from shim.emulator import RuntimeAPIServer

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BOOTSTRAP = os.path.join(REPO_ROOT, "build", "bootstrap")


def exit_reason(returncode):
    if returncode is None:
        return "still running"
    if returncode < 0:
        try:
            return "signal: %s" % signal.Signals(-returncode).name
        except ValueError:
            return "signal: %d" % -returncode
    return "exit status %d" % returncode


class Environment:
    def __init__(self, task_root, handler="handler.Handle", *, bootstrap=None, python=None, env=None,
                 function_name="function", memory_mb=128, timeout_s=3.0, args=(), cwd=None, pass_fds=()):
        self.task_root = os.path.abspath(str(task_root))
        self.handler = handler
        self.bootstrap = str(bootstrap) if bootstrap else (
            os.path.join(self.task_root, "bootstrap") if os.path.exists(os.path.join(self.task_root, "bootstrap"))
            else BOOTSTRAP)
        self.python = python or sys.executable
        self.extra_env = dict(env or {})
        self.args = list(args)
        self.cwd = cwd or self.task_root
        self.pass_fds = tuple(pass_fds)  # e.g. a telemetry log pipe
        self.api = RuntimeAPIServer(function_name=function_name, memory_mb=memory_mb, timeout_s=timeout_s)
        self.process = None
        self.lines = []               # (stream name, text) in arrival order
        self.started_at = None
        self._readers = []
        self._lines_lock = threading.Lock()

    # -- lifecycle ------------------------------------------------------------------------

    def start(self):
        self.api.start()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "_HANDLER", "LAMBDA_", "_LAMBDA", "_X_AMZN"))}
        env.update(self.api.environment(self.handler, self.task_root))
        env["SHIM_PYTHON"] = self.python
        env.update(self.extra_env)
        self.started_at = time.monotonic()
        self.process = subprocess.Popen([self.bootstrap] + self.args, env=env, cwd=self.cwd,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                        pass_fds=self.pass_fds)
        for name, stream in (("stdout", self.process.stdout), ("stderr", self.process.stderr)):
            reader = threading.Thread(target=self._read, args=(name, stream), daemon=True)
            reader.start()
            self._readers.append(reader)
        threading.Thread(target=self._watch, daemon=True).start()
        return self

    def wait_ready(self, timeout=10.0):
        """Init duration in ms once the runtime polls /next; None if it failed or timed out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.api.wait_ready(0.05):
                return (self.api.first_next_at - self.started_at) * 1000
            if self.api.init_error is not None or self.process.poll() is not None:
                return None
        return None

    def invoke(self, event, timeout=None, **options):
        return self.api.invoke(event, timeout=timeout, **options)

    def stop(self, timeout=5.0):
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for reader in self._readers:
            reader.join(timeout)
        self.api.stop()

    def kill(self):
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- output -----------------------------------------------------------------------------

    @property
    def returncode(self):
        return self.process.poll() if self.process else None

    def output(self, stream=None):
        with self._lines_lock:
            return "".join(text for name, text in self.lines if stream in (None, name))

    def mark(self):
        """A position in the output, to take only what comes after (see since)."""
        with self._lines_lock:
            return len(self.lines)

    def since(self, mark, stream=None):
        with self._lines_lock:
            return "".join(text for name, text in self.lines[mark:] if stream in (None, name))

    def _read(self, name, stream):
        for raw in iter(stream.readline, b""):
            with self._lines_lock:
                self.lines.append((name, raw.decode("utf-8", "replace")))
        stream.close()

    def _watch(self):
        code = self.process.wait()
        self.api.lose_pending("Runtime exited with %s" % exit_reason(code))
