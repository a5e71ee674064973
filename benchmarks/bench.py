"""`make bench`: lambda-shim against the official client, awslambdaric, in one run on one machine.

Both runtimes serve the same handlers (benchmarks/function/) from one base
interpreter, each in a clean venv of its own with no .pth start-up hook
(benchmarks/clean_venv.py), against the same small Runtime API (benchmarks/server.py), pinned
with the server to one core, alternating A B A B. Ours runs the real packed zip:
`shim pack`, unzipped into a read-only directory, started through its bootstrap.
awslambdaric runs `python -m awslambdaric` with the handlers precompiled, its best case.

The like-with-like cold start rows (instructions to the first /next, the dev .venv, the
ecosystem functions) are benchmarks/coldstart_rows.py's, the Managed Instances and SnapStart rows
platform_rows.py's (streaming_rows.py, deps_rows.py and durable_row.py have theirs). Beside it too:
prepared.py makes the runtimes compared, scenarios.py measures one run of one, results_table.py writes
the table.

Every response is checked; a wrong or missing one exits non-zero. Results: a
table on stdout, JSON in .bench/results.json, the README's Performance section, and
docs/performance.md's table with its charts in docs/img/ (benchmarks/perf_docs.py).
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

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)
sys.path.insert(0, HERE)
# Run as a script, this module is __main__: the modules beside it that `import bench` get this one (and the
# interpreters run() sets), not a second copy of it.
sys.modules.setdefault("bench", sys.modules[__name__])

from scenarios import cold, payload, soak, warm  # noqa: E402
from server import BenchAPI, BenchmarkError, ceiling  # noqa: E402

PYTHON = sys.executable  # run() puts the clean venvs' interpreters here (benchmarks/clean_venv.py)
THEIRS_PYTHON = sys.executable
DEV_PYTHON = sys.executable  # this repo's .venv: measured in rows of its own, for comparison
OURS, THEIRS = "lambda-shim", "awslambdaric"
OURS_ORJSON = "lambda-shim, SHIM_JSON=orjson"
OURS_EMPTY_MANIFEST = "lambda-shim, empty plugin manifest"
OURS_ONE_PLUGIN = "lambda-shim, one no-op plugin"
OURS_NO_WARNING = "lambda-shim, SHIM_TIMEOUT_WARNING_MS=0"  # the timeout warning's watcher thread not started
FLOOR = "bare loop"
BASE_ENV = {
    "PATH": "/usr/bin:/bin",
    "LANG": "C.UTF-8",
    "AWS_LAMBDA_FUNCTION_NAME": "bench",
    "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
    "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/bench",
    "AWS_LAMBDA_LOG_STREAM_NAME": "bench",
    "AWS_REGION": "us-east-1",
    "AWS_LAMBDA_LOG_FORMAT": "JSON",
    "AWS_LAMBDA_LOG_LEVEL": "INFO",
}


class Runtime:
    """How to start one of the two runtimes on a handler."""

    def __init__(self, name, task_root, command, env=None, python=None):
        self.name, self.task_root, self.command, self.env = name, task_root, command, env or {}
        self.python = python  # the interpreter ours runs on (SHIM_PYTHON); None: PYTHON

    def start(self, api, handler, stdout=subprocess.DEVNULL):
        env = dict(
            BASE_ENV,
            AWS_LAMBDA_RUNTIME_API=api.address,
            _HANDLER=handler,
            LAMBDA_TASK_ROOT=self.task_root,
            SHIM_PYTHON=self.python or PYTHON,
            **self.env,
        )
        if self.name.startswith(THEIRS):
            env["PYTHONPATH"] = self.task_root  # what the managed runtime's PYTHONPATH gives it
        api.reset(None)
        started = time.perf_counter()
        process = subprocess.Popen(
            self.command(handler),
            env=env,
            cwd=self.task_root,
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=subprocess.DEVNULL,
        )
        api.process = process
        return process, started


def bare_loop(*flags):
    """The floor: benchmarks/bare_loop.py, the least a runtime can do, with `python -I -S`."""
    return Runtime(FLOOR, HERE, lambda handler: [PYTHON, "-I", "-S", os.path.join(HERE, "bare_loop.py")] + list(flags))


def floor(flags, reps):
    times = []
    for _ in range(reps):
        started = time.perf_counter()
        subprocess.run([PYTHON] + flags + ["-c", "pass"], check=True)
        times.append((time.perf_counter() - started) * 1000)
    return times


# -- the run ----------------------------------------------------------------------------------


def alternate(runtimes, reps, scenario):
    """Run scenario(runtime) reps times per runtime, A B A B; {name: [result, ...]}."""
    results = {name: [] for name in runtimes}
    for _ in range(reps):
        for name, runtime in runtimes.items():
            results[name].append(scenario(runtime))
    return results


def summary(values):
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def run(quick, platform_only=False, cold_only=False, ecosystem=True):
    global PYTHON, THEIRS_PYTHON
    reps = 10 if quick else 20
    warm_count = 2000
    soak_count = 20000 if quick else 100000
    os.sched_setaffinity(0, {max(os.sched_getaffinity(0))})  # us, the server and both runtimes: one core
    report = {"reps": reps, "quick": quick}
    import clean_venv  # one base CPython; a venv each, with only what each runtime needs, no .pth hooks
    import platform_rows  # Managed Instances and SnapStart
    import prepared  # the runtimes compared, packed and unzipped

    pythons = clean_venv.prepare()
    PYTHON, THEIRS_PYTHON = pythons["shim"], pythons["awslambdaric"]
    report["interpreters"] = dict(
        pythons,
        base=clean_venv.base_interpreter(),
        dev=DEV_PYTHON,
        dev_startup_hooks=clean_venv.startup_hooks(DEV_PYTHON),
    )
    print(
        "Both runtimes on %s, each in a venv of its own with only what it needs and no .pth start-up hook "
        "(checked): %s" % (clean_venv.base_interpreter(), ", ".join("%s %s" % i for i in pythons.items()))
    )
    print("Runtime API server ceiling: ", end="", flush=True)
    report["server_ceiling_per_s"] = ceiling(5000 if quick else 20000)
    print("%.0f invokes/s (%.1f µs each)" % (report["server_ceiling_per_s"], 1e6 / report["server_ceiling_per_s"]))

    workdir = tempfile.mkdtemp(prefix="shim-bench-")
    api = BenchAPI()
    try:
        runtimes, fast = prepared.prepare(workdir, PYTHON, THEIRS_PYTHON)
        variants = {name: runtimes.pop(name) for name in (OURS_EMPTY_MANIFEST, OURS_ONE_PLUGIN)}
        metrics = {}
        report["metrics"] = metrics
        if platform_only:
            platform_rows.run(runtimes, quick, metrics, PYTHON)
            report["soak"], report["floors_ms"] = {}, {"python -I -c pass": summary(floor(["-I"], reps))}
            return report

        def collect(name, runs, field):
            for runtime_name, results in runs.items():
                metrics.setdefault(name, {})[runtime_name] = summary([r[field] for r in results])

        import coldstart_rows  # instructions and wall time to the first /next; the dev .venv; ecosystem functions

        small = (runtimes[OURS].task_root, runtimes[THEIRS].task_root)
        report["ecosystem_pins"] = coldstart_rows.run(metrics, api, pythons, DEV_PYTHON, workdir, small, ecosystem)
        if cold_only:
            report["soak"], report["floors_ms"] = {}, {"python -I -c pass": summary(floor(["-I"], reps))}
            return report

        print("cold start and first invoke, %d runs each ..." % reps, flush=True)
        runs = alternate(runtimes, reps, lambda rt: cold(rt, api))
        collect("cold start (ms)", runs, "cold_ms")
        collect(
            "peak RSS after init (MB)",
            {k: [dict(r, mb=r["init_rss_kb"] / 1024) for r in v] for k, v in runs.items()},
            "mb",
        )
        runs = alternate(runtimes, reps, lambda rt: cold(rt, api, "handler.log_one"))
        collect("cold start, handler imports logging (ms)", runs, "cold_ms")
        collect("first invoke, logs one line (ms)", runs, "first_ms")

        # Plugins: a zip without a manifest (every row above), with an empty one, with one no-op
        # plugin; alternated in the same runs so the three are measured alike.
        print("cold start with and without a plugin manifest, %d runs each ..." % reps, flush=True)
        runs = alternate(dict(runtimes, **variants), reps, lambda rt: cold(rt, api))
        for name, variant in (
            ("no plugin manifest", OURS),
            ("empty plugin manifest", OURS_EMPTY_MANIFEST),
            ("one no-op plugin", OURS_ONE_PLUGIN),
        ):
            collect("cold start, %s (ms)" % name, {OURS: runs[variant], THEIRS: runs[THEIRS]}, "cold_ms")

        warm_reps = 3 if quick else 5
        print("warm loop, %d invokes x %d runs, with the bare loop ..." % (warm_count, warm_reps), flush=True)
        # With the timeout warning off too, and the floor, in the same alternation (A B A' floor, ...): the
        # warning's cost is the difference, and each runtime's figure is divided by the floor's of the same
        # round (both saw the same machine at the same moment).
        ours = runtimes[OURS]
        no_warning = Runtime(OURS_NO_WARNING, ours.task_root, ours.command, {"SHIM_TIMEOUT_WARNING_MS": "0"})
        echo = {"n": 1}
        runs = alternate(
            dict(runtimes, **{OURS_NO_WARNING: no_warning, FLOOR: bare_loop()}),
            warm_reps,
            lambda rt: warm(rt, api, "trivial.echo", warm_count, echo),
        )
        floor_runs = runs.pop(FLOOR)
        off = {name: results for name, results in runs.items() if name != OURS}
        runs = {name: results for name, results in runs.items() if name != OURS_NO_WARNING}
        collect("warm per invoke, small echo (µs)", runs, "us_per_invoke")
        collect("warm per invoke, small echo, timeout warning off (µs)", off, "us_per_invoke")
        collect(
            "warm per invoke ÷ the bare loop's, same round (×)",
            {
                k: [{"x": r["us_per_invoke"] / f["us_per_invoke"]} for r, f in zip(v, floor_runs)]
                for k, v in runs.items()
            },
            "x",
        )
        collect("runtime's own CPU per invoke (µs)", runs, "cpu_us_per_invoke")
        collect("runtime's own CPU per invoke, timeout warning off (µs)", off, "cpu_us_per_invoke")
        collect(
            "runtime's own CPU per invoke ÷ the bare loop's, same round (×)",
            {
                k: [{"x": r["cpu_us_per_invoke"] / f["cpu_us_per_invoke"]} for r, f in zip(v, floor_runs)]
                for k, v in runs.items()
            },
            "x",
        )
        collect("invokes per second", runs, "invokes_per_s")
        collect(
            "peak RSS after %d invokes (MB)" % warm_count,
            {k: [{"mb": r["rss_kb"] / 1024} for r in v] for k, v in runs.items()},
            "mb",
        )
        runs = alternate(runtimes, warm_reps, lambda rt: warm(rt, api, "handler.log_one", warm_count))
        collect("warm per invoke, one log line (µs)", runs, "us_per_invoke")
        reference = Runtime(
            "http.client loop", HERE, lambda handler: [PYTHON, os.path.join(HERE, "httpclient_loop.py")]
        )
        unpipelined = [warm(bare_loop("--no-pipeline"), api, "-", warm_count, echo) for _ in range(warm_reps)]
        report["reference"] = {
            "the floor: bare raw-socket loop (`python -I -S`, pipelined), small echo, warm per invoke (µs)": summary(
                [r["us_per_invoke"] for r in floor_runs]
            ),
            "the floor: bare raw-socket loop, its own CPU per invoke (µs)": summary(
                [r["cpu_us_per_invoke"] for r in floor_runs]
            ),
            "bare raw-socket loop without pipelining, warm per invoke (µs)": summary(
                [r["us_per_invoke"] for r in unpipelined]
            ),
            "bare raw-socket loop without pipelining, its own CPU per invoke (µs)": summary(
                [r["cpu_us_per_invoke"] for r in unpipelined]
            ),
            "minimal http.client loop, warm per invoke (µs)": summary(
                [warm(reference, api, "-", warm_count)["us_per_invoke"] for _ in range(warm_reps)]
            ),
        }

        print("large payloads ...", flush=True)
        event = json.dumps({"data": ["x" * 1000] * 1000}).encode()
        runs = alternate(runtimes, warm_reps, lambda rt: payload(rt, api, "handler.echo", event, 20, json.loads(event)))
        collect("1 MB event echoed (ms)", runs, "ms_per_invoke")
        sys.path.insert(0, os.path.join(HERE, "function"))
        import big

        runs = alternate(runtimes, warm_reps, lambda rt: payload(rt, api, "big.Handle", b"{}", 10, big.ITEMS))
        collect("5 MB response (ms)", runs, "ms_per_invoke")
        # VmHWM: the handler's 50,000 objects (built at import, the same under both) plus the encoding's copies.
        collect(
            "peak RSS during the 5 MB response (MB)",
            {k: [{"mb": r["rss_kb"] / 1024} for r in v] for k, v in runs.items()},
            "mb",
        )
        if fast is not None:  # the opt-in accelerator: its 5 MB figure, and what it costs at cold start
            pair = {OURS_ORJSON: fast, THEIRS: runtimes[THEIRS]}
            runs = alternate(pair, warm_reps, lambda rt: payload(rt, api, "big.Handle", b"{}", 10, big.ITEMS))
            collect("5 MB response, SHIM_JSON=orjson (ms)", runs, "ms_per_invoke")
            runs = alternate(pair, reps, lambda rt: cold(rt, api))
            collect("cold start, SHIM_JSON=orjson (ms)", runs, "cold_ms")

        print("streaming ...", flush=True)
        import streaming_rows  # not `streaming`: that is the handlers' module in function/, on sys.path too

        report["streaming"] = streaming_rows.run(runtimes[OURS], api, reps, summary)
        import durable_row  # a durable execution: wall time and invocations (no row below Python 3.11)

        report.setdefault("reference", {}).update(durable_row.run(3 if quick else 5, summary))

        print("dependencies (requests + pydantic) ...", flush=True)
        import deps_rows

        report["deps"] = deps_rows.run(min(reps, 5), summary)

        print("soak, %d invokes ..." % soak_count, flush=True)
        report["soak"] = {name: soak(rt, api, soak_count, soak_count // 10) for name, rt in runtimes.items()}

        platform_rows.run(runtimes, quick, metrics, PYTHON)

        print("floors ...", flush=True)
        report["floors_ms"] = {
            "python -I -S -c pass": summary(floor(["-I", "-S"], reps)),
            "python -I -c pass": summary(floor(["-I"], reps)),
        }
        report["metrics"] = metrics
    finally:
        api.close()
        subprocess.run(["chmod", "-R", "u+w", workdir])
        shutil.rmtree(workdir, ignore_errors=True)
    return report


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions and a shorter soak (under a minute)")
    parser.add_argument("--no-readme", action="store_true", help="do not rewrite the README's Performance section")
    parser.add_argument(
        "--platform-only",
        action="store_true",
        help="only the Managed Instances and SnapStart rows (implies --no-readme)",
    )
    parser.add_argument(
        "--cold-only",
        action="store_true",
        help="only the like-with-like cold start rows (instructions, wall, dev .venv, ecosystem)",
    )
    parser.add_argument(
        "--no-ecosystem",
        action="store_true",
        help="leave out the ecosystem functions (their requirements come from PyPI)",
    )
    parser.add_argument("--no-docs", action="store_true", help="do not rewrite docs/performance.md and its charts")
    parser.add_argument("--output", default=os.path.join(ROOT, ".bench", "results.json"))
    args = parser.parse_args()
    args.no_readme = args.no_readme or args.platform_only or args.cold_only
    started = time.time()
    try:
        report = run(args.quick, args.platform_only, args.cold_only, not args.no_ecosystem)
    except BenchmarkError as exc:
        print("BENCHMARK FAILED: %s" % exc, file=sys.stderr)
        return 1
    import results_table

    report["machine"] = results_table.machine()
    report["seconds"] = time.time() - started
    os.makedirs(os.path.dirname(args.output), exist_ok=True)
    with open(args.output, "w") as f:
        json.dump(report, f, indent=2)
    text = results_table.table(report)
    m = report["machine"]
    header = (
        "Measured %s on %d cores (%s), Python %s, awslambdaric %s; medians with min–max over %d runs; "
        "runtimes and the API server pinned to one core; both runtimes on one base interpreter, each in a "
        "clean venv (no .pth start-up hooks). Command: `make bench%s`."
        % (
            m["date"],
            m["cores"],
            m["cpu"],
            m["python"],
            m["awslambdaric"],
            report["reps"],
            " BENCH_ARGS=" + " ".join(sys.argv[1:]) if sys.argv[1:] else "",
        )
    )
    print()
    print(header)
    print()
    print(text)
    print("\n(%.0f s; JSON in %s)" % (report["seconds"], args.output))
    if not args.no_readme and results_table.update_readme(header + "\n\n" + text):
        print("README.md Performance section updated.")
    if not args.no_docs and not args.platform_only:
        import perf_docs

        print(perf_docs.update(report, header, text))
    return 0


if __name__ == "__main__":
    sys.exit(main())
