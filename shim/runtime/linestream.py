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


class LineStream:
    """A text stream that tracks whether its last write ended a line; everything else is the stream's."""

    def __init__(self, stream):
        self._stream = stream
        self._lock = _thread.RLock()  # re-entrant: a signal handler may log while a write is under way
        self.open = False             # the last write left a line unfinished

    def write(self, text):
        with self._lock:
            count = self._stream.write(text)
            if text:
                self.open = text[-1] != "\n"
        return count

    def writelines(self, lines):
        for line in lines:
            self.write(line)

    def write_record(self, line):
        """One log record (a whole line, newline included), on a line of its own, flushed."""
        with self._lock:
            if self.open:
                line = "\n" + line
                self.open = False
            self._stream.write(line)
            self._stream.flush()

    def end_line(self):
        """At the end of an invoke: finish a line left open, so that it is written now."""
        if self.open:
            with self._lock:
                if self.open:
                    self._stream.write("\n")
                    self.open = False
                self._stream.flush()

    def flush(self):
        self._stream.flush()

    def __getattr__(self, name):
        return getattr(self._stream, name)

    def __repr__(self):
        return "<LineStream %r>" % (self._stream,)
