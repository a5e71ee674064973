"""`shim serve`: Lambda's Invoke endpoint on 127.0.0.1, in front of N execution environments.

    shim serve handlers --port 9000 --concurrency 2
    curl -d '{"name": "Ada"}' http://127.0.0.1:9000/2015-03-31/functions/function/invocations

The path is the AWS emulator's (any function name is accepted in it, as in the
Invoke API's own path). With no FUNCTION in a project (pyproject.toml with
[tool.lambda-shim]), every function of the project is served, each by its name
(an unknown name gets the Invoke API's 404), and each with function_url = true
on a URL prefix of its own, /<name>/ (see shim.local.routes). Unlike the emulator, a failed invoke is marked as the
real Invoke API marks it: HTTP 200 with the error object as the body and
`X-Amz-Function-Error: Unhandled`. The HTTP side is shim.local.invoke_api.

Each environment is one runtime process (see shim.local.function.Function). A
request takes an idle one, waiting if all are busy, and gives it back when it
is done; one that timed out or died is replaced by the next request that takes
it, with a cold start, as Lambda does. So a slow or crashed environment only
ever holds up its own request. Ctrl-C or SIGTERM stops every runtime before exiting.
"""

import errno
import signal
import sys
import threading

from shim.pack.errors import UsageError
from shim.local.result import one_line
from shim.cli.cmd_invoke import add_function_arguments, stop_on_signals
from shim.cli.options import function_config, open_task_root


def configure(parser):
    add_function_arguments(parser)
    parser.add_argument("--port", default="9000", help="the port on 127.0.0.1 (default: 9000; 0 picks a free one)")
    parser.add_argument(
        "--concurrency",
        default="1",
        metavar="N",
        help="how many execution environments (runtime processes) to run (default: 1)",
    )
    parser.add_argument(
        "--function-url",
        action="store_true",
        help="also serve every other path and method as the function's Function URL "
        "(payload 2.0 events; a streamed HTTP response streams); for a whole project, "
        "every function's, under /NAME/",
    )
    parser.add_argument(
        "--api",
        choices=("url", "rest"),
        help="serve every other path and method as an HTTP front: url (a Function URL, payload 2.0, "
        "as --function-url) or rest (an API Gateway REST API's Lambda proxy integration, "
        "payload 1.0)",
    )
    parser.add_argument(
        "--watch",
        action="store_true",
        help="redeploy on every edit of a function's directory: the next invoke is a cold start "
        "on the new code (needs watchfiles: pip install 'lambda-shim[tools]')",
    )
    from shim.cli.cmd_durable import add_serve_options

    add_serve_options(parser)
    parser.add_argument(
        "--tenant-isolation",
        action="store_true",
        help="Lambda's tenant isolation mode: every invoke needs X-Amz-Tenant-Id, and runs in "
        "environments of its tenant only (--concurrency of them per tenant, started on the "
        "tenant's first invoke)",
    )


def main(args):
    from shim.local.invoke_api import Server

    configs = _functions(args)
    port = _number("--port", args.port)
    if not 0 <= port <= 65535:
        raise UsageError("--port must be between 0 and 65535, got %s" % args.port)
    concurrency = _number("--concurrency", args.concurrency)
    if not 1 <= concurrency <= 64:
        raise UsageError("--concurrency must be between 1 and 64, got %s" % args.concurrency)
    if args.watch:  # a --zip cannot be watched, nor can it go on without watchfiles: say so before anything starts
        from shim.local import watch

        for config in configs if isinstance(configs, list) else [configs]:
            watch.watched_directory(args, config)
    stop_on_signals()
    log = _Log()
    single = not isinstance(configs, list)
    url = single and (args.function_url or configs.function_url or args.api is not None or configs.api == "rest")
    try:
        server = Server(port, None, log, function_url=url)
        server.api = args.api or (configs.api if single else "url")  # each pool's own `api` wins (_build)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise UsageError(
                "port %d on 127.0.0.1 is in use (pick another with --port, or 0 for any free one)" % port
            ) from None
        raise UsageError("cannot listen on 127.0.0.1:%d: %s" % (port, exc.strerror or exc)) from None
    task_roots = []
    pool = None
    watchers = []
    try:
        pool = (_pool if single else _routes)(configs, args, concurrency, task_roots, log, server)
        server.pool = pool
        pool.start()
        if args.watch:
            watchers = _watch(server, configs, args, concurrency, task_roots, log)
        failed = {}
        for fn in pool.functions:  # one line per function whose init failed
            if fn.init_failure is not None and fn.config.name not in failed:
                failed[fn.config.name] = True
                log(
                    "shim serve: %s: init failed (every invoke retries it): %s\n"
                    % (fn.config.name, one_line(fn.init_failure))
                )
        base = "http://127.0.0.1:%d" % server.server_address[1]
        functions = pool.functions
        per = configs.max_concurrency if single else None
        names = ["function"] if single else list(pool.pools)
        log(
            "shim serve: listening on %s (%d environment%s%s; runtime pids %s); Ctrl-C stops\n"
            % (
                ", ".join("%s/2015-03-31/functions/%s/invocations" % (base, name) for name in names),
                len(functions),
                "" if len(functions) == 1 else "s",
                ", %d invokes at once in each" % per if per else "",
                " ".join(str(fn.pid) for fn in functions),
            )
        )
        front = "API Gateway REST API (payload 1.0, stage local)" if server.api == "rest" else "Function URL"
        if server.function_url:
            log("shim serve: %s on %s/ (any other path)\n" % (front, base))
        for prefix in [] if single else pool.urls:
            log("shim serve: %s's %s on %s%s/\n" % (prefix[1:], front, base, prefix))
        for watcher in watchers:
            log("shim serve: watching %s: an edit redeploys (a cold start on the new code)\n" % watcher.paths[0])
        if getattr(args, "tenant_isolation", False):
            log(
                "shim serve: tenant isolation: each tenant's invokes run in environments of its own (%d per "
                "tenant), started on its first invoke\n" % concurrency
            )
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        # A second Ctrl-C must not cut the clean-up short and leave runtimes behind.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        server.server_close()
        for watcher in watchers:
            watcher.close()
            # The pools retired by redeploys are stopped; the served ones are closed below, and their code removed.
            task_roots.append(watcher.on_change.current()[1])
        if server.durable is not None:
            server.durable.close()
        if pool is not None:
            pool = server.pool
            pool.close()
            functions = pool.functions
            for fn in functions:  # what each runtime said on its way out, as Lambda logs it
                log("".join(fn.shutdown_lines()))
            if not all(fn.wants_sigterm for fn in functions):
                log(
                    "shim serve: no extension was registered: on Lambda these environments would get SIGKILL, "
                    "not SIGTERM (a shim.on_shutdown callback registers one)\n"
                )
        server.wait_idle(2.0)
        for task_root in task_roots:
            task_root.remove()
    log("shim serve: stopped\n")
    return 0


