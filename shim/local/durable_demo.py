"""`make demo FUNCTION=shim/local/templates/durable`: a durable function (@durable_execution), end to end.

Packs the directory, unpacks it read-only, then runs one execution through the real bootstrap under
the local durable service (shim.local.durable_runner): each invocation's Lambda lines, then the
operations the service checkpointed, the result and the summary (invocations, replays, time skipped).
"""

import json
import os
import time

from shim.local.function import for_terminal, prepare


def is_durable(function_dir, handler):
    """Is the handler's module a durable function's (it uses @durable_execution)?"""
    module = handler.rpartition(".")[0]
    try:
        with open(os.path.join(function_dir, *module.split(".")) + ".py", encoding="utf-8") as source:
            return "durable_execution" in source.read()
    except OSError:
        return False


def demo(function_dir, handler, event, say):
    """event None: the function directory's tests/event.json (what `shim new --template durable` writes), or {}."""
    from shim.local.durable_runner import DurableFunction

    if event is None:
        try:
            with open(os.path.join(function_dir, "tests", "event.json"), encoding="utf-8") as f:
                event = json.load(f)
        except (OSError, ValueError):
            event = {}
    began = time.monotonic()
    task_root = prepare(function_dir, pack=True, handler=handler)
    try:
        packed = task_root.pack_result
        say(
            "1. packed %s/ into a deployment zip (%d files) and unpacked it read-only"
            % (function_dir.rstrip("/"), packed.files)
        )
        say(
            "2. started a durable execution of %s with %s; each invocation as Lambda logs it:\n"
            % (handler, json.dumps(event))
        )

        def invoked(arn, result):
            print(for_terminal(result.transcript()), end="", flush=True)

        with DurableFunction(task_root.path, handler, timeout_s=30, on_invocation=invoked) as fn:
            result = fn.run(event, timeout=120)
    finally:
        task_root.remove()
    say("\n3. the checkpointed operations:")
    for op in result.operations:
        say(
            "   %-5s %-12s %s%s"
            % (
                op.operation_type.value,
                op.name,
                op.status.value,
                " -> %s" % op.result if getattr(op, "result", None) else "",
            )
        )
    say("\n%s\nresult: %s" % (result.summary(), json.dumps(result.result, indent=2)))
    say(
        "\nDone in %.1f s. Next: `.venv/bin/shim invoke %s --handler %s --durable --event FILE`."
        % (time.monotonic() - began, function_dir, handler)
    )
    return 0 if result.status == "SUCCEEDED" else 1
