"""`make demo`: the whole path in a few seconds, on this machine, without Docker.

Packs the function directory into a deployment zip, unpacks it read-only as
Lambda does, starts it through the real `bootstrap` against a local Runtime
API (a cold start), invokes it with a sample event, then once more warm, and
prints the results with Lambda's log lines.

    python -m shim.local.demo --function shim/local/templates/handlers --handler handler.Handle
"""

import argparse
import json
import os
import sys
import time

EXAMPLES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "templates", "handlers")

# A sample event for each example handler in handlers/; others get SAMPLE_EVENTS["handler"].
SAMPLE_EVENTS = {
    "handler": {"name": "Ada"},
    "api": {"httpMethod": "GET", "path": "/hello", "queryStringParameters": {"name": "Ada"}},
    "structured": {"order_id": "A-17", "items": [{"sku": "pen", "price": 2.5, "quantity": 4}]},
    "failing": {"quantity": 0},
    "stream": {"text": "Each word leaves the function as soon as it is yielded", "delay": 0.15},
    "http_stream": {
        "version": "2.0",
        "rawPath": "/",
        "rawQueryString": "name=Ada",
        "queryStringParameters": {"name": "Ada"},
        "requestContext": {"http": {"method": "GET", "path": "/"}},
    },
}


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m shim.local.demo", description=__doc__.split("\n")[0])
    parser.add_argument("--function", default=EXAMPLES, help="the function directory (default: the example handlers)")
    parser.add_argument("--handler", default="handler.Handle", help="MODULE.FUNCTION (default: handler.Handle)")
    parser.add_argument("--event", help="the event as JSON text (default: a sample for the example handlers)")
    args = parser.parse_args(argv)
    from shim.pack.errors import UsageError

    try:
        return demo(args.function, args.handler, args.event)
    except (UsageError, ValueError, OSError) as exc:
        print("demo: %s" % exc, file=sys.stderr)
        return 2


def demo(function_dir, handler, event_text=None):
    from shim.local.function import Function
    from shim.local.result import for_terminal
    from shim.local.taskroot import prepare

    try:
        event = (
            json.loads(event_text)
            if event_text
            else SAMPLE_EVENTS.get(handler.rpartition(".")[0].split("/")[-1], SAMPLE_EVENTS["handler"])
        )
    except ValueError as exc:
        raise ValueError("--event is not JSON: %s" % exc) from None
    from shim.local.durable_demo import is_durable

    if is_durable(function_dir, handler):  # e.g. make demo FUNCTION=shim/local/templates/durable
        from shim.local.durable_demo import demo as durable_demo

        return durable_demo(function_dir, handler, None if event_text is None else event, say)
    began = time.monotonic()
    task_root = prepare(function_dir, pack=True, handler=handler)
    try:
        packed = task_root.pack_result
        say(
            "1. packed %s/ into a deployment zip: %d files, %s zipped, %s unzipped (%.2f s)"
            % (
                function_dir.rstrip("/"),
                packed.files,
                _size(packed.zipped_bytes),
                _size(packed.unzipped_bytes),
                packed.seconds,
            )
        )
        for warning in packed.warnings:
            say("   warning: " + warning)
        say("2. unpacked it read-only (as Lambda's /var/task) and started its bootstrap:")
        say("   %s" % os.path.join(task_root.path, "bootstrap"))
        # INFO, so that the example's log line shows: like Lambda, the default level is WARNING.
        with Function(task_root.path, handler, env={"AWS_LAMBDA_LOG_LEVEL": "INFO"}) as fn:
            init_ms = fn.start()
            if init_ms is None:
                result = fn.invoke(event)
                say("   init failed:\n")
                _show(result, for_terminal)
                return 1
            say("   it is polling the local Runtime API: init took %.1f ms" % init_ms)
            say("3. invoked %s with %s:\n" % (handler, json.dumps(event)))
            cold = fn.invoke(event, on_stream=_ChunkShower())
            _show(cold, for_terminal)
            warm = fn.invoke(event)
            say("4. and once more, warm (same process, no init):\n")
            print(warm.report_line(), flush=True)
    finally:
        task_root.remove()
    say(
        "\nDone in %.1f s. Next: `.venv/bin/shim invoke %s --handler %s --event FILE`, `.venv/bin/shim serve %s`,"
        " `make test`." % (time.monotonic() - began, function_dir, handler, function_dir)
    )
    return 0 if cold.kind in ("response", "error") else 1


class _ChunkShower:
    """A streamed response's chunks, printed the moment each arrives, with when."""

    def __init__(self):
        self.started = None

    def __call__(self, event):
        kind, value = event
        if kind == "start":
            self.started = time.monotonic()
            say("   the function streams its response (%s); each chunk as it arrives:" % value)
            return
        text = value.decode("utf-8", "replace").replace("\0", "\\0")
        say("   +%5.0f ms  %s" % ((time.monotonic() - self.started) * 1000, json.dumps(text)))


def _show(result, for_terminal):
    if result.streamed:
        print()
    sys.stdout.write(for_terminal(result.transcript()))
    if result.streamed:
        print(
            "\nstreamed %d chunks, %d bytes, first byte after %s%s"
            % (
                len(result.chunks),
                len(result.body),
                "%.1f ms" % result.first_byte_ms if result.first_byte_ms is not None else "none (empty stream)",
                "" if result.ok else "; then it failed (%s): %s" % (result.error_type, json.dumps(result.error)),
            )
        )
        print(flush=True)
        return
    print("\n%s:" % ("result" if result.ok else "error (%s)" % result.error_type))
    print(json.dumps(result.payload, indent=2) if not isinstance(result.payload, str) else result.payload)
    print(flush=True)


def say(text):
    print(text, flush=True)


def _size(count):
    return "%.0f KB" % (count / 1024.0) if count < 1024 * 1024 else "%.1f MB" % (count / 1048576.0)


if __name__ == "__main__":
    sys.exit(main())
