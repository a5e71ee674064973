"""`shim profile`'s runs: cold starts without profiling, one with it, and optionally one with the events.

1. `runs` + 1 cold starts as they are (the first one only warms up: bytecode written for a
   function run in place, files in the page cache), each a fresh environment with one invoke:
   their init times say what profiling costs.
2. One cold start with a shim.local.profiler.Session: the breakdown.
3. With events: one more cold start, its invokes those events, with the hook's usage tracking
   on (not timed), so `unused()` can say which modules the handler's import loaded that no
   invoke ran any Python code of.
"""

import dataclasses
import sys
from typing import List, Optional

from shim.local import importtime
from shim.local.profiler import Profile, Session, handler_module, read_hook_file


@dataclasses.dataclass
class Unused:
    """A module (or a whole package: `modules` of them) imported at init whose code no invoke ran."""

    name: str
    modules: int
    import_ms: Optional[float]  # its modules' own (self) import time in that run, when the import timer saw it


def run(task_root, config, event=b"{}", events=None, runs=3, echo=None):
    """(Profile, [Unused] or None) for the function at task_root; config: its FunctionConfig."""
    from shim.local.function import Function

    plain = []
    for index in range(runs + 1):
        with Function(task_root, config=config) as fn:
            result = fn.invoke(event)
            if index and result.init_ms is not None:
                plain.append(result.init_ms)
    session = Session()
    try:
        with Function(task_root, config=config, echo=echo) as fn:
            fn.env = session.environment(fn.env)
            session.attach(fn)
            fn.invoke(event)
        profile = session.profile
    finally:
        session.close()
    if profile is None:
        raise RuntimeError("the profiled cold start produced no profile")
    profile.plain_init_ms = plain
    unused_modules = None
    if events is not None:
        unused_modules = usage(task_root, config, events, echo)
    return profile, unused_modules


def usage(task_root, config, events, echo=None):
    """[Unused], heaviest import first, from one cold start that runs every event."""
    from shim.local.function import Function

    session = Session(events=True)
    try:
        with Function(task_root, config=config, echo=echo) as fn:
            fn.env = session.environment(fn.env)
            session.attach(fn)
            for event in events:
                fn.invoke(event)
        lines = session.init_lines
        data = read_hook_file(session.out)  # rewritten after every invoke
    finally:
        session.close()
    if "init_modules" not in data:
        raise RuntimeError("the function's runtime did not report which modules it imported")
    handler = handler_module(config.handler)
    modules = {name: path for name, path in data["init_modules"].items() if name != handler}
    return unused(modules, data.get("used", []), importtime.parse(lines))


def unused(init_modules, used, roots):
    """Group the modules of init_modules not in `used` into the largest wholly unused packages."""
    used = set(used)
    names = set(init_modules)
    idle = names - used
    selfs = {}  # module -> its own (self) import time, in that run
    for root in roots:
        for node, _ in root.walk():
            selfs.setdefault(node.name, node.self_ms)

    def cost(name):
        """The group's own import time: the self times of its modules (not what they pulled in from elsewhere)."""
        found = [ms for module, ms in selfs.items() if module == name or module.startswith(name + ".")]
        return sum(found) if found else None

    def wholly_idle(prefix):
        return all(name in idle for name in names if name == prefix or name.startswith(prefix + "."))

    # A package counts as unused only with all of its modules: one whose submodule ran is not listed.
    candidates = {name for name in idle if wholly_idle(name)}
    found = {}
    for name in candidates:
        parts = name.split(".")
        if any(".".join(parts[:length]) in candidates for length in range(1, len(parts))):
            continue  # inside a package listed as a whole
        count = sum(1 for n in idle if n == name or n.startswith(name + "."))
        found[name] = Unused(name, count, cost(name))
    return sorted(found.values(), key=lambda item: (-(item.import_ms or 0.0), item.name))


def render_unused(items: List[Unused], limit=15):
    if not items:
        return "no module the handler's import loaded went unused in the invokes"
    stdlib = getattr(sys, "stdlib_module_names", ())
    own = [item for item in items if item.name.split(".")[0] not in stdlib]
    std = [item for item in items if item.name.split(".")[0] in stdlib]
    lines = ["imported at init, none of their Python code ran in any invoke (candidates for a lazy import):"]
    for item in own[:limit]:
        cost = "%.1f ms to import" % item.import_ms if item.import_ms is not None else "cost not measured"
        lines.append("  %s  (%s%s)" % (item.name, cost, ", %d modules" % item.modules if item.modules > 1 else ""))
    if len(own) > limit:
        lines.append("  … and %d more" % (len(own) - limit))
    if std:
        lines.append(
            "  and %d standard-library modules (%s, …), loaded by the imports above"
            % (sum(item.modules for item in std), ", ".join(item.name for item in std[:4]))
        )
    return "\n".join(lines)


__all__ = ["Profile", "Unused", "run", "usage", "unused", "render_unused"]
