"""`make bench`'s durable row: a 3-step execution with a one-hour wait (shim/local/templates/durable), time-skipped.

Each run is a new execution through the real bootstrap under the local durable service
(shim.local.durable_runner), in a fresh execution environment (its cold start included): the wall
time from start to end, and how many invocations it took. Needs Python >= 3.11 and the durable SDK;
without them it gives no row.
"""

import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EVENT = {"order_id": "A-17", "items": [{"sku": "pen", "price": 2.5, "quantity": 4}]}


def run(reps, summary):
    """{row name: summary of the wall times in ms}; {} where durable executions cannot run."""
    try:
        from shim.local.durable_runner import DurableFunction
        from shim.local import durable_service

        durable_service.require()
    except Exception as exc:  # noqa: BLE001 - no row, and why
        print("durable row skipped: %s" % exc, file=sys.stderr)
        return {}
    times, invocations = [], set()
    for _ in range(reps):
        fn = DurableFunction(
            os.path.join(ROOT, "shim", "local", "templates", "durable"), "handler.Handle", timeout_s=30
        )
        try:
            started = time.perf_counter()
            result = fn.run(EVENT, timeout=120)
            times.append((time.perf_counter() - started) * 1000)
        finally:
            fn.close()
        if result.status != "SUCCEEDED" or result.skipped_s < 3600 - 10:
            raise RuntimeError("the durable benchmark execution ended %s: %r" % (result.status, result.error))
        invocations.add(len(result.invocations))
    name = "durable: 3 steps and a 1-hour wait, time-skipped, cold (ms; %s invocations)" % "/".join(
        str(n) for n in sorted(invocations)
    )
    return {name: summary(times)}


if __name__ == "__main__":
    from statistics import median

    rows = run(
        int(sys.argv[1]) if len(sys.argv) > 1 else 3,
        lambda values: {"median": median(values), "min": min(values), "max": max(values)},
    )
    for row_name, values in rows.items():
        print("%s: %.0f (%.0f-%.0f)" % (row_name, values["median"], values["min"], values["max"]))
