"""The entry point: configuration from the environment, init, then the invoke loop.

One invoke at a time, as Lambda runs most functions, unless the environment says otherwise:
- AWS_LAMBDA_MAX_CONCURRENCY=N (Lambda Managed Instances): N at once (shim.runtime.concurrency);
- AWS_LAMBDA_INITIALIZATION_TYPE=snap-start: the SnapStart hooks around the snapshot between
  init and the loop (shim.runtime.checkpoint).
A terminating signal ends in shim.runtime.shutdown (callbacks, flush, exit).
"""
import os
import sys
import time

from shim.runtime import PLUGIN_MANIFEST, PLUGIN_MANIFEST_VARIABLE
from shim.runtime import (aio, crash, errors, extension, invoke, lifeline, loader, logbridge, logs, marshal, protocol,
                          shutdown, snapshot_hooks, watchdog)
from shim.runtime.client import AnswerUnconfirmed, RuntimeAPI, RuntimeAPIError
from shim.runtime.signals import FatalSignal, Guard

_STARTED = time.monotonic()  # the runtime's start (this module is what the launcher imports): plugins see it
RUNTIME = Guard.RUNTIME


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    environ = os.environ
    guard = Guard()
    guard.install()
    lifeline.hold(environ)  # before the recorder takes _SHIM_CRASH_FILE out of the environment
    recorder = crash.recorder_from_environment(environ)
    logbridge.install(logs.setup())
    snapshot_hooks.install()
    try:
        api = RuntimeAPI(environ.get("AWS_LAMBDA_RUNTIME_API") or "", pipeline=environ.get("SHIM_PIPELINE") != "0",
                         notice=logs.runtime_warning)
    except ValueError:
        logs.runtime_error("AWS_LAMBDA_RUNTIME_API must be set to the Runtime API's HOST:PORT, got %r"
                           % environ.get("AWS_LAMBDA_RUNTIME_API", ""))
        recorder.end()  # said and done: nothing for the supervisor to report, and nowhere to report it
        sys.exit(2)
    api.wake_on(guard.wakeup_fd())
    if environ.get("AWS_EXECUTION_ENV") in PREVIEW_RUNTIMES and not environ.get("LAMBDA_DISABLE_PREVIEW_WARN"):
        logs.runtime_warning(preview_warning(environ))
    # The official client and the AWS emulator pass the handler as the last argument.
    spec = argv[-1] if argv else environ.get("_HANDLER", "")
    loader.prepare_sys_path(environ.get("LAMBDA_TASK_ROOT") or os.getcwd())
    if "AWS_LAMBDA_MAX_CONCURRENCY" in environ:
        from shim.runtime import concurrency
        try:
            concurrency.main(api, spec, guard, recorder, environ, initialize, serve, post)
        except FatalSignal as sig:  # during the init that comes before forking (SHIM_FORK_AFTER_INIT)
            shutdown.stop_in_init(sig, recorder)
        return
    try:
        handler = initialize(api, spec, recorder)

        def serve_from_here(recorder):
            serve(api, handler, guard, recorder)

        if environ.get("AWS_LAMBDA_INITIALIZATION_TYPE") == "snap-start":
            from shim.runtime import checkpoint
            checkpoint.checkpoint(api, recorder, guard, serve_from_here)
        else:
            serve_from_here(recorder)
    except FatalSignal as sig:  # during init, or the SnapStart hooks
        shutdown.stop_in_init(sig, recorder)


# Managed runtimes awslambdaric calls previews: it warns once, at init, unless LAMBDA_DISABLE_PREVIEW_WARN is set.
PREVIEW_RUNTIMES = ("AWS_Lambda_python3.15",)


def preview_warning(environ):
    """The warning for a preview runtime (run as its AWS_LAMBDA_EXEC_WRAPPER), as awslambdaric gives it."""
    docs = "docs.amazonaws.cn" if environ.get("AWS_REGION", "").startswith("cn-") else "docs.aws.amazon.com"
    return ("LAMBDA_WARNING: %s is a preview runtime, not for production workloads; see "
            "https://%s/lambda/latest/dg/lambda-runtimes.html" % (environ["AWS_EXECUTION_ENV"][len("AWS_Lambda_"):], docs))


def initialize(api, spec, recorder, adapt=aio.adapt, others_may_report=False):
    """Load the runtime plugins and the handler (the init phase); on failure report it and exit 1."""
    environ = os.environ
    try:
        plugins = _plugins(environ)
        found = plugins.load(environ.get("LAMBDA_TASK_ROOT") or os.getcwd(), environ) if plugins else []
        handler = adapt(loader.load_handler(spec))
        if found:
            handler = plugins.start(found, handler, spec, environ, _STARTED)
    except errors.Fault as fault:
        report_init_error(api, fault, others_may_report)
        recorder.end()
        sys.exit(1)
    _streaming(handler)  # a streaming handler's module and loop are made at init, not on the first invoke
    recorder.end()
    warning = marshal.choose_encoder(os.environ)
    if warning:
        logs.runtime_error(warning)
    logs.warm_up()
    return handler


