"""`make bench`: lambda-shim against the official client, awslambdaric, in one run on one machine.

Both runtimes serve the same handlers (benchmarks/function/) from one base
interpreter, each in a clean venv of its own with no .pth start-up hook
(benchmarks/clean_venv.py), against the same small Runtime API (benchmarks/server.py), pinned
with the server to one core, alternating A B A B. Ours runs the real packed zip:
`shim pack`, unzipped into a read-only directory, started through its bootstrap.
awslambdaric runs `python -m awslambdaric` with the handlers precompiled, its best case.

The like-with-like cold start rows (instructions to the first /next, the dev .venv, the
ecosystem functions) are benchmarks/coldstart_rows.py's.

Every response is checked; a wrong or missing one exits non-zero. Results: a
table on stdout, JSON in .bench/results.json, the README's Performance section, and
docs/performance.md's table with its charts in docs/img/ (benchmarks/perf_docs.py).
"""

import argparse
import json
import os
import platform
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

from server import BenchAPI, BenchmarkError, ceiling, next_reply  # noqa: E402

PYTHON = sys.executable  # run() puts the clean venvs' interpreters here (benchmarks/clean_venv.py)
THEIRS_PYTHON = sys.executable
DEV_PYTHON = sys.executable  # this repo's .venv: measured in rows of its own, for comparison
OURS, THEIRS = "lambda-shim", "awslambdaric"
OURS_ORJSON = "lambda-shim, SHIM_JSON=orjson"
OURS_EMPTY_MANIFEST = "lambda-shim, empty plugin manifest"
OURS_ONE_PLUGIN = "lambda-shim, one no-op plugin"
# A plugin that does nothing, declared by a distribution vendored into the function as pip would install it.
NOOP_PLUGIN = {
    "bench_noop_plugin.py": "def init(handler, settings):\n    pass\n\n\n"
    "def wrap(handler):\n    def passed_through(event, context):\n"
    "        return handler(event, context)\n    return passed_through\n",
    "bench_noop_plugin-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: bench-noop-plugin\nVersion: 1.0\n",
    "bench_noop_plugin-1.0.dist-info/entry_points.txt": "[lambda_shim.plugins]\nnoop = bench_noop_plugin\n",
}
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


def prepare(workdir):
    """Pack the benchmark function for us; a precompiled copy of it for awslambdaric.
    And the same zip with orjson added, as a requirements.txt listing it would (copied from
    this environment: same machine, so the same wheel pip would pick, and no network)."""
    from shim.pack.packer import extract, pack
    from shim.pack.ziputil import make_read_only

    zip_path = os.path.join(workdir, "function.zip")
    pack(os.path.join(HERE, "function"), zip_path, handler="trivial.Handle", quiet=True)
    ours = os.path.join(workdir, "ours")
    extract(zip_path, ours, read_only=True)
    theirs = os.path.join(workdir, "theirs")
    shutil.copytree(os.path.join(HERE, "function"), theirs)
    subprocess.run([PYTHON, "-m", "compileall", "-q", theirs], check=True)
    runtimes = {
        OURS: Runtime(OURS, ours, lambda handler: [os.path.join(ours, "bootstrap")]),
        THEIRS: Runtime(THEIRS, theirs, lambda handler: [THEIRS_PYTHON, "-m", "awslambdaric", handler]),
    }
    runtimes.update(plugin_variants(workdir, zip_path))
    try:
        import orjson
    except ImportError:
        return runtimes, None
    with_orjson = os.path.join(workdir, "ours-orjson")
    extract(zip_path, with_orjson, read_only=False)
    shutil.copytree(os.path.dirname(orjson.__file__), os.path.join(with_orjson, "orjson"))
    make_read_only(with_orjson)
    return runtimes, Runtime(
        OURS_ORJSON, with_orjson, lambda handler: [os.path.join(with_orjson, "bootstrap")], {"SHIM_JSON": "orjson"}
    )


