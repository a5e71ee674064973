"""Benchmark handlers: the same file runs under lambda-shim and under awslambdaric."""

import logging

log = logging.getLogger("bench")


def log_one(event, context):
    log.info("one line")
    return "ok"


def echo(event, context):
    return event
