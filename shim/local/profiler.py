"""Where a function's cold start goes: the real bootstrap, started with the interpreter's import timer on.

A `Session` adds three things to a Function's environment (see shim.local.profile_hook):
PYTHONPROFILEIMPORTTIME=1, so the interpreter writes a line to stderr for every module it
loads (`-X importtime`); a directory on PYTHONPATH holding our `sitecustomize`, which notes the
moment the interpreter's own start ends; and the file it writes that moment to. The runtime is
the one that runs on Lambda, unchanged: the runtime's own logging never sees the importtime
lines (the interpreter writes them to file descriptor 2 directly), and the Session takes
them out of every InvokeResult's logs and out of what is echoed, so they never show up as
the function's log lines.

From the cold start's InvokeResult, the Session builds one tree (`Profile.tree`):

    cold start = Python start + lambda-shim runtime + the handler module's import + first invoke

- Python start: from the exec of the bootstrap to our sitecustomize (the launcher, the
  interpreter's initialisation, `site`), with the modules it loads;
- the runtime: from there to the first /next (its own imports and work), minus the handler's import;
- the handler module: its import, as a tree of the modules it loaded; each node's `self_ms` is
  the module's own top-level code and loading, `total_ms` adds its imports;
- the first invoke: Lambda's Duration, with the modules the handler imported lazily then.
Every node's self_ms plus its children's total_ms is its total_ms.
"""

import os
import shutil
import tempfile

from shim.local import importtime
from shim.local.importtime import Node

HERE = os.path.dirname(os.path.abspath(__file__))
HOOK, USAGE = os.path.join(HERE, "profile_hook.py"), os.path.join(HERE, "profile_usage.py")
PYTHON_START, RUNTIME, FIRST_INVOKE = "Python start", "lambda-shim runtime", "first invoke"
_DESCEND = 0.7  # a child holding this share of its parent is looked into for the summary


class Session:
    """Profiling for the cold starts of one Function: its environment, its echo filter, its Profiles.

    session = Session()
    fn = Function(root, handler, env=session.environment(env))
    session.attach(fn)
    fn.invoke({})
    print(session.profile.summary())
    """

    def __init__(self, events=False):
        self.events = events
        self.home = tempfile.mkdtemp(prefix="shim-profile-")
        self.hook_dir = os.path.join(self.home, "hook")
        os.makedirs(self.hook_dir)
        shutil.copyfile(HOOK, os.path.join(self.hook_dir, "sitecustomize.py"))
        shutil.copyfile(USAGE, os.path.join(self.hook_dir, "_shim_profile_usage.py"))
        _precompile(os.path.join(self.hook_dir, "sitecustomize.py"))
        self.out = os.path.join(self.home, "profile.txt")
        self.fn = None
        self.profile = None  # the Profile of the latest cold start
        self.hook_data = {}  # what the hook wrote in it (see shim.local.profile_hook)
        self.init_lines = []  # its importtime lines, during init

    def environment(self, env=None):
        """env (the function's variables) plus what profiling needs."""
        env = dict(env or {})
        path = env.get("PYTHONPATH")
        env.update(
            {
                "PYTHONPROFILEIMPORTTIME": "1",
                "_SHIM_PROFILE_FILE": self.out,
                "_SHIM_PROFILE_DIR": self.hook_dir,
                "PYTHONPATH": self.hook_dir + (os.pathsep + path if path else ""),
            }
        )
        if self.events:
            env["_SHIM_PROFILE_EVENTS"] = "1"
        return env

    def attach(self, fn):
        """Take the profile of fn's cold starts; the importtime lines leave its results' logs (first observer)."""
        self.fn = fn
        fn.observers.insert(0, self.observe)
        if fn.echo is not None:
            fn.echo = self.echo(fn.echo)
        return fn

    @staticmethod
    def echo(echo):
        """An echo(stream, text) that passes on everything but the importtime lines."""

        def filtered(stream, text):
            if not importtime.is_importtime(text):
                echo(stream, text)

        return filtered

    def observe(self, result):
        init_lines, result.init_logs = importtime.split(result.init_logs)
        invoke_lines, result.logs = importtime.split(result.logs)
        if not result.cold:
            return
        environment = self.fn.environment if self.fn is not None else None
        started = getattr(environment, "started_at", None)
        self.hook_data = read_hook_file(self.out)
        site = self.hook_data.get("site")
        site_ms = (site - started) * 1000 if site is not None and started is not None else None
        self.init_lines = init_lines
        self.profile = Profile.build(
            result.init_ms or 0.0,
            result.duration_ms,
            site_ms,
            init_lines,
            invoke_lines,
            self.fn.handler if self.fn is not None else "",
            result,
        )

    def write_chart(self, source=None, output=None, notes=()):
        """The latest cold start's chart, as HTML, to output (default: the cache, see default_output); its path."""
        from shim.local import flamechart

        if self.profile is None:
            raise RuntimeError("no cold start was profiled yet")
        output = output or default_output(
            source or (self.fn.task_root if self.fn is not None else "."), self.profile.handler
        )
        os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
        with open(output, "w", encoding="utf-8") as handle:
            handle.write(flamechart.render(self.profile, notes=notes))
        return output

    def report(self, stream, source=None, output=None):
        """The summary and the chart's path to stream (`shim invoke --profile`); nothing if no cold start ran."""
        if self.profile is None:
            return None
        path = self.write_chart(source, output)
        stream.write(self.profile.summary() + "\nchart: %s\n" % path)
        stream.flush()
        return path

    def close(self):
        shutil.rmtree(self.home, ignore_errors=True)


