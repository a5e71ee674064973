"""`make bench`'s Managed Instances rows (N workers, after-init forks, the async single process: time until
all poll, CPU, RSS and PSS, invokes/s) and SnapStart's restore row, both runtimes alternated
(benchmarks/platform_bench.py runs them). `bench.py --platform-only` runs these rows alone."""

from bench import BASE_ENV, OURS, THEIRS, summary


def run(runtimes, quick, metrics, python, count=8):
    """Managed Instances (N workers, the async single process) and SnapStart's restore: rows of their own."""
    import platform_bench as pb

    reps = 3 if quick else 5
    api = pb.MultiAPI()
    try:

        def launcher(runtime):
            return lambda handler, env: pb.start_process(runtime, api, handler, env, BASE_ENV, python)

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