def _functions(args):
    """One FunctionConfig (a FUNCTION or --zip given, or no project here), or the project's, as a list."""
    from shim.local import project

    found = project.find_project(".") if args.function_dir is None and not args.zip else None
    if found is None:
        return function_config(args)
    if not found.functions:
        raise UsageError(
            "%s has no functions in [tool.lambda-shim.functions]: add one with `shim new DIR`" % found.file
        )
    if args.handler:
        raise UsageError("--handler names one function's handler: give its name too (shim serve NAME --handler ...)")
    if getattr(args, "durable", False):
        if len(found.functions) > 1:
            raise UsageError("--durable serves one function: give its name (shim serve NAME --durable)")
        return function_config(args, next(iter(found.functions.values())))
    return [function_config(args, config) for config in found.functions.values()]


def _pool(config, args, concurrency, task_roots, log, server=None):
    task_root = open_task_root(args, config, "serve")
    task_roots.append(task_root)
    durable = None
    if getattr(args, "durable", False):  # one function (checked in _functions): Invoke starts an execution
        from shim.cli.cmd_durable import serve_durable

        durable = serve_durable(args, server, task_root, config, log)
    return _build(config, task_root, concurrency, log, args.api, durable, getattr(args, "tenant_isolation", False))


def _build(config, task_root, concurrency, log, api=None, durable=None, tenant_isolation=False):
    """A Pool of `concurrency` environments of the function at task_root, not started; `api` is the HTTP
    front its Function URL paths get (--api, else the project file's `api`); durable: (variables, runtime
    packages) that point the function's boto3 at the local durable-execution API; tenant_isolation:
    environments per tenant (shim.local.tenancy)."""
    from shim.local.function import Function
    from shim.local.invoke_api import Pool

    hinted = []

    def make():
        fn = Function(task_root, config=config, runtime_packages=durable[1] if durable else ())
        if durable:
            fn.env = dict(durable[0], **fn.env)  # the user's own variables win
        fn.observers.append(hint)
        return fn

    def hint(result):  # said once per function, beside the transcripts (the answers stay Lambda's)
        if not result.ok and not hinted:
            from shim.local import hints

            lines = hints.boto3_hint(result.error, config.with_boto3)
            if lines:
                hinted.append(True)
                log("".join("shim serve: %s: %s\n" % (config.name, line) for line in lines))

    if tenant_isolation:
        from shim.local.tenancy import TenantPool

        pool = TenantPool(make, concurrency)
    else:
        pool = Pool(make() for _ in range(concurrency))
    pool.api = api or config.api
    return pool


def _routes(configs, args, concurrency, task_roots, log, server=None):
    from shim.local.routes import Routes

    routes = Routes()
    for config in configs:
        pool = _pool(config, args, concurrency, task_roots, log)
        routes.add(
            config.name,
            pool,
            aliases=(config.lambda_name,),
            url=config.function_url or args.function_url or args.api is not None or config.api == "rest",
        )
    return routes


def _watch(server, configs, args, concurrency, task_roots, log):
    """--watch: a Watcher per function directory, each redeploying its function's pool on an edit."""
    from shim.local import watch

    watchers = []
    for index, config in enumerate(configs if isinstance(configs, list) else [configs]):
        target = server if not isinstance(configs, list) else server.pool.slot(config.name)
        current = task_roots[index]  # in the order the functions were prepared

        def prepare(config=config):
            return open_task_root(args, config, "serve")

        def build(task_root, config=config):
            return _build(config, task_root, concurrency, log, args.api, None, getattr(args, "tenant_isolation", False))

        redeploy = watch.Redeployer(target, current, prepare, build, log, root=config.path)
        watchers.append(watch.Watcher([config.path], redeploy))
    return watchers


class _Log:
    """stderr, one writer at a time, so concurrent invokes' transcripts never interleave."""

    def __init__(self):
        self._lock = threading.Lock()

    def __call__(self, text):
        from shim.local.result import for_terminal

        with self._lock:
            sys.stderr.write(for_terminal(text))
            sys.stderr.flush()


def _number(option, text):
    try:
        return int(text)
    except ValueError:
        raise UsageError("%s takes a whole number, got %r" % (option, text)) from None