def serve(api, handler, guard, recorder):
    """The invoke loop, until a terminating signal (then shutdown) or the Runtime API fails."""
    try:
        guard.adopt()
        extension.before_first_next(api.address, guard)
        lifeline.watch()
        # The timeout warning's watcher: started here, in the process that serves (after a fork, a restore).
        watch, warning = watchdog.from_environment(os.environ)
        if warning:
            logs.runtime_error(warning)
        loop(api, handler, guard, recorder, _streaming(handler), watch)
    except FatalSignal as sig:
        shutdown.stop(sig)
    except (RuntimeAPIError, ConnectionError) as exc:
        logs.runtime_error("Runtime API failure, exiting: %s" % exc)
        sys.exit(1)


def report_init_error(api, fault, others_may_report=False):
    error = errors.payload(fault.error_type, fault.message, fault.stack_trace)
    logs.uncaught(error)
    try:
        api.init_error(errors.encode(error), fault.error_type)
    except RuntimeAPIError as exc:
        if not (others_may_report and exc.status == 403):  # another worker reported it first
            logs.runtime_error("Could not report the init error to the Runtime API: %s" % exc)
    except OSError as exc:
        logs.runtime_error("Could not report the init error to the Runtime API: %s" % exc)


def _plugins(environ):
    """shim.runtime.plugins when the zip lists runtime plugins; None, with one stat() and no import, when not."""
    task_root = environ.get("LAMBDA_TASK_ROOT") or os.getcwd()
    if environ.get(PLUGIN_MANIFEST_VARIABLE) or os.path.exists(os.path.join(task_root, PLUGIN_MANIFEST)):
        from shim.runtime import plugins
        return plugins
    return None


def _streaming(handler):
    """stream.run for a generator handler, which streams its response; None for any other.
    Found by the function's code flags, so a function that does not stream never loads the module.
    Under runtime plugins' wrappers, the function's own handler decides (its generator passes through them)."""
    handler = getattr(handler, "__shim_handler__", handler)
    if not aio.code_flags(handler) & aio.GENERATOR_FLAGS:
        return None
    from shim.runtime import stream

    stream.prepare(handler)
    return stream.run


def loop(api, handler, guard, recorder, run_stream=None, watch=None):
    """Forever: take an event from /next, run it, post its one answer (the next GET rides along).
    A streaming handler's answer is posted as it is produced; only an error before its first chunk comes back here.
    watch: the timeout warning's Watchdog, armed for each invoke."""
    watch = watch or watchdog.Watchdog()
    out, err = logs.streams  # stdout and stderr: their `open` says a line was left without its newline
    # RUNTIME throughout, the wait for an event included: a signal is deferred, never raised between
    # an event's arrival and its answer. The wait wakes on this process's wake-up pipe to act on it.
    guard.where = RUNTIME
    api.wake_on(guard.wakeup_fd(), guard.take_pending)
    while True:
        invocation = api.next()
        if not invocation.request_id:
            logs.runtime_error("The Runtime API sent an event without %s; it cannot be answered" % protocol.REQUEST_ID)
            continue
        recorder.begin(invocation.request_id, invocation.invocation_id)
        logs.start_invoke(invocation)
        watch.armed = invocation
        answer = run_stream(api, handler, invocation, guard) if run_stream else invoke.run(handler, invocation, guard)
        watch.armed = None
        if out.open or err.open:
            logs.finish_output()
        if answer is not None:
            try:
                post(api, invocation, answer)
            except AnswerUnconfirmed as exc:  # it may have arrived: sending it again could answer twice
                logs.runtime_error("The answer for %s may be lost: %s" % (invocation.request_id, exc))
        recorder.end()
        logs.end_invoke()
        if guard.pending is not None:
            guard.take_pending()
        guard.adopt_new_sigterm()  # a SIGTERM handler the function installed lazily, in an invoke
        # Not kept through the wait for the next event: a 5 MB answer held until the next one is
        # encoded is 5 MB more at that invoke's peak.
        invocation = answer = None


def post(api, invocation, answer):
    request_id, invocation_id = invocation.request_id, invocation.invocation_id
    if answer.error_type is not None:  # not answer.ok: the same, without a property call on the warm path
        logs.uncaught(answer.error, answer.exception)
        try:
            api.fail(request_id, answer.body, answer.error_type, answer.xray_cause, invocation_id, then_next=True)
        except RuntimeAPIError as exc:
            logs.runtime_error("The Runtime API refused the error for %s: %s" % (request_id, exc))
        return
    try:
        api.respond(request_id, answer.body, answer.content_type, invocation_id, then_next=True)
    except RuntimeAPIError as exc:
        if exc.status != 413:
            logs.runtime_error("The Runtime API refused the response for %s: %s" % (request_id, exc))
            return
        # Too large for Lambda (6 MB for a buffered response): say so instead of losing the request.
        fault = errors.Fault(errors.RESPONSE_TOO_LARGE, "Response payload size (%d bytes) exceeded the Runtime API's limit: %s"
                             % (len(answer.body), exc.body[:200].decode("utf-8", "replace")))
        post(api, invocation, invoke.failure(fault, request_id))
