"""`shim durable`: talk to a running local durable-execution service; and `shim invoke --durable`.

    shim durable callback CALLBACK_ID --result '{"approved": true}'   # SendDurableExecutionCallbackSuccess
    shim durable callback CALLBACK_ID --error-type Rejected --error-message "no"
    shim durable callback CALLBACK_ID --heartbeat
    shim durable list | get ARN | history ARN

Each sends one request of the Lambda durable-execution API to --endpoint (default
http://127.0.0.1:9000, `shim serve --durable`; `shim invoke --durable` prints its own) and
prints the JSON answer. Plain HTTP on 127.0.0.1: the local service checks no signature.

invoke_durable(args) is `shim invoke FN --durable`: run an execution to its end through the
real bootstrap (see shim.local.durable_service).
"""

import json
import sys
import urllib.error
import urllib.parse
import urllib.request

from shim.pack.errors import UsageError

DEFAULT_ENDPOINT = "http://127.0.0.1:9000"
API = "/2025-12-01"


def configure(parser):
    parser.add_argument(
        "--endpoint",
        default=DEFAULT_ENDPOINT,
        help="the local service (default: %s, shim serve --durable)" % DEFAULT_ENDPOINT,
    )
    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    sub.required = True
    callback = sub.add_parser("callback", help="answer a callback: success (--result), failure or heartbeat")
    callback.add_argument("callback_id", metavar="CALLBACK_ID")
    answer = callback.add_mutually_exclusive_group(required=True)
    answer.add_argument("--result", metavar="JSON", help="complete it with this result (JSON)")
    answer.add_argument("--error-type", metavar="TYPE", help="fail it with this error type")
    answer.add_argument("--heartbeat", action="store_true", help="send a heartbeat (keeps its heartbeat timeout)")
    callback.add_argument("--error-message", default="", metavar="TEXT", help="the failure's message")
    sub.add_parser("list", help="list the executions")
    for name, what in (("get", "an execution: status, input, result or error"), ("history", "an execution's events")):
        one = sub.add_parser(name, help=what)
        one.add_argument("arn", metavar="EXECUTION_ARN")


def add_invoke_options(parser):
    """`shim invoke`'s durable options."""
    parser.add_argument(
        "--durable",
        action="store_true",
        help="run a durable function's execution to its end (re-invoking it after each wait, "
        "retry or callback); print its result",
    )
    parser.add_argument(
        "--real-time",
        action="store_true",
        help="with --durable: really wait out waits and retry delays (default: skip them)",
    )


def add_serve_options(parser):
    """`shim serve`'s durable options."""
    parser.add_argument(
        "--durable",
        action="store_true",
        help="the function is durable: an Invoke starts an execution; also serve the durable-"
        "execution API (checkpoints, callbacks, GetDurableExecution...) on the same port",
    )
    parser.add_argument(
        "--real-time",
        action="store_true",
        help="with --durable: really wait out waits and retry delays (default: skip them)",
    )


def serve_durable(args, server, task_root, config, log):
    """Make `shim serve` durable: a DurableService on the server. Returns (variables, runtime packages) for
    the function's environments: their boto3 pointed at it, and the SDK when the function's code lacks it."""
    from shim.local import durable_service

    durable_service.require()
    from shim.local.durable_runner import SDK, needs_sdk

    packages = (SDK,) if needs_sdk(task_root.path) else ()
    url = "http://127.0.0.1:%d" % server.server_address[1]

    def invoke(payload, **options):
        return server.pool.invoke(payload, keep_stream=False, **options)

    def waiting(arn, callback_id):
        log(
            "shim serve: callback %s is waiting; answer it with: shim durable --endpoint %s callback %s --result "
            "JSON\n" % (callback_id, url, callback_id)
        )

    server.durable = durable_service.DurableService(
        invoke,
        skip_time=not args.real_time,
        invocation_timeout_s=float(config.timeout),
        on_invocation=lambda arn, result: log(result.transcript()),
        on_callback=waiting,
    )
    log(
        "shim serve: durable: an Invoke starts an execution; the durable-execution API is on %s%s\n"
        % (url, "" if args.real_time else " (waits and retry delays are skipped; --real-time keeps them)")
    )
    return durable_service.function_env(url), packages


