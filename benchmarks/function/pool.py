"""The Managed Instances handler: imports what a typical function imports (~30 ms of stdlib), so
that an init per worker costs what it costs; waits as long as the event says, sync or async."""

import asyncio
import decimal
import email.parser
import http.client
import json
import logging
import time
import uuid

log = logging.getLogger("pool")
_ = (decimal, email.parser, http.client, json, uuid)


def Handle(event, context):
    if event.get("wait"):
        time.sleep(event["wait"])
    return "ok"


async def AsyncHandle(event, context):
    if event.get("wait"):
        await asyncio.sleep(event["wait"])
    return "ok"