def plugin_variants(workdir, zip_path):
    """Ours with an empty plugin manifest (the zip, plus the file), and ours packed with one no-op plugin."""
    from shim.pack.packer import extract, pack
    from shim.pack.plugins import manifest
    from shim.pack.ziputil import make_read_only
    from shim.runtime.plugins import MANIFEST

    empty = os.path.join(workdir, "ours-empty-manifest")
    extract(zip_path, empty, read_only=False)
    with open(os.path.join(empty, MANIFEST), "wb") as handle:
        handle.write(manifest([]))
    make_read_only(empty)
    source = os.path.join(workdir, "function-with-plugin")
    shutil.copytree(os.path.join(HERE, "function"), source, ignore=shutil.ignore_patterns("__pycache__"))
    for rel, text in NOOP_PLUGIN.items():
        os.makedirs(os.path.dirname(os.path.join(source, rel)), exist_ok=True)
        with open(os.path.join(source, rel), "w") as handle:
            handle.write(text)
    plugin_zip = os.path.join(workdir, "function-with-plugin.zip")
    if [e.name for e in pack(source, plugin_zip, handler="trivial.Handle", quiet=True).plugins] != ["noop"]:
        raise BenchmarkError("pack did not find the no-op plugin")
    one = os.path.join(workdir, "ours-one-plugin")
    extract(plugin_zip, one, read_only=True)
    return {
        OURS_EMPTY_MANIFEST: Runtime(OURS_EMPTY_MANIFEST, empty, lambda handler: [os.path.join(empty, "bootstrap")]),
        OURS_ONE_PLUGIN: Runtime(OURS_ONE_PLUGIN, one, lambda handler: [os.path.join(one, "bootstrap")]),
    }


def python_pid(pid):
    """The Python process itself: our bootstrap supervises it as a child, awslambdaric's is the process."""
    try:
        if "python" in os.path.basename(os.readlink("/proc/%d/exe" % pid)):
            return pid
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            children = f.read().split()
        return int(children[0]) if children else pid
    except OSError:
        return pid


def cpu_ns(pid):
    """Time the runtime process itself spent on a CPU (/proc/PID/schedstat), in ns."""
    with open("/proc/%d/schedstat" % python_pid(pid)) as f:
        return int(f.read().split()[0])


def memory_kb(pid, field="VmHWM"):
    with open("/proc/%d/status" % python_pid(pid)) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise BenchmarkError("no %s for pid %d" % (field, pid))


def stop(process):
    # The runtime's pid is read while the launcher lives (a dead launcher lists no children), and
    # killed after it (else the launcher would report the kill as a crash). Left running, a runtime
    # would reconnect to the API (it asks again for an event when a connection closes) and take the
    # next run's first event.
    children = _children(process.pid)
    process.kill()
    for child in children:
        try:
            os.kill(child, 9)
        except OSError:
            pass
    process.wait()


def _children(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(c) for c in f.read().split()]
    except OSError:
        return []


def expect_json(value):
    def check(body):
        if json.loads(body) != value:
            raise BenchmarkError("wrong response: %r" % body[:300])

    return check


def same_as_first(expected_value):
    """Check the first body by value, then every later one byte for byte against it (cheap in a loop)."""
    first = []

    def check(body):
        if not first:
            expect_json(expected_value)(body)
            first.append(body)
        elif body != first[0]:
            raise BenchmarkError("response changed: %r" % body[:300])

    return check


# -- scenarios: each returns a dict of figures for one run of one runtime ----------------------


def cold(runtime, api, handler="trivial.Handle", event=b'{"n": 1}', check=None):
    process, started = runtime.start(api, handler)
    try:
        polled = api.expect_next()
        init_rss = memory_kb(process.pid)
        api.hand(next_reply(b"first", event))
        answered = api.expect_response(b"first", check or expect_json("ok"))
        return {"cold_ms": (polled - started) * 1000, "first_ms": (answered - polled) * 1000, "init_rss_kb": init_rss}
    finally:
        stop(process)
        api.drop()


def warm(runtime, api, handler, count, expected="ok"):
    process, started = runtime.start(api, handler)
    try:
        api.expect_next()
        template = next_reply(b"%s", b'{"n": 1}')  # formatting one id in is cheaper than building a reply
        cpu_before = cpu_ns(process.pid)
        elapsed = api.serve(count, lambda rid: template % rid, same_as_first(expected))
        cpu = cpu_ns(process.pid) - cpu_before
        return {
            "us_per_invoke": elapsed / count * 1e6,
            "invokes_per_s": count / elapsed,
            "cpu_us_per_invoke": cpu / count / 1000,
            "rss_kb": memory_kb(process.pid),
        }
    finally:
        stop(process)
        api.drop()


def payload(runtime, api, handler, event, count, expected):
    process, started = runtime.start(api, handler)
    try:
        api.expect_next()
        elapsed = api.serve(count, lambda rid: next_reply(rid, event), same_as_first(expected))
        return {"ms_per_invoke": elapsed / count * 1000, "rss_kb": memory_kb(process.pid)}
    finally:
        stop(process)
        api.drop()


