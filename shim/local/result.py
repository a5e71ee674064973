"""What one invoke gave: InvokeResult, with the lines Lambda logs about it, and the log records parsed.

`InvokeResult` is what Function.invoke returns (shim.local.function), and what
`shim invoke`, `shim serve` and the pytest plugin print: START, END and REPORT
as Lambda writes them, the payload or the error object, the invoke's own log
lines (`records`, parsed by parse_line from Lambda's text or JSON format).
"""

import dataclasses
import json
import math
import re
from typing import Dict, List, Optional


@dataclasses.dataclass(repr=False)
class InvokeResult:
    """How one invoke ended, with what Lambda would log about it.

    kind: 'response', 'error' (the handler failed), 'init_error' (init failed),
    'timeout', or 'lost' (the runtime process died: Runtime.ExitError).
    """

    request_id: str
    kind: str
    body: bytes = b""
    content_type: Optional[str] = None
    error_type: Optional[str] = None
    duration_ms: float = 0.0
    init_ms: Optional[float] = None  # set on a cold start only
    restore_ms: Optional[float] = None  # set on the first invoke of a SnapStart restore instead
    memory_mb: int = 128
    max_memory_kb: Optional[int] = None
    logs: str = ""  # what the runtime wrote during this invoke
    init_logs: str = ""  # and during the init before it (cold start only)
    # A streamed response: its chunks as they came, when each came (ms after the runtime took the
    # event), the time to its first byte, and the error it ended with (from its trailers), if any.
    streamed: bool = False
    chunks: List[bytes] = dataclasses.field(default_factory=list)
    chunk_times_ms: List[float] = dataclasses.field(default_factory=list)
    first_byte_ms: Optional[float] = None
    stream_error: Optional[dict] = None
    trailers: Dict[str, str] = dataclasses.field(default_factory=dict)

    @property
    def ok(self):
        return self.kind == "response"

    @property
    def payload(self):
        """The response decoded from JSON (the raw text if it is not JSON), or the error object."""
        if self.stream_error is not None:
            return self.stream_error
        if not self.body:
            return None
        try:
            return json.loads(self.body)
        except ValueError:
            return self.body.decode("utf-8", "replace")

    @property
    def error(self):
        """The error object ({errorMessage, errorType, ...}) when the invoke failed, else None."""
        return None if self.ok else self.payload

    @property
    def records(self):
        return parse_logs(self.logs)

    @property
    def init_records(self):
        return parse_logs(self.init_logs)

    @property
    def max_memory_mb(self):
        return int(math.ceil(self.max_memory_kb / 1024.0)) if self.max_memory_kb else 0

    @property
    def billed_ms(self):
        # Lambda bills the init phase of a cold start along with the invoke, in whole ms.
        return int(math.ceil(self.duration_ms + (self.init_ms or 0.0)))

    @property
    def cold(self):
        return self.init_ms is not None or self.restore_ms is not None

    def start_line(self):
        return "START RequestId: %s Version: $LATEST" % self.request_id

    def end_line(self):
        return "END RequestId: %s" % self.request_id

    def report_line(self):
        fields = [
            "REPORT RequestId: %s" % self.request_id,
            "Duration: %.2f ms" % self.duration_ms,
            "Billed Duration: %d ms" % self.billed_ms,
            "Memory Size: %d MB" % self.memory_mb,
            "Max Memory Used: %d MB" % self.max_memory_mb,
        ]
        if self.init_ms is not None:
            fields.append("Init Duration: %.2f ms" % self.init_ms)
        if self.streamed:  # not in Lambda's REPORT: what a streamed response is for
            fields.append(
                "Time To First Byte: %s"
                % ("%.2f ms" % self.first_byte_ms if self.first_byte_ms is not None else "none (empty stream)")
            )
        if self.restore_ms is not None:  # as Lambda reports a SnapStart restore (no Init Duration then)
            fields += [
                "Restore Duration: %.2f ms" % self.restore_ms,
                "Billed Restore Duration: %d ms" % math.ceil(self.restore_ms),
            ]
        if self.kind == "timeout":
            fields.append("Status: timeout")
        elif self.kind in ("lost", "init_error"):
            fields += ["Status: error", "Error Type: %s" % self.error_type]
        return "\t".join(fields)

    def platform_lines(self):
        """Lambda's own lines about a failure of the environment (none for a handler's error)."""
        if self.kind == "timeout":
            return [self.error["errorMessage"]]
        if self.kind == "lost":
            return [self.error["errorMessage"], self.error_type]
        return []

    def transcript(self):
        """Everything Lambda's log stream would show for this invoke, as one string."""
        lines = [self.init_logs, self.start_line() + "\n", self.logs]
        lines += [line + "\n" for line in [self.end_line(), self.report_line()] + self.platform_lines()]
        return "".join(_ending_in_newline(part) for part in lines if part)

    def __repr__(self):
        shown = self.body[:300].decode("utf-8", "replace")
        return "<InvokeResult %s %s %s>" % (self.kind, self.request_id, shown)


# -- log records -------------------------------------------------------------------------------

_TEXT_RECORD = re.compile(r"\[(?P<level>[A-Z]+)\]\t(?P<timestamp>\d{4}-\d\d-\d\dT[\d:.]+Z?)\t(?P<requestId>[^\t]*)\t")


def parse_line(line):
    """One log line as a record (a dict).

    Lambda's JSON format gives the object itself; the text format
    `[LEVEL]\\t<timestamp>\\t<requestId>\\t<message>` gives those four keys with
    the message's folded newlines (\\r) restored; anything else (print output)
    is {"message": line}.
    """
    line = line.rstrip("\n")
    if line.startswith("{"):
        try:
            record = json.loads(line)
        except ValueError:
            record = None
        if isinstance(record, dict):
            return record
    match = _TEXT_RECORD.match(line)
    if match:
        record = match.groupdict()
        record["message"] = line[match.end() :].replace("\r", "\n")
        return record
    return {"message": line}


def parse_logs(text):
    # Not splitlines(): it would also split at the \r that fold one record's lines together.
    return [parse_line(line) for line in text.split("\n") if line.strip()]


# -- helpers -----------------------------------------------------------------------------------


def json_bytes(obj):
    return json.dumps(obj).encode("utf-8")


def for_terminal(text):
    """Log text with the newlines that the text format folds into \\r put back, for people to read."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _ending_in_newline(text):
    return text if text.endswith("\n") else text + "\n"


def one_line(failure):
    """An init failure ((error body, errorType), as Function.init_failure holds it) in one line."""
    body, error_type = failure
    try:
        message = json.loads(body).get("errorMessage", "")
    except (ValueError, AttributeError):
        message = ""
    return "%s: %s" % (error_type, (str(message).splitlines() or [""])[0])
