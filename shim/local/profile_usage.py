"""Copied beside shim.local.profile_hook as _shim_profile_usage.py: which modules the handler's import
loaded, and which of them ran any of their Python code during the invokes (`shim profile --events`).

The runtime's loader is wrapped to list the modules the handler's import added to sys.modules
(with their files); from then on, every Python code object that starts is noted once, by its
co_filename (sys.monitoring's PY_START on 3.12+, returning DISABLE so each code object reports
only its first start; sys.setprofile before 3.12). After every invoke (the runtime's
logs.end_invoke, wrapped) the file is rewritten as JSON:
{"site": t, "init_modules": {name: file}, "used": [name, ...]}.

"Used" means a function, method or other code object whose co_filename is the module's file
started: a module whose constants alone were read, or whose only code is C, is not "used".
"""

import os
import sys


class Usage:
    """Which of the modules imported by the handler's import ran any Python code during the invokes."""

    def __init__(self, out, site):
        self.out = out
        self.site = site
        self.files = {}  # source file -> module name, for the modules imported at init
        self.started = set()  # co_filename of every code object started since init
        self.modules = {}

    def install(self):
        from shim.runtime import loader, logs

        original_load, original_end = loader.load_handler, logs.end_invoke

        def load_handler(spec):
            before = set(sys.modules)
            try:
                return original_load(spec)
            finally:
                self.track(before)

        def end_invoke():
            original_end()
            self.write()

        loader.load_handler = load_handler
        logs.end_invoke = end_invoke

    def track(self, before):
        for name in set(sys.modules) - before:
            module = sys.modules.get(name)
            path = getattr(module, "__file__", None)
            if isinstance(path, str):
                self.modules[name] = path
                self.files[path] = name
        self.watch()
        self.write()

    def watch(self):
        started = self.started
        monitoring = getattr(sys, "monitoring", None)
        if monitoring is not None:
            tool = monitoring.PROFILER_ID
            if monitoring.get_tool(tool) is None:
                monitoring.use_tool_id(tool, "shim profile")

                def on_start(code, offset):
                    started.add(code.co_filename)
                    return monitoring.DISABLE  # once per code object: later calls cost nothing

                monitoring.register_callback(tool, monitoring.events.PY_START, on_start)
                monitoring.set_events(tool, monitoring.events.PY_START)
                return
        import threading

        def on_call(frame, event, arg):
            if event == "call":
                started.add(frame.f_code.co_filename)

        threading.setprofile(on_call)
        sys.setprofile(on_call)

    def write(self):
        import json

        used = sorted(self.files[path] for path in self.started if path in self.files)
        temporary = self.out + ".part"
        with open(temporary, "w") as handle:
            json.dump({"site": self.site, "init_modules": self.modules, "used": used}, handle)
        os.replace(temporary, self.out)
