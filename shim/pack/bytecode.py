"""Bytecode for the target interpreter: `__pycache__/*.cpython-XY.pyc` with unchecked hashes.

Lambda's task root is read-only, so a module without a matching .pyc is compiled
from source at every cold start and the result is thrown away. Unchecked-hash
pycs are used without even a stat of the source.

Only an interpreter of the target version can write its bytecode, so this file
is also the worker script that interpreter runs (stdlib only, Python 3.9 syntax):
it reads jobs as JSON on stdin and answers with JSON on stdout.

Reproducible bytes: co_filename is set to the path on Lambda (/var/task/... for
a function, /opt/... for a layer), not to wherever the sources sit during the pack (the import system replaces it
with the real path when loading, so tracebacks stay right anywhere); jobs go
to workers in fixed-size chunks whatever the CPU count, with a fixed hash seed.
"""

import glob
import json
import os
import re
import subprocess
import sys

TASK_ROOT = "/var/task"  # where Lambda extracts the function's zip
LAYER_ROOT = "/opt"  # where Lambda extracts layers
CHUNK = 200
PROBE = "import sys; print(sys.implementation.cache_tag)"


def cache_tag(python_version):
    return "cpython-" + python_version.replace(".", "")


def pyc_name(rel, python_version):
    """The entry name of the .pyc for source entry `rel` (a POSIX path ending in .py)."""
    directory, _, name = rel.rpartition("/")
    pyc = "__pycache__/%s.%s.pyc" % (name[:-3], cache_tag(python_version))
    return directory + "/" + pyc if directory else pyc


