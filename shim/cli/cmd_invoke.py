"""`shim invoke`: run one event through the real bootstrap, as Lambda would, and show what it logs.

    shim invoke orders --event event.json           # a function of the project file, by name
    shim invoke handlers --handler handler.Handle   # a directory

The result payload (or the error object) goes to stdout; stderr gets Lambda's
log stream: the init's output, START, the function's logs, END and REPORT
(with Init Duration, as this is always a cold start). The exit status is 0 on
success, 1 when the function failed (error, init error, timeout, crash) and 2
for bad input.

The options that describe the function are shared with `shim serve`
(shim.cli.options: a function's name from the project file or a directory,
then flags over the file's settings).
"""

import json
import signal
import sys

from shim.pack.errors import UsageError
from shim.cli.options import (
    add_function_arguments,
    function_config,
    open_task_root,  # noqa: F401 - shared
    MAX_CONCURRENCY,  # noqa: F401 - shared
)


def configure(parser):
    add_function_arguments(parser)
    parser.add_argument("--event", metavar="FILE", help="the event, a JSON file, or - for stdin (default: {})")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="break the cold start down (see `shim profile`): a summary on stderr, a chart in the cache",
    )
    parser.add_argument(
        "--watch",
        action="store_true",
        help="invoke again after every edit of the function's directory, each time a cold start on "
        "the new code (needs watchfiles: pip install 'lambda-shim[tools]')",
    )
    parser.add_argument(
        "--debug-port",
        metavar="N",
        type=int,
        help="start the function under debugpy, listening on 127.0.0.1:N, and wait for an editor to "
        "attach before its module is imported (timeouts are not enforced then)",
    )
    parser.add_argument(
        "--event-type",
        metavar="TYPE",
        help="use `shim event TYPE`'s sample as the event (e.g. sqs, apigw-http; shim event --list)",
    )
    parser.add_argument("--tenant-id", metavar="ID", help="the invoke's tenant (X-Amz-Tenant-Id): context.tenant_id")
    from shim.cli.cmd_durable import add_invoke_options

    add_invoke_options(parser)


def read_event(source):
    if source is None:
        return b"{}"
    try:
        if source == "-":
            data = sys.stdin.buffer.read()
        else:
            with open(source, "rb") as f:
                data = f.read()
    except OSError as exc:
        raise UsageError("cannot read the event %s: %s" % (source, exc.strerror or exc)) from None
    try:
        json.loads(data.decode("utf-8"))
    except ValueError as exc:
        raise UsageError("the event %s is not JSON: %s" % ("on stdin" if source == "-" else source, exc)) from None
    return data


def sample_event(args):
    if args.event is not None:
        raise UsageError("give --event or --event-type, not both")
    from shim.cli.cmd_event import sample

    return json.dumps(sample(args.event_type)).encode("utf-8")


def stop_on_signals():
    """Ctrl-C and SIGTERM raise KeyboardInterrupt, so the runtimes are stopped on the way out.

    Explicitly for SIGINT too: a shell starts background jobs with it ignored.
    """

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)


