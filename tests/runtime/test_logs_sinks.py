"""The log sinks in-process: the telemetry frames (type, length, timestamp, payload, as the official client
writes them) and stdout's one line per record. tests/runtime/test_logs_pipeline.py has what feeds them."""

import io
import os
import threading
import time

import pytest

from shim.runtime import logs


def _frames_written_by(write):
    """Call write(fd) on a pipe's write end; the frames read back as (type, length, µs timestamp, payload)."""
    read_fd, write_fd = os.pipe()
    chunks = []
    reader = threading.Thread(target=lambda: chunks.extend(iter(lambda: os.read(read_fd, 65536), b"")))
    reader.start()  # a pipe holds 64 KiB: read while the sink writes
    try:
        write(write_fd)
    finally:
        os.close(write_fd)
        reader.join(10)
        os.close(read_fd)
    data, frames = b"".join(chunks), []
    while data:
        length = int.from_bytes(data[4:8], "big")
        frames.append(
            (int.from_bytes(data[:4], "big"), length, int.from_bytes(data[8:16], "big"), data[16 : 16 + length])
        )
        data = data[16 + length :]
    return frames


def test_framed_sink_writes_type_length_timestamp_payload():
    text = "[INFO]\tT\t\tone\ntwo \u00e9"
    before = time.time_ns() // 1000

    def write(fd):
        sink = logs.FramedSink(fd, logs._TEXT_FRAMES)
        sink.write(text, 20)
        sink.write("x" * 100000, 40)  # more than the pipe takes in one write: the sink finishes it
        sink.write("json", 30)

    (kind, length, micros, payload), big, last = _frames_written_by(write)
    after = time.time_ns() // 1000
    assert kind == 0xA55A000F and payload == text.encode("utf-8") and length == len(payload)
    assert before <= micros <= after
    assert big[:2] == (0xA55A0017, 100000) and big[3] == b"x" * 100000
    assert last[0] == 0xA55A0013 and last[3] == b"json"


@pytest.mark.parametrize("levelno,level", [(-5, 0), (0, 0), (15, 10), (20, 20), (99, 50)])
def test_framed_sink_clamps_levels_to_a_frame_type(levelno, level):
    for table in (logs._TEXT_FRAMES, logs._JSON_FRAMES):
        ((kind, _, _, _),) = _frames_written_by(lambda fd: logs.FramedSink(fd, table).write("m", levelno))
        assert kind == table[level]


def test_frames_match_the_official_clients():
    official = pytest.importorskip("awslambdaric.lambda_runtime_log_utils")
    for ours, theirs in (
        (logs._TEXT_FRAMES, official._TEXT_FRAME_TYPES),
        (logs._JSON_FRAMES, official._JSON_FRAME_TYPES),
    ):
        assert {level: kind.to_bytes(4, "big") for level, kind in ours.items()} == theirs
    sink_module = pytest.importorskip("awslambdaric.bootstrap")
    message = "[ERROR]\tT\tr\tline one\nline two \u00e9"

    def official_write(fd):
        with sink_module.FramedTelemetryLogSink(os.dup(fd)) as sink:
            sink.log(message, frame_type=official._TEXT_FRAME_TYPES[40])

    ((their_kind, their_length, _, their_payload),) = _frames_written_by(official_write)
    ((kind, length, _, payload),) = _frames_written_by(
        lambda fd: logs.FramedSink(fd, logs._TEXT_FRAMES).write(message, 40)
    )
    assert (kind, length, payload) == (their_kind, their_length, their_payload)


def test_stdout_sink_folds_newlines_into_one_line_per_record():
    class Stream(io.StringIO):
        flushes = 0

        def flush(self):
            self.flushes += 1

    stream = Stream()
    sink = logs.StdoutSink(stream)
    sink.write("[ERROR]\tT\t\tfailed\nTraceback\n  line", 40)
    sink.write("second", 20)
    assert stream.getvalue() == "[ERROR]\tT\t\tfailed\rTraceback\r  line\nsecond\n"
    assert stream.flushes == 2  # each record leaves at once