def probe(python):
    """The cache tag of interpreter `python` (e.g. 'cpython-312'), or None if it does not run."""
    try:
        done = subprocess.run(
            [python, "-S", "-c", PROBE], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=20
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.decode().strip() if done.returncode == 0 else None


def candidates(python_version):
    name = "python" + python_version
    if "%d.%d" % sys.version_info[:2] == python_version:
        yield sys.executable
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        if directory:
            yield os.path.join(directory, name)
    yield os.path.join("/var/lang/bin", name)  # inside a Lambda image
    home = os.path.expanduser("~")
    pyenv = os.environ.get("PYENV_ROOT") or os.path.join(home, ".pyenv")
    uv = os.path.join(home, ".local", "share", "uv", "python")
    for pattern in (
        os.path.join(pyenv, "versions", python_version + ".*", "bin", name),
        os.path.join(uv, "cpython-%s.*" % python_version, "bin", name),
    ):
        yield from _newest_first(glob.glob(pattern))


def _newest_first(paths):
    # Final releases before pre-releases and free-threaded builds ("3.13.0rc1", "3.13.0t").
    def key(path):
        install = os.path.basename(os.path.dirname(os.path.dirname(path)))
        match = re.search(r"3\.\d+\.(\d+)([a-z]*)", install)
        return (bool(match) and not match.group(2), int(match.group(1)) if match else -1)

    return sorted(paths, key=key, reverse=True)


def find_interpreter(python_version, explicit=None):
    """A CPython of python_version to compile with: (path or None, [paths tried that did not fit])."""
    from shim.pack.errors import UsageError

    wanted = cache_tag(python_version)
    if explicit:
        tag = probe(explicit)
        if tag != wanted:
            raise UsageError(
                "--compile-python %s is %s, not CPython %s" % (explicit, tag or "not runnable", python_version)
            )
        return explicit, []
    tried, seen = [], set()
    for path in candidates(python_version):
        if path in seen or not os.access(path, os.X_OK) or os.path.isdir(path):
            continue
        seen.add(path)
        if path == sys.executable and sys.implementation.cache_tag == wanted:
            return path, tried  # this interpreter: no need to run it to ask
        if probe(path) == wanted:
            return path, tried
        tried.append(path)
    return None, tried


def compile_all(jobs, python, workers=None, optimize=0):
    """Compile jobs [(source, pyc path, co_filename[, strip])] with interpreter `python`; [(source, error)].
    strip: leave the functions' annotations and `if TYPE_CHECKING:` blocks out (the runtime's own modules).
    optimize: 1 or 2 writes what `python -O`/`-OO` would (asserts, and docstrings too, left out) into the
    plain pyc names, which an unchecked-hash pyc is loaded from whatever the interpreter's flags."""
    from concurrent.futures import ThreadPoolExecutor

    jobs = sorted(jobs, key=lambda job: job[2])
    chunks = [jobs[i : i + CHUNK] for i in range(0, len(jobs), CHUNK)]
    if not chunks:
        return []
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["PYTHONHASHSEED"] = "0"  # frozenset constants are marshalled in hash order on older versions
    env["_SHIM_PYC_OPTIMIZE"] = str(int(optimize))
    command = [python, "-S", "-s", os.path.abspath(__file__)]

    def run(chunk):
        done = subprocess.run(
            command, input=json.dumps(chunk).encode(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
        )
        if done.returncode != 0:
            raise RuntimeError("compiling with %s failed: %s" % (python, done.stderr.decode(errors="replace")[-2000:]))
        return json.loads(done.stdout.decode())

    workers = workers or min(len(chunks), os.cpu_count() or 1)
    errors = []
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for answer in pool.map(run, chunks):
            errors.extend(tuple(error) for error in answer)
    return errors


def estimate_cold_compile_ms(sources):
    """What compiling these sources costs this interpreter (an estimate of the cost on Lambda without pycs)."""
    import time

    started = time.perf_counter()
    for path in sources:
        try:
            with open(path, "rb") as handle:
                compile(handle.read(), path, "exec", dont_inherit=True)
        except (SyntaxError, ValueError, OSError):
            pass
    return (time.perf_counter() - started) * 1000


def _strip_annotations(tree):
    """The runtime's own modules, as they run: without the functions' annotations and the `if TYPE_CHECKING:`
    blocks, which are there for type checkers only. Both are in the bytecode otherwise, and unmarshalled at
    every cold start (~0.5 M instructions for the runtime's). Line numbers are kept. Variable annotations stay
    (a class's define its fields)."""
    import ast

    def only_for_type_checkers(node):
        test = node.test
        return isinstance(node, ast.If) and (
            getattr(test, "id", None) == "TYPE_CHECKING" or getattr(test, "attr", None) == "TYPE_CHECKING"
        )

    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            node.returns = None
            args = node.args
            for arg in args.posonlyargs + args.args + args.kwonlyargs + [args.vararg, args.kwarg]:
                if arg is not None:
                    arg.annotation = None
        for field in ("body", "orelse", "finalbody"):
            body = getattr(node, field, None)
            if isinstance(body, list) and any(
                isinstance(child, ast.If) and only_for_type_checkers(child) for child in body
            ):
                kept = []
                for child in body:
                    kept.extend(
                        child.orelse if isinstance(child, ast.If) and only_for_type_checkers(child) else [child]
                    )
                setattr(node, field, kept or [ast.copy_location(ast.Pass(), body[0])])
    return tree


def _compile_stripped(source, cfile, dfile, optimize):
    """What py_compile writes (an unchecked-hash pyc), from the source with _strip_annotations applied."""
    import ast
    import importlib._bootstrap_external as external
    import importlib.util

    with open(source, "rb") as handle:
        data = handle.read()
    code = compile(_strip_annotations(ast.parse(data, dfile)), dfile, "exec", dont_inherit=True, optimize=optimize)
    os.makedirs(os.path.dirname(cfile), exist_ok=True)
    external._write_atomic(cfile, external._code_to_hash_pyc(code, importlib.util.source_hash(data), False), 0o644)


def _worker():
    import py_compile

    errors = []
    optimize = int(os.environ.get("_SHIM_PYC_OPTIMIZE") or 0)
    for source, cfile, dfile, *strip in json.load(sys.stdin):
        try:
            if strip and strip[0]:
                _compile_stripped(source, cfile, dfile, optimize)
            else:
                py_compile.compile(
                    source,
                    cfile=cfile,
                    dfile=dfile,
                    doraise=True,
                    optimize=optimize,
                    invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
                )
        except py_compile.PyCompileError as exc:
            errors.append([source, "%s: %s" % (exc.exc_type_name, exc.exc_value)])
        except (SyntaxError, ValueError) as exc:  # from _compile_stripped, as py_compile reports them
            errors.append([source, "%s: %s" % (type(exc).__name__, exc)])
    json.dump(errors, sys.stdout)


if __name__ == "__main__":
    _worker()
