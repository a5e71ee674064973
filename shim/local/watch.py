"""Redeploy on save: `shim serve --watch` and `shim invoke --watch` (watchfiles).

An edit to the function's directory is a new deployment: the task root is prepared
again (packed again when the command packs, requirements reinstalled by the packer
with them; in place otherwise) and fresh execution environments replace the old
ones, so the next invoke is a cold start on the new code. Invokes in flight finish
on the old code; the old environments are stopped once they are idle.

A module that no longer compiles is deployed like any other edit: every invoke that
hits it gets the init error (Runtime.UserCodeSyntaxError), the server keeps running,
and the next good edit serves again. Edits that matter nothing to the function are
ignored: __pycache__ and .pyc files, editors' swap, backup and lock files, VCS folders.
Nothing is written into the watched folder.
"""

import os
import re
import sys
import tempfile
import threading
import time

from shim.pack.errors import UsageError
from shim.local.result import one_line

STEP_MS = 50  # how long the folder must be quiet before a batch of changes is acted on
DEBOUNCE_MS = 1000  # the longest a stream of changes is gathered before acting anyway
# Editors' temporary files beyond watchfiles' defaults: vim's 4913 probe and .swp/.swx, emacs' #x#,
# JetBrains' ___jb_ files, kate/gedit .goutputstream-*, "x.tmp" and "x.py.12345~" style saves.
_TEMPORARY = re.compile(r"^(4913|#.*#|\.#.*|\.goutputstream-.*|.*\.(tmp|swp|swx|swo|bak|orig|crdownload)|.*~)$")


def _watchfiles():
    try:
        import watchfiles
    except ImportError:
        raise UsageError(
            "--watch needs the watchfiles package: pip install 'lambda-shim[tools]' (or pip install watchfiles)"
        ) from None
    return watchfiles


def make_filter():
    watchfiles = _watchfiles()

    class FunctionFilter(watchfiles.DefaultFilter):
        ignore_dirs = tuple(watchfiles.DefaultFilter.ignore_dirs) + (".ruff_cache", ".shim", "dist", "build")

        def __call__(self, change, path):
            if _TEMPORARY.match(os.path.basename(path)):
                return False
            return super().__call__(change, path)

    return FunctionFilter()


def describe(changes, roots):
    """'handler.py, lib/x.py' for a batch of watchfiles changes."""
    names = set()
    for _, path in changes:
        for root in roots:
            root = os.path.abspath(root)
            if os.path.abspath(path).startswith(root + os.sep):
                path = os.path.relpath(path, root)
                break
        names.add(path)
    shown = sorted(names)
    return ", ".join(shown[:5]) + (" and %d more" % (len(shown) - 5) if len(shown) > 5 else "")


class Watcher:
    """Calls on_change(changes) from a thread of its own after each batch of edits under `paths`.

    Watching has begun when the constructor returns: an edit made right after is seen."""

    def __init__(self, paths, on_change, ready_timeout=10.0):
        self.watchfiles = _watchfiles()
        self.paths = [os.path.abspath(p) for p in paths]
        self.on_change = on_change
        self._stop = _StopEvent()
        self._thread = threading.Thread(target=self._run, daemon=True, name="shim-watch")
        self._thread.start()
        self._stop.ready.wait(ready_timeout)

    def _run(self):
        for changes in self.watchfiles.watch(
            *self.paths,
            watch_filter=make_filter(),
            stop_event=self._stop,
            step=STEP_MS,
            debounce=DEBOUNCE_MS,
            raise_interrupt=False,
        ):
            if self._stop.is_set():
                break
            self.on_change(changes)

    def close(self):
        self._stop.set()
        self._thread.join(10)


class _StopEvent(threading.Event):
    """watchfiles' stop_event, which also says when watching has begun: its watcher asks is_set() first
    once the folder is being watched."""

    def __init__(self):
        super().__init__()
        self.ready = threading.Event()

    def is_set(self):
        self.ready.set()
        return super().is_set()


def forget_bytecode():
    """Empty the bytecode cache of functions run in place (shim.local.sandbox.pycache_dir): a .pyc records its
    source's mtime in whole seconds and its size, so an edit of the same size within the same second would
    otherwise run the old code."""
    import shutil
    from shim.local import sandbox

    where = sandbox.pycache_dir()
    shutil.rmtree(where, ignore_errors=True)
    os.makedirs(where, exist_ok=True)


def pool_slots(pool):
    return sum(getattr(fn, "max_concurrency", None) or 1 for fn in pool.functions)