def soak(runtime, api, count, every):
    process, started = runtime.start(api, "handler.log_one")
    try:
        api.expect_next()
        check = same_as_first("ok")
        samples = []
        done = 0
        while done < count:
            batch = min(every, count - done)
            api.serve(batch, lambda rid: next_reply(rid, b'{"n": 1}'), check)
            done += batch
            samples.append((done, memory_kb(process.pid, "VmRSS")))
            if done < count:
                api.expect_next()
        return {"rss_samples_kb": samples}
    finally:
        stop(process)
        api.drop()


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


def platform_rows(runtimes, quick, metrics, count=8):
    """Managed Instances (N workers, the async single process) and SnapStart's restore: rows of their own."""
    import platform_bench as pb

    reps = 3 if quick else 5
    api = pb.MultiAPI()
    try:

        def launcher(runtime):
            return lambda handler, env: pb.start_process(runtime, api, handler, env, BASE_ENV, PYTHON)

        def row(name, ours, theirs, field, ours_env, theirs_env=None, handler="pool.Handle", ours_handler=None):
            pair = {
                OURS: (runtimes[OURS], ours_env, ours_handler or handler),
                THEIRS: (runtimes[THEIRS], theirs_env or {}, handler),
            }
            results = {OURS: [], THEIRS: []}
            for _ in range(reps):
                for key, (runtime, env, which) in pair.items():
                    results[key].append((ours if key == OURS else theirs)(launcher(runtime), which, env))
            for key, values in results.items():
                metrics.setdefault(name, {})[key] = summary([v[field] for v in values])
            return results

        mi = {"AWS_LAMBDA_MAX_CONCURRENCY": str(count)}
        fork = dict(mi, SHIM_FORK_AFTER_INIT="1")
        aio = dict(mi, SHIM_ASYNC_CONCURRENCY="1")

        def start(launch, handler, env):
            return pb.pool_start(launch, api, handler, count, env)

        print("Managed Instances, %d workers, %d runs each ..." % (count, reps), flush=True)
        runs = row("MI %d workers: exec to all polling (ms)" % count, start, start, "ready_ms", mi, mi)
        for field, label in (
            ("cpu_ms", "CPU used until all poll (ms)"),
            ("rss_mb", "total RSS, all polling (MB)"),
            ("pss_mb", "total PSS, all polling (MB)"),
        ):
            for key in (OURS, THEIRS):
                metrics.setdefault("MI %d workers: %s" % (count, label), {})[key] = summary(
                    [r[field] for r in runs[key]]
                )
        runs = row(
            "MI %d workers, SHIM_FORK_AFTER_INIT=1: exec to all polling (ms)" % count,
            start,
            start,
            "ready_ms",
            fork,
            mi,
        )
        for field, label in (
            ("cpu_ms", "CPU used until all poll (ms)"),
            ("rss_mb", "total RSS (MB)"),
            ("pss_mb", "total PSS (MB)"),
        ):
            for key in (OURS, THEIRS):
                metrics.setdefault("MI %d workers, SHIM_FORK_AFTER_INIT=1: %s" % (count, label), {})[key] = summary(
                    [r[field] for r in runs[key]]
                )
        runs = row(
            "MI %d at once, SHIM_ASYNC_CONCURRENCY=1 (one process): exec to polling (ms)" % count,
            start,
            start,
            "ready_ms",
            aio,
            mi,
            ours_handler="pool.AsyncHandle",
        )
        for key in (OURS, THEIRS):
            metrics.setdefault("MI %d at once, SHIM_ASYNC_CONCURRENCY=1: total PSS (MB)" % count, {})[key] = summary(
                [r["pss_mb"] for r in runs[key]]
            )

        for wait_s, invokes in ((0.01, 400 if quick else 800), (0, 2000 if quick else 4000)):

            def throughput(launch, handler, env, wait_s=wait_s, invokes=invokes):
                return pb.pool_throughput(launch, api, handler, count, env, invokes, wait_s)

            what = "handler waits %d ms" % (wait_s * 1000) if wait_s else "handler returns at once"
            row("MI %d at once, %s: invokes/s" % (count, what), throughput, throughput, "per_s", mi, mi)
            row(
                "MI %d at once, %s, SHIM_ASYNC_CONCURRENCY=1: invokes/s" % (count, what),
                throughput,
                throughput,
                "per_s",
                aio,
                mi,
                ours_handler="pool.AsyncHandle",
            )

        print("SnapStart restore, %d runs each ..." % (reps * 2), flush=True)

        def restore(launch, handler, env):
            return pb.restore_to_next(launch, api, handler, env)

        reps, saved = reps * 2, reps
        row(
            "SnapStart: /restore/next answered to first /next (ms)",
            restore,
            restore,
            "restore_ms",
            {},
            {},
            handler="trivial.Handle",
        )
        reps = saved
    finally:
        api.close()


