"""The entry point: configuration from the environment, then the Runtime: its init, then the invoke loop.

One invoke at a time, as Lambda runs most functions, unless the environment says otherwise:
- AWS_LAMBDA_MAX_CONCURRENCY=N (Lambda Managed Instances): N at once (shim.runtime.concurrency);
- AWS_LAMBDA_INITIALIZATION_TYPE=snap-start: the SnapStart hooks around the snapshot between
  init and the loop (shim.runtime.checkpoint).
Those modes take the Runtime and use its init(), serve() and answer(): they cannot import this module.
A terminating signal ends in shim.runtime.shutdown (callbacks, flush, exit).
"""

import os
import sys
import time

from shim.runtime import PLUGIN_MANIFEST, PLUGIN_MANIFEST_VARIABLE
from shim.runtime import (
    aio,
    crash,
    errors,
    extension,
    invoke,
    lifeline,
    loader,
    logbridge,
    logs,
    marshal,
    protocol,
    shutdown,
    snapshot_hooks,
    watchdog,
)
from shim.runtime.client import AnswerUnconfirmed, RuntimeAPI, RuntimeAPIError
from shim.runtime.signals import FatalSignal, Guard

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (the cold start)
if TYPE_CHECKING:
    from types import ModuleType
    from typing import Any, Callable, MutableMapping, Optional, Sequence, Union

    from shim.runtime.client import Invocation
    from shim.runtime.invoke import Answer
    from shim.runtime.logs import Pipeline

    Handler = Callable[..., Any]
    Recorder = Union[crash.Recorder, crash.NoRecorder]
    RunStream = Callable[[RuntimeAPI, Handler, Invocation, Guard], Optional[Answer]]

_STARTED = time.monotonic()  # the runtime's start (this module is what the launcher imports): plugins see it


def main(argv: "Sequence[str] | None" = None) -> "None":
    argv = sys.argv[1:] if argv is None else argv
    environ = os.environ
    guard = Guard()
    guard.install()
    lifeline.hold(environ)  # before the recorder takes _SHIM_CRASH_FILE out of the environment
    recorder = crash.recorder_from_environment(environ)
    log = logs.setup()
    logbridge.install(log)
    snapshot_hooks.install()
    try:
        api = RuntimeAPI(
            environ.get("AWS_LAMBDA_RUNTIME_API") or "",
            pipeline=environ.get("SHIM_PIPELINE") != "0",
            notice=logs.runtime_warning,
        )
    except ValueError:
        logs.runtime_error(
            "AWS_LAMBDA_RUNTIME_API must be set to the Runtime API's HOST:PORT, got %r"
            % environ.get("AWS_LAMBDA_RUNTIME_API", "")
        )
        recorder.end()  # said and done: nothing for the supervisor to report, and nowhere to report it
        sys.exit(2)
    api.wake_on(guard.wakeup_fd())
    if environ.get("AWS_EXECUTION_ENV") in PREVIEW_RUNTIMES and not environ.get("LAMBDA_DISABLE_PREVIEW_WARN"):
        logs.runtime_warning(preview_warning(environ))
    # The official client and the AWS emulator pass the handler as the last argument.
    spec = argv[-1] if argv else environ.get("_HANDLER", "")
    loader.prepare_sys_path(environ.get("LAMBDA_TASK_ROOT") or os.getcwd())
    runtime = Runtime(api, guard, recorder, log, spec, environ)
    try:
        if "AWS_LAMBDA_MAX_CONCURRENCY" in environ:
            from shim.runtime import concurrency

            concurrency.run(runtime)
        elif environ.get("AWS_LAMBDA_INITIALIZATION_TYPE") == "snap-start":
            runtime.init()
            from shim.runtime import checkpoint

            checkpoint.run(runtime)
        else:
            runtime.init()
            runtime.serve()
    except FatalSignal as sig:  # during init (before forking workers, with SHIM_FORK_AFTER_INIT), or the hooks
        shutdown.stop_in_init(sig, runtime.recorder)


# Managed runtimes awslambdaric calls previews: it warns once, at init, unless LAMBDA_DISABLE_PREVIEW_WARN is set.
PREVIEW_RUNTIMES = ("AWS_Lambda_python3.15",)


