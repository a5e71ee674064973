"""Bytecode for every .py entry of a zip, written by an interpreter of the target version (shim.pack.bytecode),
and kept by digest (shim.pack.objects) so that the next pack of the same sources compiles nothing."""

import os
import sys
import time

from shim.pack.errors import UsageError
from shim import runtime
from shim.pack import bytecode, objects


def compile_into(
    entries, scratch, python_version, compile_python, result, say, warn, root=bytecode.TASK_ROOT, store=None, optimize=0
):
    """Add a .pyc entry for every .py entry, written by an interpreter of the target version.

    `root` is where the zip is extracted on Lambda: the bytecode carries root/entry as its path.
    optimize: 1 or 2 writes what `python -O`/`-OO` would, under the usual .pyc names.
    """
    sources = sorted(name for name in entries if name.endswith(".py"))
    python, tried = bytecode.find_interpreter(python_version, compile_python)
    running = "%d.%d" % sys.version_info[:2]
    if python is None:
        cost = bytecode.estimate_cold_compile_ms(
            entries[name][0] for name in sources if not isinstance(entries[name][0], bytes)
        )
        warn(
            "the target is CPython %s but no CPython %s was found here to compile with (tried: %s), so the zip "
            "has no bytecode: on Lambda every import compiles from source at every cold start, because /var/task "
            "is read-only (compiling all %d files took %.0f ms here). Install Python %s or pass --compile-python"
            % (
                python_version,
                python_version,
                ", ".join(tried) or "PATH, pyenv, uv",
                len(sources),
                cost,
                python_version,
            )
        )
        return
    if python_version != running:
        say("  the target is CPython %s and this is %s: compiling with %s" % (python_version, running, python))
    say("  compiling %d Python files for CPython %s ..." % (len(sources), python_version))
    step = time.monotonic()
    jobs, pycs, keys = [], {}, {}
    store = store or objects.Store()
    compiler = "%s %s -O%d" % (os.path.realpath(python), bytecode.cache_tag(python_version), optimize)
    for name in sources:
        pyc = bytecode.pyc_name(name, python_version)
        cfile = os.path.join(scratch, "pyc", *pyc.split("/"))
        pycs[pyc] = cfile
        source = entries[name][0]
        strip = _is_runtime(source)
        key = _pyc_key(store, source, root + "/" + name, compiler + (" stripped" if strip else ""))
        cached = store.get_pyc(key) if key else None
        if cached is not None:  # compiled by an earlier pack (shim.pack.objects)
            pycs[pyc] = cached
            continue
        jobs.append((source, cfile, root + "/" + name, strip))
        keys[cfile] = key
    try:
        failures = dict(bytecode.compile_all(jobs, python, optimize=optimize))
    except RuntimeError as exc:
        raise UsageError(str(exc).splitlines()[0] if str(exc) else "compiling failed") from None
    for source, cfile, _, _ in jobs:
        if keys[cfile] and source not in failures and os.path.isfile(cfile):
            with open(cfile, "rb") as handle:
                store.put_pyc(keys[cfile], handle.read())
    by_source = {entries[name][0]: name for name in sources}
    for source, message in sorted(failures.items()):
        warn(
            "%s does not compile for CPython %s, importing it will fail: %s"
            % (by_source.get(source, source), python_version, message)
        )
    for pyc, cfile in pycs.items():
        if isinstance(cfile, bytes) or os.path.isfile(cfile):
            entries[pyc] = (cfile, False)
            result.compiled += 1
    result.compiled_with = python
    say(
        "  compiled in %.1f s%s"
        % (time.monotonic() - step, " (%d of %d from the cache)" % (store.hits, len(sources)) if store.hits else "")
    )


def _is_runtime(source):
    """Whether this entry is one of the runtime's own modules (shim/runtime/, from this installation), whose
    bytecode leaves out what only type checkers read (shim.pack.bytecode._strip_annotations). Never the
    function's code, nor its dependencies: their annotations may be read at run time (pydantic, FastAPI)."""
    return isinstance(source, str) and os.path.realpath(source).startswith(_RUNTIME_DIR)


_RUNTIME_DIR = os.path.join(os.path.realpath(os.path.dirname(runtime.__file__)), "")


def _pyc_key(store, source, dfile, compiler):
    try:
        with open(source, "rb") as handle:
            return store.pyc_key(handle.read(), dfile, compiler)
    except (OSError, TypeError):
        return None
