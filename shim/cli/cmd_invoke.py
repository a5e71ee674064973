"""`shim invoke`: run one event through the real bootstrap, as Lambda would, and show what it logs.

    shim invoke handlers --handler handler.Handle --event event.json

The result payload (or the error object) goes to stdout; stderr gets Lambda's
log stream: the init's output, START, the function's logs, END and REPORT
(with Init Duration, as this is always a cold start). The exit status is 0 on
success, 1 when the function failed (error, init error, timeout, crash) and 2
for bad input.

The options that describe the function are shared with `shim serve`
(add_function_arguments / open_function).
"""
import json
import signal
import sys

from shim import UsageError


def configure(parser):
    add_function_arguments(parser)
    parser.add_argument("--event", metavar="FILE", help="the event, a JSON file, or - for stdin (default: {})")


def add_function_arguments(parser):
    parser.add_argument("function_dir", nargs="?", metavar="FUNCTION_DIR",
                        help="the function's directory (default: the current directory)")
    parser.add_argument("--zip", metavar="PATH", help="run a deployment zip instead of a directory")
    parser.add_argument("--handler", default="handler.Handle", help="MODULE.FUNCTION (default: handler.Handle)")
    parser.add_argument("--no-pack", action="store_true",
                        help="run the directory in place instead of packing it into a zip first")
    parser.add_argument("--refresh", action="store_true",
                        help="resolve and install the requirements again instead of taking them from the cache")
    parser.add_argument("--arch", default=None, choices=["x86_64", "arm64"],
                        help="the Lambda architecture the requirements are installed for (default: this machine's)")
    parser.add_argument("--python-version", default=None, metavar="3.N",
                        help="the Lambda CPython the requirements are installed for (default: this interpreter's)")
    parser.add_argument("--timeout", default="3", metavar="SECONDS", help="the function's timeout (default: 3)")
    parser.add_argument("--memory", default="128", metavar="MB", help="the memory size to report (default: 128)")
    parser.add_argument("--env", action="append", default=[], metavar="K=V",
                        help="an environment variable for the function (repeatable)")
    parser.add_argument("--max-concurrency", metavar="N",
                        help="Lambda Managed Instances: up to N invokes at once in one environment "
                             "(sets AWS_LAMBDA_MAX_CONCURRENCY)")
    parser.add_argument("--snapstart", action="store_true",
                        help="SnapStart: init and before-snapshot hooks once, then restore (after-restore hooks) "
                             "before the invokes")
    parser.add_argument("--with-boto3", action="store_true",
                        help="let the function import this environment's boto3 and botocore (and their "
                             "requirements), as Lambda's managed Python runtimes provide them; without it the "
                             "function sees only its own files and the standard library, as on provided.al2023")


def function_settings(args):
    """The Function keyword arguments from the shared options; UsageError on bad values."""
    timeout = _number("--timeout", args.timeout, float)
    if not 0 < timeout <= 900:
        raise UsageError("--timeout must be more than 0 and at most 900 seconds, got %s" % args.timeout)
    memory = _number("--memory", args.memory, int)
    if not 128 <= memory <= 10240:
        raise UsageError("--memory must be between 128 and 10240 MB, as in Lambda, got %s" % args.memory)
    env = {}
    for item in args.env:
        key, sep, value = item.partition("=")
        if not sep or not key or any(c.isspace() for c in key):
            raise UsageError("--env takes KEY=VALUE, got %r" % item)
        env[key] = value
    settings = {"handler": args.handler, "timeout_s": timeout, "memory_mb": memory, "env": env}
    if args.with_boto3:
        from shim.local import sandbox
        sandbox.closure(sandbox.BOTO3)  # not installed: one line now, not a failed init later
        settings["runtime_packages"] = sandbox.BOTO3
    if args.max_concurrency is not None:
        settings["max_concurrency"] = _number("--max-concurrency", args.max_concurrency, int)
        if not 1 <= settings["max_concurrency"] <= MAX_CONCURRENCY:
            raise UsageError("--max-concurrency must be between 1 and %d, got %s" % (MAX_CONCURRENCY, args.max_concurrency))
    if args.snapstart:
        if args.max_concurrency is not None:
            raise UsageError("--snapstart and --max-concurrency do not combine: Lambda offers SnapStart for "
                             "on-demand functions, not on Managed Instances")
        settings["snapstart"] = True
    return settings


MAX_CONCURRENCY = 64  # worker processes on this machine; Lambda's default is 16 per vCPU for Python


def open_task_root(args):
    """The TaskRoot for the function the options point at (packed, unpacked or in place)."""
    from shim.local import function
    if args.zip and args.function_dir:
        raise UsageError("give a FUNCTION_DIR or --zip, not both")
    if args.zip and args.no_pack:
        raise UsageError("--no-pack is for a FUNCTION_DIR; a --zip is always unpacked")
    try:
        task_root = function.prepare(args.function_dir or ".", args.zip, pack=not args.no_pack, handler=args.handler,
                                     refresh=args.refresh, python_version=args.python_version, arch=args.arch)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    for warning in (task_root.pack_result.warnings if task_root.pack_result else []) + task_root.warnings:
        print("shim %s: warning: %s" % (getattr(args, "command", "invoke"), warning), file=sys.stderr)
    return task_root


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
    settings = function_settings(args)
    event = read_event(args.event)
    stop_on_signals()
    task_root = open_task_root(args)
    settings["env"] = dict(task_root.env, **settings["env"])  # e.g. the plugin manifest of a run in place
    fn = Function(task_root.path, echo=_echo, **settings)
    printer = ChunkPrinter(sys.stdout.buffer, _echo)
    try:
        result = fn.invoke(event, on_stream=printer, keep_stream=False)  # a stream is printed as it comes
        for line in [result.end_line(), result.report_line()] + result.platform_lines():
            _echo("platform", line + "\n")
    finally:
        fn.close()
        task_root.remove()
        if fn.wants_sigterm:  # the function asked for SIGTERM (shim.on_shutdown, its own handler)
            for line in fn.shutdown_lines():
                _echo("platform", line)
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
            except function_url.PreludeError as exc:
                self.echo("platform", "shim invoke: the HTTP response prelude is unusable (%s); printing it raw\n" % exc)
                value, self.reader = self.reader.held, None
            else:
                if prelude is not None:
                    status, headers = function_url.response_head(prelude)
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
    if result.kind == "lost":     # "RequestId: <id> Error: Runtime exited with error: ..."
        return "%s: %s" % (result.error_type, message.split(" Error: ", 1)[-1])
    what = "init failed" if result.kind == "init_error" else "the function failed"
    return "%s: %s%s%s" % (what, result.error_type or "", ": " if message else "", message)


def _echo(stream, text):
    # The runtime's stdout and stderr and our own lines all belong to the log stream.
    from shim.local.function import for_terminal
    sys.stderr.write(for_terminal(text))
    sys.stderr.flush()


def _number(option, text, kind):
    try:
        return kind(text)
    except ValueError:
        raise UsageError("%s takes a number, got %r" % (option, text)) from None