def preview_warning(environ: "MutableMapping[str, str]") -> "str":
    """The warning for a preview runtime (run as its AWS_LAMBDA_EXEC_WRAPPER), as awslambdaric gives it."""
    docs = "docs.amazonaws.cn" if environ.get("AWS_REGION", "").startswith("cn-") else "docs.aws.amazon.com"
    return (
        "LAMBDA_WARNING: %s is a preview runtime, not for production workloads; see "
        "https://%s/lambda/latest/dg/lambda-runtimes.html" % (environ["AWS_EXECUTION_ENV"][len("AWS_Lambda_") :], docs)
    )


class Runtime:
    """One process's runtime: its Runtime API client, signal guard, crash recorder, log pipeline and (once
    it serves) timeout watchdog, and the handler its init loaded. A forked child (a Managed Instances
    worker, a restore) carries on with its copy, given its own recorder and connection (in_child)."""

    def __init__(
        self,
        api: "RuntimeAPI",
        guard: "Guard",
        recorder: "Recorder",
        log: "Pipeline",
        spec: "str" = "",
        environ: "MutableMapping[str, str]" = os.environ,
        handler: "Handler | None" = None,
    ) -> "None":
        self.api = api
        self.guard = guard
        self.recorder = recorder
        self.spec = spec  # the handler's name, as module.function
        self.environ = environ
        self.handler = handler  # set by init()
        self.log = log  # logs.setup()'s
        self.watch: "watchdog.Watchdog | None" = None  # the timeout warning's, made by serve()

    def in_child(self, recorder: "Recorder", reconnect: "bool" = False) -> "None":
        """In a forked child: its own crash record, and with reconnect its own connection to the Runtime API
        (not one shared with its parent and siblings)."""
        self.recorder = recorder
        if reconnect:
            self.api = RuntimeAPI(self.api.address, pipeline=self.api.pipeline)

    def init(self, adapt: "Callable[[Handler], Handler]" = aio.adapt, others_may_report: "bool" = False) -> "Handler":
        """Load the runtime plugins and the handler (the init phase); on failure report it and exit 1."""
        environ = self.environ
        try:
            plugins = _plugins(environ)
            found = plugins.load(environ.get("LAMBDA_TASK_ROOT") or os.getcwd(), environ) if plugins else []
            handler = adapt(loader.load_handler(self.spec))
            if found and plugins:
                handler = plugins.start(found, handler, self.spec, environ, _STARTED)
        except errors.Fault as fault:
            self.report_init_error(fault, others_may_report)
            self.recorder.end()
            sys.exit(1)
        self.handler = handler
        _streaming(handler)  # a streaming handler's module and loop are made at init, not on the first invoke
        self.recorder.end()
        warning = marshal.choose_encoder(environ)
        if warning:
            logs.runtime_error(warning)
        logs.warm_up()
        return handler

    def report_init_error(self, fault: "errors.Fault", others_may_report: "bool" = False) -> "None":
        error = errors.payload(fault.error_type, fault.message, fault.stack_trace)
        logs.uncaught(error)
        try:
            self.api.init_error(errors.encode(error), fault.error_type)
        except RuntimeAPIError as exc:
            if not (others_may_report and exc.status == 403):  # another worker reported it first
                logs.runtime_error("Could not report the init error to the Runtime API: %s" % exc)
        except OSError as exc:
            logs.runtime_error("Could not report the init error to the Runtime API: %s" % exc)

    def serve(self) -> "None":
        """After init, in the process that serves (after a fork, a restore): the invoke loop, until a
        terminating signal (then shutdown) or the Runtime API fails. Does not return."""
        try:
            self.guard.adopt()
            extension.before_first_next(self.api.address, self.guard)
            lifeline.watch()
            self.watch, warning = watchdog.from_environment(self.environ)  # its thread runs in this process
            if warning:
                logs.runtime_error(warning)
            self.loop()
        except FatalSignal as sig:
            shutdown.stop(sig)
        except (RuntimeAPIError, ConnectionError) as exc:
            logs.runtime_error("Runtime API failure, exiting: %s" % exc)
            sys.exit(1)

    def loop(self) -> "None":
        """Forever: take an event from /next, run it, post its one answer (the next GET rides along).
        A streaming handler's answer is posted as it is produced; only an error before its first chunk comes
        back here. The watchdog (a stand-in that never starts when serve() made none) is armed for each invoke."""
        # Local names on the warm path: the loop reads no attribute of self.
        api, handler, guard, recorder = self.api, self.handler, self.guard, self.recorder
        assert handler is not None, "init() comes first"
        watch = self.watch or watchdog.Watchdog()
        run_stream: "RunStream | None" = _streaming(handler)
        post = self.answer
        out, err = logs.streams  # stdout and stderr: their `open` says a line was left without its newline
        # RUNTIME throughout, the wait for an event included: a signal is deferred, never raised between
        # an event's arrival and its answer. The wait wakes on this process's wake-up pipe to act on it.
        guard.where = guard.RUNTIME
        api.wake_on(guard.wakeup_fd(), guard.take_pending)
        while True:
            invocation = api.next()
            if not invocation.request_id:
                logs.runtime_error(
                    "The Runtime API sent an event without %s; it cannot be answered" % protocol.REQUEST_ID
                )
                continue
            recorder.begin(invocation.request_id, invocation.invocation_id)
            logs.start_invoke(invocation)
            watch.armed = invocation
            answer = (
                run_stream(api, handler, invocation, guard) if run_stream else invoke.run(handler, invocation, guard)
            )
            watch.armed = None
            if out.open or err.open:
                logs.finish_output()
            if answer is not None:
                try:
                    post(invocation, answer, api)
                except AnswerUnconfirmed as exc:  # it may have arrived: sending it again could answer twice
                    logs.runtime_error("The answer for %s may be lost: %s" % (invocation.request_id, exc))
            recorder.end()
            logs.end_invoke()
            if guard.pending is not None:
                guard.take_pending()
            guard.adopt_new_sigterm()  # a SIGTERM handler the function installed lazily, in an invoke
            # Not kept through the wait for the next event: a 5 MB answer held until the next one is
            # encoded is 5 MB more at that invoke's peak.
            del invocation, answer

    def answer(self, invocation: "Invocation", answer: "Answer", api: "RuntimeAPI | None" = None) -> "None":
        """Post the answer for an invocation (on api: the connection it came on, when not self.api)."""
        if api is None:
            api = self.api
        request_id, invocation_id = invocation.request_id, invocation.invocation_id
        if answer.error_type is not None:  # not answer.ok: the same, without a property call on the warm path
            assert answer.error is not None  # invoke.failure sets both
            logs.uncaught(answer.error, answer.exception)
            try:
                api.fail(request_id, answer.body, answer.error_type, answer.xray_cause, invocation_id, then_next=True)
            except RuntimeAPIError as exc:
                logs.runtime_error("The Runtime API refused the error for %s: %s" % (request_id, exc))
            return
        try:
            api.respond(
                request_id, answer.body, answer.content_type or "application/json", invocation_id, then_next=True
            )
        except RuntimeAPIError as exc:
            if exc.status != 413:
                logs.runtime_error("The Runtime API refused the response for %s: %s" % (request_id, exc))
                return
            # Too large for Lambda (6 MB for a buffered response): say so instead of losing the request.
            fault = errors.Fault(
                errors.RESPONSE_TOO_LARGE,
                "Response payload size (%d bytes) exceeded the Runtime "
                "API's limit: %s" % (len(answer.body), exc.body[:200].decode("utf-8", "replace")),
            )
            self.answer(invocation, invoke.failure(fault, request_id), api)


def _plugins(environ: "MutableMapping[str, str]") -> "ModuleType | None":
    """shim.runtime.plugins when the zip lists runtime plugins; None, with one stat() and no import, when not."""
    task_root = environ.get("LAMBDA_TASK_ROOT") or os.getcwd()
    if environ.get(PLUGIN_MANIFEST_VARIABLE) or os.path.exists(os.path.join(task_root, PLUGIN_MANIFEST)):
        from shim.runtime import plugins

        return plugins
    return None


def _streaming(handler: "Handler | None") -> "RunStream | None":
    """stream.run for a generator handler, which streams its response; None for any other.
    Found by the function's code flags, so a function that does not stream never loads the module.
    Under runtime plugins' wrappers, the function's own handler decides (its generator passes through them)."""
    if handler is None:
        return None
    handler = getattr(handler, "__shim_handler__", handler)
    if not aio.code_flags(handler) & aio.GENERATOR_FLAGS:
        return None
    from shim.runtime import stream

    stream.prepare(handler)
    return stream.run