def cache_dir():
    """Where charts go by default: the user's cache, never the function's folder."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "lambda-shim", "profiles")


def default_output(source, handler):
    import re

    name = os.path.basename(os.path.abspath(source)) or "function"
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", "%s-%s" % (name, handler)).strip("-")
    return os.path.join(cache_dir(), slug + ".html")


def _precompile(source):
    """Its bytecode where the runtime will look (__pycache__ beside it, or the sandbox's PYTHONPYCACHEPREFIX
    for a function run in place), so the hook is not compiled during the measured start. For an interpreter
    of another version it is compiled then after all: a fraction of a millisecond more."""
    import importlib.util
    import py_compile

    from shim.local import sandbox

    mode = py_compile.PycInvalidationMode.UNCHECKED_HASH
    py_compile.compile(source, cfile=importlib.util.cache_from_source(source), invalidation_mode=mode, doraise=True)
    prefixed = os.path.join(
        sandbox.pycache_dir(),
        os.path.dirname(source).lstrip(os.sep),
        os.path.basename(importlib.util.cache_from_source(source)),
    )
    py_compile.compile(source, cfile=prefixed, invalidation_mode=mode, doraise=True)


def read_hook_file(path):
    """{'site': monotonic seconds, ...}: the hook's line, or its JSON in an --events run; {} if absent."""
    import json

    try:
        with open(path) as handle:
            text = handle.read()
    except OSError:
        return {}
    if text.startswith("{"):
        try:
            return json.loads(text)
        except ValueError:
            return {}
    parts = text.split()
    return {"site": float(parts[1])} if len(parts) == 2 and parts[0] == "site" else {}


def handler_module(spec):
    """The module the runtime imports for `spec` ('pkg/app.Handle' -> 'pkg.app')."""
    return (spec or "").strip().rpartition(".")[0].replace("/", ".")


