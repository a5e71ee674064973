"""The dependency rows of `make bench`: packing and invoking a function whose requirements.txt holds
requests and pydantic, through the real CLI in subprocesses, from a folder outside the repository.

- first `shim pack`: an empty lambda-shim cache, the installer's download cache warm (target ≤ 2 s);
- `shim pack` again: a cache hit (target ≤ 0.5 s);
- `shim invoke`, second run: end to end, pack, unpack, cold start, the invoke (target ≤ 0.8 s);
- with the index unreachable (UV_INDEX_URL and PIP_INDEX_URL on a closed port), a cache hit
  still packs and invokes.

Runs alone (`python benchmarks/deps_rows.py`, --reps N, --json) or from bench.py. It needs the
package index once, to warm the download cache. --python and --code measure another checkout
(e.g. the code of main before the cache existed: --code /tmp/main-src).
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

UNREACHABLE = "http://127.0.0.1:9/simple"
UNREACHABLE_TIMEOUT = 60
HANDLER = (
    "import pydantic\nimport requests\n\n\nclass Order(pydantic.BaseModel):\n    id: int\n\n\n"
    "def Handle(event, context):\n"
    "    return {'order': Order(id=event.get('id', 1)).id, 'requests': requests.__version__}\n"
)
TARGETS = {
    "first shim pack, download cache warm (s)": 2.0,
    "shim pack, cache hit (s)": 0.5,
    "shim invoke, second run, end to end (s)": 0.8,
}


class Bench:
    def __init__(self, python, code, workdir):
        self.python, self.code, self.workdir = python, code, workdir
        self.function = os.path.join(workdir, "orders")
        os.makedirs(self.function)
        with open(os.path.join(self.function, "handler.py"), "w") as handle:
            handle.write(HANDLER)
        with open(os.path.join(self.function, "requirements.txt"), "w") as handle:
            handle.write("requests\npydantic\n")
        self.count = 0

    def shim(self, args, cache, extra_env=None, timeout=None):
        """(seconds, CompletedProcess) of one `shim ...` run with the lambda-shim cache in `cache`."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
        env["SHIM_CACHE_DIR"] = cache
        if self.code:
            env["PYTHONPATH"] = self.code
        env.update(extra_env or {})
        started = time.perf_counter()
        done = subprocess.run(
            [self.python, "-m", "shim.cli"] + args,
            cwd=self.workdir,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            universal_newlines=True,
            timeout=timeout,
        )
        return time.perf_counter() - started, done

    def output(self):
        self.count += 1
        return os.path.join(self.workdir, "out-%d.zip" % self.count)

    def fresh_cache(self):
        return tempfile.mkdtemp(prefix="cache-", dir=self.workdir)


def run(reps=5, summary=None, python=None, code=None):
    """{row: summary of the seconds (or the outcome)}; summary(list) -> dict (median, min, max)."""
    summary = summary or _summary
    workdir = tempfile.mkdtemp(prefix="shim-deps-bench-")
    bench = Bench(python or sys.executable, code, workdir)
    rows = {}
    try:
        seconds, done = bench.shim(["pack", bench.function, "-o", bench.output()], bench.fresh_cache())
        if done.returncode != 0:  # warms the download cache (and checks the index answers)
            print("deps rows skipped: the warm-up pack failed: %s" % _last(done), file=sys.stderr)
            return {
                "requests + pydantic (skipped: the package index did not answer)": {
                    "pack": "skipped",
                    "invoke": "skipped",
                }
            }
        first, hit, invoke = [], [], []
        for _ in range(reps):
            cache = bench.fresh_cache()
            first.append(_ok(bench.shim(["pack", bench.function, "-o", bench.output()], cache)))
            hit.append(_ok(bench.shim(["pack", bench.function, "-o", bench.output()], cache)))
        cache = bench.fresh_cache()
        _ok(bench.shim(["invoke", bench.function], cache))
        for _ in range(reps):
            invoke.append(_ok(bench.shim(["invoke", bench.function], cache)))
        if not code:  # the installers alone, with this checkout's commands
            rows.update(installers(bench, reps, summary))
        rows["first shim pack, download cache warm (s)"] = summary(first)
        rows["shim pack, cache hit (s)"] = summary(hit)
        rows["shim invoke, second run, end to end (s)"] = summary(invoke)
        # No index anywhere: the environment's on a closed port, pip's configuration files and
        # find-links (local mirrors on some machines) out of the way.
        away = {
            "UV_INDEX_URL": UNREACHABLE,
            "PIP_INDEX_URL": UNREACHABLE,
            "UV_DEFAULT_INDEX": UNREACHABLE,
            "PIP_CONFIG_FILE": os.devnull,
            "PIP_FIND_LINKS": "",
            "PIP_EXTRA_INDEX_URL": "",
            "UV_FIND_LINKS": "",
        }
        rows["index unreachable, cache hit: pack and invoke"] = {
            "pack": _outcome(bench, ["pack", bench.function, "-o", bench.output()], cache, away),
            "invoke": _outcome(bench, ["invoke", bench.function], cache, away),
        }
    finally:
        subprocess.run(["chmod", "-R", "u+w", workdir])
        shutil.rmtree(workdir, ignore_errors=True)
    return rows


