"""`shim serve`: Lambda's Invoke endpoint on 127.0.0.1, in front of N execution environments.

    shim serve handlers --port 9000 --concurrency 2
    curl -d '{"name": "Ada"}' http://127.0.0.1:9000/2015-03-31/functions/function/invocations

The path is the AWS emulator's (any function name is accepted in it, as in the
Invoke API's own path). Unlike the emulator, a failed invoke is marked as the
real Invoke API marks it: HTTP 200 with the error object as the body and
`X-Amz-Function-Error: Unhandled`. The HTTP side is shim.frontend.

Each environment is one runtime process (see shim.function.Function). A
request takes an idle one, waiting if all are busy, and gives it back when it
is done; one that timed out or died is replaced by the next request that takes
it, with a cold start, as Lambda does. So a slow or crashed environment only
ever holds up its own request. Ctrl-C or SIGTERM stops every runtime before exiting.
"""
import errno
import json
import signal
import sys
import threading

from shim import UsageError
from shim.cli.cmd_invoke import add_function_arguments, function_settings, open_task_root, stop_on_signals


def configure(parser):
    add_function_arguments(parser)
    parser.add_argument("--port", default="9000", help="the port on 127.0.0.1 (default: 9000; 0 picks a free one)")
    parser.add_argument("--concurrency", default="1", metavar="N",
                        help="how many execution environments (runtime processes) to run (default: 1)")
    parser.add_argument("--function-url", action="store_true",
                        help="also serve every other path and method as the function's Function URL "
                             "(payload 2.0 events; a streamed HTTP response streams)")
    from shim.cli.cmd_durable import add_serve_options
    add_serve_options(parser)
    parser.add_argument("--tenant-isolation", action="store_true",
                        help="Lambda's tenant isolation mode: every invoke needs X-Amz-Tenant-Id, and runs in "
                             "environments of its tenant only (--concurrency of them per tenant, started on the "
                             "tenant's first invoke)")


def main(args):
    from shim.local.invoke_api import Pool, Server
    from shim.local.function import Function
    settings = function_settings(args)
    port = _number("--port", args.port)
    if not 0 <= port <= 65535:
        raise UsageError("--port must be between 0 and 65535, got %s" % args.port)
    concurrency = _number("--concurrency", args.concurrency)
    if not 1 <= concurrency <= 64:
        raise UsageError("--concurrency must be between 1 and 64, got %s" % args.concurrency)
    stop_on_signals()
    log = _Log()
    try:
        server = Server(port, None, log, function_url=args.function_url)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise UsageError("port %d on 127.0.0.1 is in use (pick another with --port, or 0 for any free one)"
                             % port) from None
        raise UsageError("cannot listen on 127.0.0.1:%d: %s" % (port, exc.strerror or exc)) from None
    task_root = None
    pool = None
    try:
        task_root = open_task_root(args)
        settings["env"] = dict(task_root.env, **settings["env"])  # e.g. the plugin manifest of a run in place
        if getattr(args, "durable", False):
            from shim.cli.cmd_durable import serve_durable
            serve_durable(args, server, task_root, settings, log)
        if getattr(args, "tenant_isolation", False):
            from shim.local.tenancy import TenantPool
            if args.function_url:
                raise UsageError("--tenant-isolation and --function-url do not combine: Lambda offers no Function "
                                 "URLs for functions with tenant isolation")
            pool = TenantPool(lambda: Function(task_root.path, function_name="function", **settings), concurrency)
        else:
            pool = Pool(Function(task_root.path, function_name="function", **settings) for _ in range(concurrency))
        server.pool = pool
        pool.start()
        for fn in pool.functions:
            if fn.init_failure is not None:
                log("shim serve: init failed (every invoke retries it): %s\n" % _one_line(fn.init_failure))
                break
        url = "http://127.0.0.1:%d/2015-03-31/functions/function/invocations" % server.server_address[1]
        per = settings.get("max_concurrency")
        log("shim serve: listening on %s (%d environment%s%s; runtime pids %s); Ctrl-C stops\n" % (
            url, concurrency, "" if concurrency == 1 else "s", ", %d invokes at once in each" % per if per else "",
            " ".join(str(fn.pid) for fn in pool.functions)))
        if getattr(args, "tenant_isolation", False):
            log("shim serve: tenant isolation: each tenant's invokes run in environments of its own (%d per "
                "tenant), started on its first invoke\n" % concurrency)
        if args.function_url:
            log("shim serve: Function URL on http://127.0.0.1:%d/ (any other path)\n" % server.server_address[1])
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        # A second Ctrl-C must not cut the clean-up short and leave runtimes behind.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        server.server_close()
        if server.durable is not None:
            server.durable.close()
        if pool is not None:
            pool.close()
            for fn in pool.functions:  # what each runtime said on its way out, as Lambda logs it
                log("".join(fn.shutdown_lines()))
            if not all(fn.wants_sigterm for fn in pool.functions):
                log("shim serve: no extension was registered: on Lambda these environments would get SIGKILL, "
                    "not SIGTERM (a shim.on_shutdown callback registers one)\n")
        server.wait_idle(2.0)
        if task_root is not None:
            task_root.remove()
    log("shim serve: stopped\n")
    return 0


def _one_line(failure):
    body, error_type = failure
    try:
        message = json.loads(body).get("errorMessage", "")
    except (ValueError, AttributeError):
        message = ""
    return "%s: %s" % (error_type, (str(message).splitlines() or [""])[0])


class _Log:
    """stderr, one writer at a time, so concurrent invokes' transcripts never interleave."""

    def __init__(self):
        self._lock = threading.Lock()

    def __call__(self, text):
        from shim.local.function import for_terminal
        with self._lock:
            sys.stderr.write(for_terminal(text))
            sys.stderr.flush()


def _number(option, text):
    try:
        return int(text)
    except ValueError:
        raise UsageError("%s takes a whole number, got %r" % (option, text)) from None
