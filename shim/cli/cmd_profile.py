"""`shim profile`: where a function's cold start goes, from its real bootstrap.

    shim profile handlers --handler handler.Handle
    shim profile handlers --events events.json      # also: modules imported at init that no invoke used

Prints the phases (Python start, the runtime, the handler module's imports and own code, the
first invoke) and the heaviest imports, and writes an icicle chart as one self-contained
HTML file: to --output, or else to the user's cache directory, never into the function's
folder. See shim.local.profiler for how it is measured and docs/guides/profiling.md.
"""

import json
import os
import sys

from shim.pack.errors import UsageError
from shim.cli import cmd_invoke, options


def configure(parser):
    options.add_function_arguments(parser)
    parser.add_argument("--event", metavar="FILE", help="the first invoke's event, a JSON file (default: {})")
    parser.add_argument(
        "--events",
        metavar="FILE",
        help="events to run after a cold start (a JSON array of events, or one JSON event per "
        "line); lists the modules imported at init none of whose Python code ran in them",
    )
    parser.add_argument(
        "--runs",
        default="3",
        metavar="N",
        help="cold starts without profiling, to show what profiling adds (default: 3; 0 skips)",
    )
    parser.add_argument(
        "--output",
        "-o",
        metavar="FILE.html",
        help="where to write the chart (default: a file in the cache directory, printed)",
    )
    parser.add_argument("--json", metavar="FILE", help="also write the tree as JSON")


def main(args):
    from shim.local import flamechart, profile_run
    from shim.local.profiler import default_output

    if args.max_concurrency is not None or args.snapstart:
        raise UsageError("profile measures an on-demand cold start: --max-concurrency and --snapstart do not apply")
    config = options.function_config(args)
    event = cmd_invoke.read_event(args.event)
    events = read_events(args.events) if args.events else None
    if args.event is None and events:
        event = json.dumps(events[0]).encode()
    try:
        runs = int(args.runs)
    except ValueError:
        raise UsageError("--runs takes a number, got %r" % args.runs) from None
    if runs < 0:
        raise UsageError("--runs must be 0 or more")
    cmd_invoke.stop_on_signals()
    task_root = options.open_task_root(args, config, "profile")
    try:
        print(
            "shim profile: %d cold start%s without profiling (the first to warm up), then one with it%s ..."
            % (runs + 1, "" if runs == 0 else "s", ", then one running %d events" % len(events) if events else ""),
            file=sys.stderr,
            flush=True,
        )
        profile, unused = profile_run.run(task_root, config, event, events, runs)
    finally:
        task_root.remove()
    print(profile.summary())
    if unused is not None:
        print(profile_run.render_unused(unused))
    output = args.output or default_output(args.zip or config.path or ".", config.handler)
    notes = [
        "%s, %s"
        % (
            os.path.abspath(args.zip or config.path or "."),
            "run in place" if args.no_pack else "packed and unpacked read-only, as Lambda runs it",
        )
    ]
    findings = profile_run.render_unused(unused, limit=25) if unused is not None else ""
    page = flamechart.render(profile, notes=notes, findings=findings)
    os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
    with open(output, "w", encoding="utf-8") as handle:
        handle.write(page)
    print("chart: %s" % output)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(dict(profile.as_dict(), unused=[u.__dict__ for u in unused or []]), handle, indent=1)
    return 0


def read_events(path):
    """A JSON array of events, or one JSON event per line."""
    try:
        with open(path, "rb") as handle:
            text = handle.read().decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError("cannot read the events %s: %s" % (path, getattr(exc, "strerror", None) or exc)) from None
    try:
        data = json.loads(text)
        events = data if isinstance(data, list) else [data]
    except ValueError:
        try:
            events = [json.loads(line) for line in text.splitlines() if line.strip()]
        except ValueError as exc:
            raise UsageError("the events %s are neither a JSON array nor JSON lines: %s" % (path, exc)) from None
    if not events:
        raise UsageError("the events file %s holds no event" % path)
    return events
