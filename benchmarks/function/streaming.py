"""Streaming benchmark handlers (lambda-shim only: awslambdaric cannot stream)."""

import time

MEGABYTE = b"x" * (1024 * 1024)


def first_then_work(event, context):
    yield b"first"  # what the caller can show at once
    time.sleep(event["ms"] / 1000.0)  # the rest of the work (an upstream call, a model, a query)
    yield b"rest"


def work_then_return(event, context):
    time.sleep(event["ms"] / 1000.0)  # the same work, answered buffered: the first byte comes with the last
    return "firstrest"


def megabytes(event, context):
    for _ in range(event["count"]):
        yield MEGABYTE