def main(args):
    base = args.endpoint.rstrip("/")
    if args.action == "callback":
        quoted = urllib.parse.quote(args.callback_id, safe="")
        if args.heartbeat:
            return _call("POST", "%s%s/durable-execution-callbacks/%s/heartbeat" % (base, API, quoted), b"{}")
        if args.result is not None:
            try:
                json.loads(args.result)
            except ValueError as exc:
                raise UsageError("--result takes JSON: %s" % exc) from None
            return _call(
                "POST", "%s%s/durable-execution-callbacks/%s/succeed" % (base, API, quoted), args.result.encode("utf-8")
            )
        error = {"ErrorType": args.error_type, "ErrorMessage": args.error_message}
        return _call(
            "POST", "%s%s/durable-execution-callbacks/%s/fail" % (base, API, quoted), json.dumps(error).encode("utf-8")
        )
    if args.action == "list":
        return _call("GET", "%s%s/durable-executions" % (base, API))
    arn = urllib.parse.quote(args.arn, safe="")
    suffix = "/history" if args.action == "history" else ""
    return _call("GET", "%s%s/durable-executions/%s%s" % (base, API, arn, suffix))


def _call(method, url, body=None):
    request = urllib.request.Request(url, data=body, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        print("shim durable: %s %s" % (exc.code, exc.read().decode("utf-8", "replace")), file=sys.stderr)
        return 1
    except (urllib.error.URLError, OSError) as exc:
        raise UsageError(
            "cannot reach %s: %s (is `shim serve --durable` running?)"
            % (url.split(API)[0], getattr(exc, "reason", exc))
        ) from None
    if text.strip():
        print(text)
    return 0


# -- shim invoke --durable ------------------------------------------------------------------------


def invoke_durable(args, task_root, config, event, _echo):
    """The rest of `shim invoke --durable` once cmd_invoke has read the options and the event and prepared
    the task root: run the execution to its end, print its result."""
    from shim.local import durable_service
    from shim.local.durable_runner import DurableFunction

    runner = None

    def invoked(arn, result):
        for line in [result.end_line(), result.report_line()] + result.platform_lines():
            _echo("platform", line + "\n")

    def waiting(arn, callback_id):
        _echo(
            "platform",
            "shim invoke: callback %s is waiting; answer it with: shim durable --endpoint %s callback "
            "%s --result JSON\n" % (callback_id, runner.url, callback_id),
        )

    try:
        runner = DurableFunction(
            task_root,
            config.handler,
            config=config,
            echo=_echo,
            skip_time=not args.real_time,
            on_invocation=invoked,
            on_callback=waiting,
        )
        result = runner.run(
            event, tenant_id=getattr(args, "tenant_id", None), timeout=durable_service.DEFAULT_EXECUTION_TIMEOUT_S
        )
    finally:
        if runner is not None:
            runner.close()
        task_root.remove()
    _echo("platform", result.summary() + "\n")
    if result.status == "SUCCEEDED":
        sys.stdout.write(json.dumps(result.result) + "\n")
        sys.stdout.flush()
        return 0
    error = result.error or {}
    print(
        "shim invoke: the durable execution %s: %s: %s"
        % (result.status, error.get("ErrorType") or "", error.get("ErrorMessage") or ""),
        file=sys.stderr,
    )
    for op, op_error in result.failed_operations():
        print(
            "  in %s %r: %s: %s"
            % (op.operation_type.value.lower(), op.name, op_error.get("ErrorType"), op_error.get("ErrorMessage")),
            file=sys.stderr,
        )
    return 1
