"""One local execution environment: the real bootstrap as a subprocess, with its own Runtime API.

This is what Lambda does for a cold start: start `bootstrap` with Lambda's
environment variables, wait for the first /next (init done), hand it events.
The runtime's output is captured line by line, and if the process dies every
unanswered request is resolved as Runtime.ExitError, so a caller never waits forever.

Isolated (the default), it imports what it would on Lambda and nothing more (see
shim.local.sandbox), and it gets a TMPDIR of its own, deleted when it stops: the
supervising bootstrap's files live there too, and a killed runtime cannot remove them.
"""

import fcntl
import os
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time

import shim
from shim.local import sandbox
from shim.local.emulator import RuntimeAPIServer
from shim.runtime.crash import describe_exit

# The launcher as installed (package data of the runtime), for a task root without its own.
BOOTSTRAP = os.path.join(os.path.dirname(os.path.abspath(shim.__file__)), "runtime", "bootstrap")
# The folder that holds the `shim` package: put it on PYTHONPATH to run the runtime from here.
SHIM_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(shim.__file__)))


def exit_reason(returncode):
    """A subprocess returncode in Lambda's words ('exit status 3', 'signal: SIGKILL')."""
    return "still running" if returncode is None else describe_exit(returncode, shell=False)


class Environment:
    """The bootstrap of one function as a child process, and its Runtime API.

    process_group=True starts it in a session of its own, so that a timeout kills
    whatever the handler started too, and a Ctrl-C at the terminal reaches only
    the caller, which then stops its runtimes in order. on_line(stream, text) is
    called for every line of output as it arrives (keep it quick).

    isolated=False runs it on `python` itself with the developer's environment, and a
    task root without its own bootstrap from the checkout. runtime_packages names
    installed distributions to put on its path after the task root, as a managed
    runtime has boto3 (see shim.local.sandbox). config, a FunctionConfig, gives the
    handler, function name, memory and timeout instead of those keywords.
    """

    def __init__(
        self,
        task_root,
        handler="handler.Handle",
        *,
        bootstrap=None,
        python=None,
        env=None,
        function_name="function",
        memory_mb=128,
        timeout_s=3.0,
        args=(),
        cwd=None,
        pass_fds=(),
        process_group=False,
        on_line=None,
        isolated=True,
        runtime_packages=(),
        config=None,
    ):
        if config is not None:  # a shim.local.project.FunctionConfig: its handler, name, memory and timeout
            handler, function_name = config.handler, config.lambda_name
            memory_mb, timeout_s = config.memory, float(config.timeout)
        self.task_root = os.path.abspath(str(task_root))
        self.handler = handler
        self.isolated = isolated
        self.runtime_packages = tuple(runtime_packages)
        self.bootstrap = (
            str(bootstrap)
            if bootstrap
            else (
                os.path.join(self.task_root, "bootstrap")
                if os.path.exists(os.path.join(self.task_root, "bootstrap"))
                else os.path.join(sandbox.runtime_dir(), "bootstrap")
                if isolated
                else BOOTSTRAP
            )
        )
        self.python = python or sys.executable
        self.extra_env = dict(env or {})
        self.args = list(args)
        self.cwd = cwd or self.task_root
        self.pass_fds = tuple(pass_fds)  # e.g. a telemetry log pipe
        self.process_group = process_group
        self.on_line = on_line
        self.api = RuntimeAPIServer(function_name=function_name, memory_mb=memory_mb, timeout_s=timeout_s)
        self.api.concurrent = "AWS_LAMBDA_MAX_CONCURRENCY" in self.extra_env  # one worker's init error ends nothing
        self.process = None
        self.lines = []  # (stream name, text) in arrival order
        self.started_at = None
        self.peak_rss_kb = None  # last VmHWM seen while the process lived
        self._readers = []
        self._lines_lock = threading.Lock()
        self._drain_locks = {}  # stream name -> (pipe fd, lock held while a chunk is being read)
        self._partial = {}  # stream name -> bytes of a line not ended yet
        self.tmpdir = None  # the runtime's TMPDIR, deleted at stop()
        self.stdin = subprocess.DEVNULL  # None: the caller's own (a debugger at the terminal: shim.local.debugging)
        self.on_chunk = None  # on_chunk(stream, bytes) as output arrives, unended lines too (then not on_line)

    # -- lifecycle ------------------------------------------------------------------------

    def start(self):
        base = sandbox.environ() if self.isolated else os.environ
        python = sandbox.interpreter(self.python) if self.isolated else self.python
        packages = sandbox.packages_dir(self.runtime_packages) if self.runtime_packages else None
        self.api.start()
        env = {k: v for k, v in base.items() if not k.startswith(("AWS_", "_HANDLER", "LAMBDA_", "_LAMBDA", "_X_AMZN"))}
        env.update(self.api.environment(self.handler, self.task_root))
        env["SHIM_PYTHON"] = python
        if packages:  # where a managed runtime has /var/runtime: after the task root, on PYTHONPATH
            env["PYTHONPATH"] = packages
        if self.isolated and self.bootstrap == os.path.join(sandbox.runtime_dir(), "bootstrap"):
            env["PYTHONPYCACHEPREFIX"] = sandbox.pycache_dir()  # run in place: no __pycache__ in the user's folder
        self.tmpdir = tempfile.mkdtemp(prefix="shim-env-")
        env["TMPDIR"] = self.tmpdir
        env.update(self.extra_env)
        if packages and self.extra_env.get("PYTHONPATH"):
            env["PYTHONPATH"] = self.extra_env["PYTHONPATH"] + os.pathsep + packages
        command = [self.bootstrap] + self.args
        self.started_at = time.monotonic()
        try:
            self.process = subprocess.Popen(
                command,
                env=env,
                cwd=self.cwd,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                stdin=self.stdin,
                pass_fds=self.pass_fds,
                start_new_session=self.process_group,
            )
        except BaseException:
            shutil.rmtree(self.tmpdir, ignore_errors=True)
            self.tmpdir = None
            raise
        for name, stream in (("stdout", self.process.stdout), ("stderr", self.process.stderr)):
            self._drain_locks[name] = (stream.fileno(), threading.Lock())
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
                self.sample_memory()
                return (self.api.first_next_at - self.started_at) * 1000
            if (self.api.init_error is not None and not self.api.concurrent) or self.process.poll() is not None:
                return None
        return None

    def invoke(self, event, timeout=None, **options):
        return self.api.invoke(event, timeout=timeout, **options)

    def stop(self, timeout=5.0):
        if self.process is not None and self.process.poll() is None:
            self._signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        self._signal_group(signal.SIGKILL)  # anything the handler left behind
        for reader in self._readers:
            reader.join(timeout)
        self.api.stop()
        self._remove_temporary_files()

    def _remove_temporary_files(self):
        """The runtime's TMPDIR; in a TMPDIR of the caller's, the supervising bootstrap's files."""
        if self.process is None or self.process.poll() is None:
            return  # still running (it could not be stopped): its files are in use
        if self.tmpdir is not None:
            shutil.rmtree(self.tmpdir, ignore_errors=True)
            self.tmpdir = None
        other = self.extra_env.get("TMPDIR")
        if other:
            for suffix in (".inflight", ".fault"):
                try:
                    os.unlink(os.path.join(other, "lambda-shim-%d%s" % (self.process.pid, suffix)))
                except OSError:
                    pass

    def kill(self):
        if self.process is not None and self.process.poll() is None:
            self._signal(signal.SIGKILL)
            self.process.wait()
        self._signal_group(signal.SIGKILL)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def _signal(self, signum):
        if self.process_group:
            self._signal_group(signum)
        else:
            self.process.send_signal(signum)

    def _signal_group(self, signum):
        if self.process_group and self.process is not None:
            try:
                os.killpg(self.process.pid, signum)
            except (ProcessLookupError, PermissionError):
                pass
            if signum == signal.SIGKILL:
                # The runtime leaves the launcher's process group (shim.runtime.lifeline), with what
                # it starts; the session is still the launcher's.
                for pid in _session(self.process.pid):
                    try:
                        os.kill(pid, signum)
                    except (ProcessLookupError, PermissionError):
                        pass

    # -- memory -----------------------------------------------------------------------------

    def sample_memory(self):
        """Peak RSS in kB of the runtime process and its live descendants (VmHWM), remembered.

        Only a living process has it: call this while it runs (after each invoke,
        before a kill). For a process that died on its own, the last sample stays.
        """
        if self.process is None or self.process.poll() is not None:
            return self.peak_rss_kb
        total = 0
        for pid in _descendants(self.process.pid):
            total += _vm_hwm_kb(pid)
        if total:
            self.peak_rss_kb = max(total, self.peak_rss_kb or 0)
        return self.peak_rss_kb

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

    def since(self, mark, stream=None, until=None):
        with self._lines_lock:
            return "".join(text for name, text in self.lines[mark:until] if stream in (None, name))

    def drain(self, timeout=1.0):
        """Wait until every complete line the runtime has written so far is in `lines`.

        A reader holds its lock from the moment its pipe is readable until the chunk
        is split into lines; so an empty pipe seen under that lock means nothing
        written before this call is still in flight.
        """
        deadline = time.monotonic() + timeout
        for fd, lock in list(self._drain_locks.values()):
            while time.monotonic() < deadline:
                with lock:
                    try:
                        if _pending_bytes(fd) == 0:
                            break
                    except OSError:  # closed: the reader is done with it
                        break
                time.sleep(0.0005)

    def join_readers(self, timeout=1.0):
        """After the process has exited: wait for its last output to be read."""
        deadline = time.monotonic() + timeout
        for reader in self._readers:
            reader.join(max(0.0, deadline - time.monotonic()))

    def end_lines(self):
        """A line the runtime left unfinished so far becomes a line of its own (call after drain()):
        at the end of an invoke, what it wrote without a newline belongs to that invoke."""
        for name, (fd, lock) in list(self._drain_locks.items()):
            with lock:
                partial = self._partial.pop(name, b"")
                if partial:
                    self._add(name, [partial + b"\n"])

    def _read(self, name, stream):
        fd, lock = self._drain_locks[name]
        poller = select.poll()  # not select(): a busy process may hand out fds above FD_SETSIZE
        poller.register(fd, select.POLLIN | select.POLLHUP | select.POLLERR)
        while True:
            poller.poll()
            with lock:
                chunk = os.read(fd, 65536)
                if not chunk:
                    break
                if self.on_chunk is not None:
                    self.on_chunk(name, chunk)
                *complete, self._partial[name] = (self._partial.get(name, b"") + chunk).split(b"\n")
                if complete:
                    self._add(name, [line + b"\n" for line in complete])
        with lock:
            partial = self._partial.pop(name, b"")
            if partial:
                self._add(name, [partial])
        stream.close()

    def _add(self, name, raw_lines):
        texts = [raw.decode("utf-8", "replace") for raw in raw_lines]
        with self._lines_lock:
            self.lines.extend((name, text) for text in texts)
        if self.on_line is not None and self.on_chunk is None:
            for text in texts:
                self.on_line(name, text)

    def _watch(self):
        code = self.process.wait()
        self.api.lose_pending("Runtime exited with %s" % exit_reason(code))


def _pending_bytes(fd):
    return struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"))[0]


def _vm_hwm_kb(pid):
    try:
        with open("/proc/%d/status" % pid, "rb") as status:
            for line in status:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _session(sid):
    """The live processes of session sid (Linux /proc)."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name, "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if len(fields) > 3 and int(fields[3]) == sid and fields[0] != b"Z":
            found.append(int(name))
    return found


def _descendants(pid):
    """pid and its live descendants (Linux /proc; just pid where children files are missing)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        try:
            with open("/proc/%d/task/%d/children" % (current, current)) as children:
                todo.extend(int(child) for child in children.read().split())
        except (OSError, ValueError):
            pass
    return found