class Redeployer:
    """Keeps `server.pool` (shim.local.invoke_api) on the newest code of one function directory.

    prepare() -> a new TaskRoot (raising UsageError or ValueError when it cannot be made);
    build(task_root) -> a Pool of fresh Functions on it, not started; log(text) -> the server's log.
    """

    def __init__(self, server, task_root, prepare, build, log, root="."):
        self.server, self.task_root, self.root = server, task_root, root
        self.prepare, self.build, self.log = prepare, build, log
        self.generation = 0
        self._lock = threading.Lock()
        self._retiring = []  # (pool, task root, thread) being stopped once idle

    def __call__(self, changes):
        with self._lock:
            self.log("shim serve: changed: %s; redeploying\n" % describe(changes, [self.root]))
            forget_bytecode()
            try:
                task_root = self.prepare()
                pool = self.build(task_root)
            except Exception as exc:  # noqa: BLE001 - whatever the packer met, the server and the watch go on
                self.log(
                    "shim serve: the redeploy failed, still serving the previous code: %s\n"
                    % (exc if isinstance(exc, (UsageError, ValueError, OSError)) else repr(exc))
                )
                return
            pool.start()
            self.generation += 1
            old_pool, old_root = self.server.pool, self.task_root
            self.server.pool, self.task_root = pool, task_root
            failure = next((fn.init_failure for fn in pool.functions if fn.init_failure is not None), None)
            if failure is not None:
                self.log(
                    "shim serve: redeployed (%d); init failed, every invoke retries it: %s\n"
                    % (self.generation, one_line(failure))
                )
            else:
                self.log(
                    "shim serve: redeployed (%d); runtime pids %s\n"
                    % (self.generation, " ".join(str(fn.pid) for fn in pool.functions))
                )
            self._retiring = [entry for entry in self._retiring if entry[2].is_alive()]
            thread = threading.Thread(target=self._retire, args=(old_pool, old_root), daemon=True)
            self._retiring.append((old_pool, old_root, thread))
            thread.start()

    @staticmethod
    def _retire(pool, task_root):
        """Once the old environments' invokes in flight are done (they finish on the old code), stop them."""
        slots = pool_slots(pool)
        while pool._idle.qsize() < slots:  # every slot given back: nothing runs on the old code any more
            time.sleep(0.05)
        pool.close()
        task_root.remove()

    def current(self):
        """(pool, task root) now served; at exit, after the retiring ones are stopped (at once if still busy)."""
        with self._lock:
            for pool, task_root, thread in self._retiring:
                thread.join(2)
                if thread.is_alive():
                    pool.close()
                    task_root.remove()
            return self.server.pool, self.task_root


def watched_directory(args, config=None):
    """The function directory the command's options name (a project function's name, or a directory),
    for --watch; UsageError for a zip."""
    if getattr(args, "zip", None):
        raise UsageError("--watch watches a function directory, not a --zip")
    if config is None:
        from shim.local import project

        config = project.resolve(getattr(args, "function_dir", None))
    directory = config.path
    if not directory or not os.path.isdir(directory):
        raise UsageError("no such function directory: %s" % directory)
    _watchfiles()  # missing: say so now, before anything starts
    return directory


def rerun(args, run, stderr=None):
    """`shim invoke --watch`: run(args) now and again after each batch of edits, until Ctrl-C."""
    stderr = stderr or sys.stderr
    directory = watched_directory(args)
    args.watch = False
    temporary = None
    if getattr(args, "event", None) == "-":  # read once, given to every run
        data = sys.stdin.buffer.read()
        handle, temporary = tempfile.mkstemp(prefix="shim-event-", suffix=".json")
        with os.fdopen(handle, "wb") as f:
            f.write(data)
        args.event = temporary
    changed = threading.Event()
    batches = []

    def on_change(changes):
        batches.append(changes)
        changed.set()

    watcher = Watcher([directory], on_change)
    try:
        while True:
            forget_bytecode()
            try:
                run(args)
            except UsageError as exc:
                stderr.write("shim invoke: %s\n" % exc)
            stderr.write("shim invoke: watching %s for changes (Ctrl-C stops)\n" % directory)
            stderr.flush()
            while not changed.wait(0.5):  # an edit made during the run counts too
                pass
            changed.clear()
            seen, batches[:] = list(batches), []
            stderr.write("shim invoke: changed: %s; invoking again\n" % describe(set().union(*seen), [directory]))
            stderr.flush()
    except KeyboardInterrupt:
        return 0
    finally:
        watcher.close()
        if temporary:
            os.unlink(temporary)