class Profile:
    """One cold start, broken down (see the module's docstring)."""

    def __init__(self, tree, handler, result=None, plain_init_ms=None):
        self.tree = tree
        self.handler = handler
        self.result = result
        self.plain_init_ms = plain_init_ms  # [init ms of cold starts run without profiling]

    @classmethod
    def build(cls, init_ms, invoke_ms, site_ms, init_lines, invoke_lines, spec, result=None):
        roots = importtime.parse(init_lines)
        module = handler_module(spec)
        handler_at = next((i for i, node in enumerate(roots) if node.name == module), None)
        site_end = next(
            (i for i, node in enumerate(roots) if node.name in ("site", "sitecustomize") or node.find("sitecustomize")),
            None,
        )
        python_roots = roots[: site_end + 1] if site_end is not None and site_ms is not None else []
        handler = roots[handler_at] if handler_at is not None else None
        runtime_roots = [node for node in roots[len(python_roots) :] if node is not handler]
        phases = []
        handler_ms = handler.total_ms if handler is not None else 0.0
        if site_ms is not None:
            phases.append(_phase(PYTHON_START, site_ms, python_roots, "python"))
        runtime_ms = init_ms - (site_ms or 0.0) - handler_ms
        phases.append(_phase(RUNTIME, runtime_ms, runtime_roots, "runtime"))
        if handler is not None:
            handler.kind = "handler"
            phases.append(handler)
        phases.append(_phase(FIRST_INVOKE, invoke_ms, importtime.parse(invoke_lines), "invoke"))
        tree = Node("cold start", 0.0, sum(p.total_ms for p in phases), phases, kind="root")
        return cls(tree, spec, result)

    # -- reading it ----------------------------------------------------------------------------

    def phase(self, kind):
        return next((node for node in self.tree.children if node.kind == kind), None)

    @property
    def total_ms(self):
        return self.tree.total_ms

    def heaviest(self, count=8):
        """The handler module's own imports, heaviest first: [(node, ([notable descendants], more left out))]."""
        handler = self.phase("handler")
        if handler is None:
            return []
        ranked = sorted(handler.children, key=lambda node: -node.total_ms)[:count]
        return [(node, notable(node)) for node in ranked]

    def summary(self, top=8):
        """A few lines for the terminal: the phases, then the heaviest imports."""
        total = self.total_ms or 1.0
        result = self.result
        lines = [
            "cold start of %s: %.0f ms = init %.0f ms + first invoke %.0f ms"
            % (
                self.handler,
                self.total_ms,
                self.total_ms - self.phase("invoke").total_ms,
                self.phase("invoke").total_ms,
            )
        ]
        if self.plain_init_ms:
            import statistics

            plain = statistics.median(self.plain_init_ms)
            init = self.total_ms - self.phase("invoke").total_ms
            lines.append(
                "  without profiling, init took %.0f ms (median of %d cold starts): profiling added %+.0f ms "
                "(%+.0f%%)"
                % (plain, len(self.plain_init_ms), init - plain, 100.0 * (init - plain) / plain if plain else 0.0)
            )
        handler = self.phase("handler")
        rows = []
        for node in self.tree.children:
            if node is handler:
                rows.append(("imports of %s" % node.name, node.total_ms - node.self_ms))
                rows.append(("%s's own code" % node.name, node.self_ms))
            else:
                rows.append((node.name, node.total_ms))
        width = max(len(name) for name, _ in rows)
        for name, ms in rows:
            lines.append("  %-*s %8.1f ms  %3.0f%%" % (width, name, ms, 100.0 * ms / total))
        heavy = self.heaviest(top)
        if heavy:
            lines.append("heaviest imports of %s:" % handler.name)
            for node, (inside, more) in heavy:
                detail = ", ".join("%s %.0f ms" % (n.name, n.total_ms) for n in inside) + (", …" if more else "")
                lines.append(
                    "  %s %.0f ms (%.0f%%)%s"
                    % (node.name, node.total_ms, 100.0 * node.total_ms / total, ": " + detail if inside else "")
                )
        if result is not None and not result.ok:
            lines.append("(the invoke did not succeed: %s %s)" % (result.kind, result.error_type or ""))
        return "\n".join(lines)

    def as_dict(self):
        return {
            "handler": self.handler,
            "total_ms": self.total_ms,
            "plain_init_ms": self.plain_init_ms,
            "tree": self.tree.as_dict(),
        }


def _phase(name, total_ms, children, kind):
    inside = sum(child.total_ms for child in children)
    total_ms = max(total_ms, inside)  # the clocks differ a little: a phase is never less than what it holds
    return Node(name, total_ms - inside, total_ms, children, kind=kind)


def notable(node, count=3):
    """([the largest parts of an import], whether it has more), looking through a child that holds most of it
    (boto3 -> boto3.session)."""
    while node.children:
        biggest = max(node.children, key=lambda child: child.total_ms)
        if biggest.total_ms < _DESCEND * node.total_ms or not biggest.children:
            break
        node = biggest
    shown = [
        child
        for child in sorted(node.children, key=lambda child: -child.total_ms)[:count]
        if child.total_ms >= 0.05 * max(node.total_ms, 0.001)
    ]
    return shown, len(node.children) > len(shown)