def run(quick, platform_only=False, cold_only=False, ecosystem=True):
    global PYTHON, THEIRS_PYTHON
    reps = 10 if quick else 20
    warm_count = 2000
    soak_count = 20000 if quick else 100000
    os.sched_setaffinity(0, {max(os.sched_getaffinity(0))})  # us, the server and both runtimes: one core
    report = {"reps": reps, "quick": quick}
    import clean_venv  # one base CPython; a venv each, with only what each runtime needs, no .pth hooks

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
        runtimes, fast = prepare(workdir)
        variants = {name: runtimes.pop(name) for name in (OURS_EMPTY_MANIFEST, OURS_ONE_PLUGIN)}
        metrics = {}
        report["metrics"] = metrics
        if platform_only:
            platform_rows(runtimes, quick, metrics)
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

        platform_rows(runtimes, quick, metrics)

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


def machine():
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    import awslambdaric

    return {
        "cores": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        "awslambdaric": getattr(awslambdaric, "__version__", "?"),
        "date": time.strftime("%Y-%m-%d"),
    }


def table(report):
    lines = ["| metric | lambda-shim | awslambdaric | ratio (us/them) |", "|---|---|---|---|"]
    floor = report["floors_ms"]["python -I -c pass"]["median"]
    for name, by_runtime in report["metrics"].items():
        ours = by_runtime.get(OURS) or next(v for k, v in by_runtime.items() if k != THEIRS)
        theirs = by_runtime[THEIRS]
        if name.startswith("cold start"):
            name += "; floor `python -I -c pass`: %.1f" % floor
        lines.append("| %s | %s | %s | %.2f× |" % (name, _cell(ours), _cell(theirs), ours["median"] / theirs["median"]))
    for name, (ours, baseline, theirs) in report.get("streaming", {}).items():
        lines.append(
            "| %s | %s | cannot stream; baseline, %s: %s | %.2f× |"
            % (name, _cell(ours), baseline, _cell(theirs), ours["median"] / theirs["median"])
        )
    for row in deps_rows_lines(report):
        lines.append(row)
    for name, values in report.get("reference", {}).items():
        lines.append("| reference: %s | %s | | |" % (name, _cell(values)))
    for name, runs in report["soak"].items():
        samples = runs["rss_samples_kb"]
        growth = (samples[-1][1] - samples[1][1]) / 1024 if len(samples) > 1 else 0.0
        lines.append(
            "| soak %d invokes: RSS growth after warm-up (%s) | %.2f MB | | |" % (samples[-1][0], name, growth)
        )
    for name, values in report["floors_ms"].items():
        lines.append("| floor: `%s` (ms) | %s | | |" % (name, _cell(values)))
    return "\n".join(lines)


def deps_rows_lines(report):
    import deps_rows

    return [row + " | |" for row in deps_rows.lines(report.get("deps", {}))]


def _cell(values):
    fmt = "%.0f" if values["median"] >= 1000 else "%.2f" if values["median"] < 10 else "%.1f"
    return (fmt + " (" + fmt + "–" + fmt + ")") % (values["median"], values["min"], values["max"])


def update_readme(text):
    """The full table, between the perf markers of docs/performance-history.md (the README links to the docs)."""
    path = os.path.join(ROOT, "docs", "performance-history.md")
    with open(path) as f:
        readme = f.read()
    start, end = "<!-- perf:start -->", "<!-- perf:end -->"
    if start not in readme or end not in readme:
        return False
    head, rest = readme.split(start, 1)
    _, tail = rest.split(end, 1)
    with open(path, "w") as f:
        f.write(head + start + "\n" + text + "\n" + end + tail)
    return True


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
    report["machine"] = machine()
    report["seconds"] = time.time() - started
    os.makedirs(os.path.dirname(args.output), exist_ok=True)
    with open(args.output, "w") as f:
        json.dump(report, f, indent=2)
    text = table(report)
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
    if not args.no_readme and update_readme(header + "\n\n" + text):
        print("README.md Performance section updated.")
    if not args.no_docs and not args.platform_only:
        import perf_docs

        print(perf_docs.update(report, header, text))
    return 0


if __name__ == "__main__":
    sys.exit(main())
