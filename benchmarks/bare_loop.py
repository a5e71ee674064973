"""The floor for the warm rows: the least a runtime can do per invoke, and nothing else.

    python -I -S bare_loop.py [--no-pipeline]      (AWS_LAMBDA_RUNTIME_API=HOST:PORT)

GET /next, post the event's bytes back to /response as they came (no JSON, no context,
no logging, no signal handling, no crash record), keep the connection alive. Reads parse
only what they must: the head's end, Content-Length and the request id.

By default the next GET /next rides behind each answer in the same write (pipelined), as
lambda-shim sends it: one syscall and one wake-up of the API fewer per invoke. That is the
floor the warm ratios use, because it is the least that the same protocol strategy can do;
--no-pipeline waits for the 202 before asking for the next event, as awslambdaric does,
and is reported beside it to show what the pipelining itself is worth.
"""

import _socket
import os
import sys

pipeline = "--no-pipeline" not in sys.argv[1:]
host, _, port = os.environ["AWS_LAMBDA_RUNTIME_API"].rpartition(":")
sock = _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM)
sock.connect((host, int(port)))
sock.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
common = b" HTTP/1.1\r\nHost: " + host.encode() + b":" + port.encode() + b"\r\n"
poll = b"GET /2018-06-01/runtime/invocation/next" + common + b"\r\n"
buf = bytearray()
# recv() of a fresh 256 KiB bytes object costs glibc an mmap, an mremap and a munmap per call;
# receiving into one buffer kept for the process's life costs none.
scratch = memoryview(bytearray(262144))


def reply(buf=buf, scratch=scratch):
    """(head, its lowercased copy, body) of the next reply on the connection."""
    while True:
        end = buf.find(b"\r\n\r\n")
        if end >= 0:
            break
        got = sock.recv_into(scratch)
        if not got:
            sys.exit(0)  # the API went away: done
        buf += scratch[:got]
    head = bytes(buf[: end + 2])
    del buf[: end + 4]
    lower = head.lower()  # names are case-insensitive; the request id's value is kept as sent
    at = lower.find(b"\r\ncontent-length:") + 17
    length = int(head[at : head.find(b"\r\n", at)]) if at >= 17 else 0
    while len(buf) < length:
        got = sock.recv_into(scratch)
        if not got:
            sys.exit(0)
        buf += scratch[:got]
    body = bytes(buf[:length])
    del buf[:length]
    return head, lower, body


sock.sendall(poll)
while True:
    head, lower, event = reply()
    at = lower.find(b"\r\nlambda-runtime-aws-request-id:") + 32
    request_id = head[at : head.find(b"\r\n", at)].strip()
    answer = (
        b"POST /2018-06-01/runtime/invocation/"
        + request_id
        + b"/response"
        + common
        + b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(event)
        + event
    )
    if pipeline:
        sock.sendall(answer + poll)
        reply()  # 202
    else:
        sock.sendall(answer)
        reply()  # 202
        sock.sendall(poll)
