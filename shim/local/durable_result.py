"""How a durable execution ended, as the local durable service (shim.local.durable_service) reports it.

A DurableResult wraps the testing package's DurableFunctionTestResult: the status, the
handler's return value, the error and the operations, with the shim InvokeResults of the
invocations it took and the time skipped; summary() says it in one line.
"""

import json


class DurableResult:
    """How an execution ended: status ("SUCCEEDED", "FAILED", "TIMED_OUT", "STOPPED"), the handler's return
    value (decoded from JSON), the error ({"ErrorType", "ErrorMessage", ...}) and the operations, as the
    testing package's runner reports them; plus what it took: invocations (shim InvokeResults)."""

    def __init__(self, arn, test_result, invocations, skipped_s):
        self.arn = arn
        self.test_result = test_result  # the testing package's DurableFunctionTestResult
        self.status = test_result.execution_status.value if test_result.execution_status else None
        raw = test_result.result
        self.result = json.loads(raw) if isinstance(raw, str) and raw else raw
        error = test_result.error
        self.error = error.to_dict() if error is not None else None
        self.operations = test_result.operations  # top-level operations, each with its children
        self.invocations = list(invocations)
        self.skipped_s = skipped_s

    @property
    def replays(self):
        """Invocations after the first: each one replayed the checkpoints before it."""
        return max(0, len(self.invocations) - 1)

    def all_operations(self):
        return self.test_result.get_all_operations()

    def failed_operations(self):
        """(operation, its error dict) of each failed operation none of whose children failed: where an
        error began (the user's own exception, before the SDK wrapped it in StepError and the like)."""

        def failed(op):
            return getattr(op, "error", None) is not None

        return [
            (op, op.error.to_dict())
            for op in self.all_operations()
            if failed(op) and not any(failed(child) for child in getattr(op, "child_operations", None) or ())
        ]

    def summary(self):
        return "durable execution %s: %d operation%s, %d invocation%s (%d replay%s), %s skipped" % (
            self.status,
            len(self.all_operations()),
            _s(len(self.all_operations())),
            len(self.invocations),
            _s(len(self.invocations)),
            self.replays,
            _s(self.replays),
            _duration(self.skipped_s),
        )

    def __repr__(self):
        return "<DurableResult %s %r>" % (self.status, self.result if self.error is None else self.error)


def _s(n):
    return "" if n == 1 else "s"


def _duration(seconds):
    seconds = int(round(seconds))
    if seconds < 60:
        return "%ds" % seconds
    hours, rest = divmod(seconds, 3600)
    days, hours = divmod(hours, 24)
    parts = [
        ("%dd" % days) if days else "",
        ("%dh" % hours) if hours else "",
        "%dm" % (rest // 60) if rest // 60 else "",
    ]
    return " ".join(p for p in parts if p) or "0s"
