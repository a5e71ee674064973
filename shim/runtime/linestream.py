"""sys.stdout and sys.stderr as the log stream: a record never lands inside someone's line.

Lambda cuts the runtime's output into log events at newlines. A print() is two
writes (the text, then "\\n"), and `print(x, end="")` none with a newline, so a
record written by another thread between them would be glued onto the end of an
unfinished line, and a JSON record would no longer parse. LineStream knows whether
the last write left a line open, and a record then starts with a newline of its own.

The same flag says, at the end of an invoke, whether output without a final newline
is waiting in the buffer (line buffering holds it until a newline that may never
come, or that comes during the next invoke): end_line() then finishes that line, so
it is written, and belongs to the invoke that wrote it.

The official client wraps both streams too (to flush every write); this costs one
Python call and an uncontended lock per write, and nothing per invoke unless a
line was left open.
"""

import _thread

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (the cold start)
if TYPE_CHECKING:
    from typing import Any, Iterable, TextIO


class LineStream:
    """A text stream that tracks whether its last write ended a line; everything else is the stream's."""

    def __init__(self, stream: "TextIO") -> None:
        self._stream = stream
        self._lock = _thread.RLock()  # re-entrant: a signal handler may log while a write is under way
        self.open = False  # the last write left a line unfinished

    def write(self, text: "str") -> "int":
        with self._lock:
            count = self._stream.write(text)
            if text:
                self.open = text[-1] != "\n"
        return count

    def writelines(self, lines: "Iterable[str]") -> None:
        for line in lines:
            self.write(line)

    def write_record(self, line: "str") -> None:
        """One log record (a whole line, newline included), on a line of its own, flushed."""
        with self._lock:
            if self.open:
                line = "\n" + line
                self.open = False
            self._stream.write(line)
            self._stream.flush()

    def end_line(self) -> None:
        """At the end of an invoke: finish a line left open, so that it is written now."""
        if self.open:
            with self._lock:
                if self.open:
                    self._stream.write("\n")
                    self.open = False
                self._stream.flush()

    def flush(self) -> None:
        self._stream.flush()

    def __getattr__(self, name: "str") -> "Any":
        return getattr(self._stream, name)

    def __repr__(self) -> "str":
        return "<LineStream %r>" % (self._stream,)