def main(args):
    from shim.local.function import Function

    if getattr(args, "watch", False):
        from shim.local.watch import rerun

        return rerun(args, main)
    config = function_config(args)
    if getattr(args, "durable", False):
        from shim.local.durable_service import require

        require()  # before packing: one line if this Python or environment cannot run it
    from shim.local import debugging  # breakpoint() reaches pdb with our stdin; --debug-port: debugpy

    debugging.check(getattr(args, "debug_port", None), config.max_concurrency)
    event = read_event(args.event) if not getattr(args, "event_type", None) else sample_event(args)
    stop_on_signals()
    task_root = open_task_root(args, config)
    if getattr(args, "durable", False):
        from shim.cli.cmd_durable import invoke_durable

        return invoke_durable(args, task_root, config, event, _echo)
    try:
        fn = Function(task_root, config=config, echo=_echo)
    except BaseException:
        task_root.remove()
        raise
    if getattr(args, "profile", False):  # shim.local.profiler: the import timer's lines stay out of the logs
        from shim.local.profiler import Session

        session = Session()
        fn.env = session.environment(fn.env)
        session.attach(fn)
    else:
        session = None
    # pdb gets our stdin (not while profiling: its output is passed on raw, past the profiler's filter).
    debug = debugging.Session(
        fn,
        _echo,
        stdin=session is None and debugging.stdin_usable(args.event),
        debug_port=getattr(args, "debug_port", None),
        editor_root=config.path or ".",
    )
    printer = ChunkPrinter(sys.stdout.buffer, _echo)
    try:
        tenant = {"tenant_id": args.tenant_id} if getattr(args, "tenant_id", None) else {}
        result = fn.invoke(event, on_stream=printer, keep_stream=False, **tenant)  # a stream is printed as it comes
        for line in [result.end_line(), result.report_line()] + result.platform_lines():
            debug.platform(line + "\n")
    finally:
        debug.close()
        fn.close()
        task_root.remove()
        if fn.wants_sigterm:  # the function asked for SIGTERM (shim.on_shutdown, its own handler)
            for line in fn.shutdown_lines():
                _echo("platform", line)
        if session is not None:
            session.report(sys.stderr, args.zip or args.function_dir or ".")
            session.close()
    if not result.streamed:
        sys.stdout.buffer.write(result.body + b"\n")
    elif printer.needs_newline:
        sys.stdout.buffer.write(b"\n")
    if result.streamed and not result.ok:  # the stream broke off: the error object after what came
        sys.stdout.buffer.write(json.dumps(result.error).encode("utf-8") + b"\n")
    sys.stdout.flush()
    if result.ok:
        return 0
    print("shim invoke: %s" % summary(result), file=sys.stderr)
    from shim.local import hints

    for line in hints.boto3_hint(result.error, config.with_boto3):
        print("shim invoke: %s" % line, file=sys.stderr)
    return 1


class ChunkPrinter:
    """A streamed response to stdout as each chunk arrives; an HTTP response's prelude (status,
    headers, cookies) to stderr as one line, so stdout holds the body alone."""

    def __init__(self, out, echo):
        self.out, self.echo = out, echo
        self.reader = None
        self.needs_newline = False

    def __call__(self, event):
        from shim.local import function_url
        from shim.runtime import protocol

        kind, value = event
        if kind == "start":
            if value == protocol.HTTP_INTEGRATION_RESPONSE:
                self.reader = function_url.PreludeReader()
            return
        if self.reader is not None and not self.reader.complete:
            try:
                prelude, value = self.reader.feed(value)
                head = function_url.response_head(prelude) if prelude is not None else None
            except function_url.PreludeError as exc:
                self.echo(
                    "platform", "shim invoke: the HTTP response prelude is unusable (%s); printing it raw\n" % exc
                )
                if not self.reader.complete:  # else the prelude was whole, and value is the body after it
                    value = self.reader.held
                self.reader = None
            else:
                if head is not None:
                    status, headers = head
                    self.echo("platform", "HTTP %d %s\n" % (status, " ".join("%s: %s;" % h for h in headers)))
        if value:
            self.out.write(value)
            self.out.flush()
            self.needs_newline = not value.endswith(b"\n")


def summary(result):
    """One line on why an invoke failed."""
    error = result.error if isinstance(result.error, dict) else {}
    message = (str(error.get("errorMessage") or "").splitlines() or [""])[0]
    if result.kind == "timeout":  # "<date> <request id> Task timed out after N.NN seconds"
        return message.split(" ", 2)[-1]
    if result.kind == "lost":  # "RequestId: <id> Error: Runtime exited with error: ..."
        return "%s: %s" % (result.error_type, message.split(" Error: ", 1)[-1])
    what = "init failed" if result.kind == "init_error" else "the function failed"
    return "%s: %s%s%s" % (what, result.error_type or "", ": " if message else "", message)


def _echo(stream, text):
    # The runtime's stdout and stderr and our own lines all belong to the log stream.
    from shim.local.result import for_terminal

    sys.stderr.write(for_terminal(text))
    sys.stderr.flush()