def installers(bench, reps, summary):
    """The two installers alone, alternating, download caches warm: what `shim pack` runs for the requirements."""
    from shim.pack import pipinstall, uvinstall

    requirements = os.path.join(bench.function, "requirements.txt")
    uv = uvinstall.find_uv()
    commands = {
        "pip install --target, for Lambda's platform (s)": lambda target: pipinstall.pip_command(
            [requirements], target, "x86_64", "3.12"
        )
    }
    if uv:
        commands["uv pip install --target, for Lambda's platform (s)"] = lambda target: uvinstall.uv_command(
            uv, [requirements], target, "x86_64", "3.12", "2.34"
        )
    times = {name: [] for name in commands}
    for _ in range(reps):
        for name, command in commands.items():
            target = tempfile.mkdtemp(prefix="site-", dir=bench.workdir)
            started = time.perf_counter()
            done = subprocess.run(
                command(target), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, universal_newlines=True
            )
            if done.returncode != 0:
                raise RuntimeError("%s failed: %s" % (name, done.stderr[-1500:]))
            times[name].append(time.perf_counter() - started)
    return {name: summary(values) for name, values in times.items()}


def _outcome(bench, args, cache, env):
    try:
        seconds, done = bench.shim(args, cache, env, timeout=UNREACHABLE_TIMEOUT)
    except subprocess.TimeoutExpired:
        return "fails: still trying after %d s" % UNREACHABLE_TIMEOUT
    return "ok %.2f s" % seconds if done.returncode == 0 else "fails: " + _last(done)


def _ok(timed):
    seconds, done = timed
    if done.returncode != 0:
        raise RuntimeError("shim failed: %s" % done.stderr[-1500:])
    return seconds


def _last(done):
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    return (lines or ["exit status %d" % done.returncode])[-1][:200]


def _summary(values):
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def lines(rows):
    """Markdown table rows: | metric | value | target |."""
    out = []
    for name, values in rows.items():
        if "median" in values:
            target = TARGETS.get(name)
            verdict = (
                ""
                if target is None
                else (" (target ≤ %g: %s)" % (target, "met" if values["median"] <= target else "missed"))
            )
            out.append("| %s | %.2f (%.2f–%.2f)%s |" % (name, values["median"], values["min"], values["max"], verdict))
        else:
            out.append("| %s | pack %s; invoke %s |" % (name, values["pack"], values["invoke"]))
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--python", default=sys.executable, help="the interpreter that runs `-m shim.cli`")
    parser.add_argument("--code", default=None, help="a checkout to put on PYTHONPATH (another version's shim)")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = parser.parse_args()
    rows = run(args.reps, python=args.python, code=args.code)
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print("| metric (requests + pydantic) | median (min–max) over %d runs |\n|---|---|" % args.reps)
        print("\n".join(lines(rows)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
