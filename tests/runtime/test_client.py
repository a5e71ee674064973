"""The Runtime API client in-process: its requests and its response parsing, against a scripted socket server."""

import threading

import pytest

from shim.runtime.client import AnswerUnconfirmed, Headers, Invocation, RuntimeAPI, RuntimeAPIError

pytestmark = pytest.mark.usefixtures("socket_timeout")

NEXT_HEADERS = (
    b"Lambda-Runtime-Aws-Request-Id: r1\r\nLambda-Runtime-Deadline-Ms: 123\r\nContent-Type: application/json\r\n"
)
ACCEPTED = b'HTTP/1.1 202 Accepted\r\nContent-Length: 16\r\n\r\n{"status": "OK"}'


def next_reply(body=b"{}", framing=b"", request_id=b"r1"):
    """A 200 for GET /next; framing None means no Content-Length (the caller frames the body)."""
    head = b"HTTP/1.1 200 OK\r\n" + NEXT_HEADERS.replace(b"r1", request_id)
    if framing is not None:
        head += framing or b"Content-Length: %d\r\n" % len(body)
    return head + b"\r\n" + body


def chunked(body, size=7000, extension=b"", trailers=b""):
    pieces = [body[i : i + size] for i in range(0, len(body), size)]
    return b"".join(b"%x%s\r\n%s\r\n" % (len(p), extension, p) for p in pieces) + b"0\r\n" + trailers + b"\r\n"


class CappedReads(RuntimeAPI):
    """The real client on a real socket, whose reads return at most `cap` bytes: every parse
    step then meets a reply cut at every possible place, whatever the scheduler does."""

    cap = 1

    def _connect(self):
        self._sock = self.capped = _Capped(super()._connect(), self.cap)  # kept after the client closes it
        return self._sock


class _Capped:
    def __init__(self, sock, cap):
        self.sock, self.cap, self.reads = sock, cap, 0

    def recv(self, size):
        self.reads += 1
        return self.sock.recv(min(size, self.cap))

    def recv_into(self, view, size=0):
        self.reads += 1
        return self.sock.recv_into(view, min(size or len(view), self.cap))

    def __getattr__(self, name):
        return getattr(self.sock, name)


def test_a_host_name_is_resolved_and_each_of_its_addresses_tried(scripted_server):
    # localhost may resolve to ::1 first, where nothing listens: the client goes on to 127.0.0.1.
    server = scripted_server([next_reply(b'{"k": 1}')])
    api = RuntimeAPI("localhost:" + server.address.rpartition(":")[2])
    assert api.next().body == b'{"k": 1}'
    assert api.fileno() is not None


# -- framing of a reply -----------------------------------------------------------------------


def test_content_length_body(scripted_server):
    server = scripted_server([next_reply(b'{"k": [1, 2]}')])
    invocation = RuntimeAPI(server.address).next()
    assert invocation.body == b'{"k": [1, 2]}'
    assert (invocation.request_id, invocation.deadline_ms, invocation.content_type) == ("r1", 123, "application/json")


def test_chunked_body_with_extensions_and_trailers(scripted_server):
    body = b'{"k": "' + b"x" * 100000 + b'"}'
    framed = chunked(body, extension=b";name=value", trailers=b"X-Trailer: one\r\nX-Other: two\r\n")
    server = scripted_server([next_reply(framed, b"Transfer-Encoding: chunked\r\n"), next_reply(b"[2]")])
    api = RuntimeAPI(server.address)
    assert api.next().body == body
    # The trailers and the blank line after them were consumed: the next reply parses from its first byte.
    second = api.next()
    assert second.body == b"[2]" and server.connections == 1


def test_close_delimited_body_then_a_new_connection(scripted_server):
    # No Content-Length, no chunking, no Connection header: the body ends where the server closes.
    reply = next_reply(b"[1, 2]", framing=None)
    server = scripted_server([reply, reply], close_after_each=True)
    api = RuntimeAPI(server.address)
    assert api.next().body == b"[1, 2]"
    assert api.next().body == b"[1, 2]"
    assert server.connections == 2


def test_connection_close_reply_is_not_reused(scripted_server):
    # The server leaves the socket open after saying Connection: close; a client that reused it would
    # get its second reply there, so two connections prove the client let go of the first.
    first = next_reply(b"[1]", b"Content-Length: 3\r\nConnection: close\r\n")
    server = scripted_server([first, next_reply(b"[2]")])
    api = RuntimeAPI(server.address)
    assert api.next().body == b"[1]"
    assert api.next().body == b"[2]"
    assert server.connections == 2


@pytest.mark.parametrize("status_line", [b"garbage", b"HTTP/1.1 abc OK", b"HTTP/1.1"])
def test_malformed_status_line(scripted_server, status_line):
    server = scripted_server([status_line + b"\r\nContent-Length: 0\r\n\r\n"])
    with pytest.raises(ConnectionError, match="malformed status line"):
        RuntimeAPI(server.address).next()


def test_no_body_for_204_even_without_length(scripted_server):
    server = scripted_server([b"HTTP/1.1 204 No Content\r\n\r\n", ACCEPTED])
    api = RuntimeAPI(server.address)
    with pytest.raises(RuntimeAPIError) as caught:
        api.respond("r1", b"{}")
    assert caught.value.status == 204 and caught.value.body == b""
    assert api.respond("r1", b"{}") == 202 and server.connections == 1  # nothing was read past the 204


def test_pipelined_next_after_a_post_both_replies_in_one_read(scripted_server):
    """The server answers nothing until it holds the GET too, then both replies in one write:
    without pipelining the client would wait for the POST's reply forever."""
    server = scripted_server([b"", ACCEPTED + next_reply(b'{"n": 2}', request_id=b"r2")])
    api = CappedReads(server.address)
    api.cap = 1 << 20  # reads as large as they come: both replies in the client's first read
    outcome = []
    worker = threading.Thread(
        target=lambda: outcome.append((api.respond("r1", b'"ok"', then_next=True), api.next())), daemon=True
    )
    worker.start()
    worker.join(10)
    assert outcome, "the client waited for the POST's reply before sending GET /next"
    status, invocation = outcome[0]
    assert status == 202 and invocation.request_id == "r2" and invocation.body == b'{"n": 2}'
    assert api.capped.reads == 1  # the GET's reply came out of the buffer the POST's read filled
    (post, body), (get, _) = server.requests
    assert post.startswith(b"POST /2018-06-01/runtime/invocation/r1/response HTTP/1.1") and body == b'"ok"'
    assert get.startswith(b"GET /2018-06-01/runtime/invocation/next HTTP/1.1")
    api.close()


def test_without_pipelining_the_next_poll_waits_for_the_reply(scripted_server):
    server = scripted_server([ACCEPTED, next_reply()])
    api = RuntimeAPI(server.address, pipeline=False)
    assert api.respond("r0", b"{}", then_next=True) == 202
    assert len(server.requests) == 1  # no GET went out behind the POST
    assert api.next().request_id == "r1"


BODY = b'{"k": "' + b"0123456789" * 30 + b'"}'
CAPPED_CASES = {
    "content-length": (next_reply(BODY), {}),
    "chunked+trailers": (
        next_reply(chunked(BODY, size=13, trailers=b"X-T: 1\r\n"), b"Transfer-Encoding: chunked\r\n"),
        {},
    ),
    "close-delimited": (next_reply(BODY, framing=None), {"close_after_each": True}),
}


@pytest.mark.parametrize("cap", [1, 7])
@pytest.mark.parametrize("case", sorted(CAPPED_CASES))
def test_a_reply_split_across_many_tiny_reads(scripted_server, case, cap):
    reply, options = CAPPED_CASES[case]
    server = scripted_server([reply], piece_size=5, **options)
    api = CappedReads(server.address)
    api.cap = cap
    invocation = api.next()
    assert api.capped.reads >= len(reply) // cap  # it really was read in pieces
    assert (invocation.body, invocation.request_id, invocation.deadline_ms) == (BODY, "r1", 123)


def test_a_large_body_is_received_straight_into_its_buffer(scripted_server):
    body = bytes(range(256)) * 4096  # 1 MiB, most of it past the first read
    server = scripted_server([next_reply(body)], piece_size=65536)
    assert RuntimeAPI(server.address).next().body == body


def test_a_reply_cut_off_mid_body_is_a_connection_error(scripted_server):
    truncated = next_reply(b"x" * 10, b"Content-Length: 100\r\n")
    server = scripted_server([truncated], close_after_each=True)
    with pytest.raises(ConnectionError, match="closed the connection during GET"):
        RuntimeAPI(server.address).next()


# -- connections and errors -------------------------------------------------------------------


def test_client_never_sends_a_written_post_twice(scripted_server):
    server = scripted_server([next_reply(), None, ACCEPTED])  # the server reads the post, then drops the connection
    api = RuntimeAPI(server.address)
    api.next()
    with pytest.raises(AnswerUnconfirmed, match=server.address):
        api.respond("r1", b"{}")
    assert [head.split(b" ", 2)[:2] for head, _ in server.requests] == [
        [b"GET", b"/2018-06-01/runtime/invocation/next"],
        [b"POST", b"/2018-06-01/runtime/invocation/r1/response"],
    ]


def test_client_does_not_retry_on_a_fresh_connection(scripted_server):
    server = scripted_server([None, ACCEPTED])
    with pytest.raises(AnswerUnconfirmed, match="closed the connection after POST"):
        RuntimeAPI(server.address).respond("r1", b"{}")
    assert len(server.requests) == 1  # the POST was not sent twice


def test_client_reports_unexpected_status(scripted_server):
    server = scripted_server([b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 13\r\n\r\ncontainer err"])
    with pytest.raises(RuntimeAPIError) as caught:
        RuntimeAPI(server.address).next()
    assert caught.value.status == 500 and "container err" in str(caught.value)


def test_client_error_headers_cannot_be_injected(scripted_server):
    server = scripted_server([ACCEPTED])
    RuntimeAPI(server.address).fail("r1", b"{}", "Evil\r\nX-Injected: 1", None)
    lines = server.requests[0][0].split(b"\r\n")
    assert not [line for line in lines if line.startswith(b"X-Injected")]
    assert b"Lambda-Runtime-Function-Error-Type: Evil??X-Injected: 1" in lines


def test_answers_carry_their_headers(scripted_server):
    server = scripted_server([ACCEPTED, ACCEPTED, ACCEPTED])
    api = RuntimeAPI(server.address, user_agent="agent/1")
    api.respond("r1", b"\x00raw", "application/unknown", "inv-1")
    api.fail("r2", b"{}", "ValueError", '{"cause": 1}', "inv-2")
    api.init_error(b"{}", "Runtime.ImportModuleError")
    (respond, body), (fail, _), (init, _) = server.requests
    assert body == b"\x00raw"
    assert b"\r\nContent-Type: application/unknown\r\n" in respond and b"Lambda-Runtime-Invocation-Id: inv-1" in respond
    assert b'\r\nLambda-Runtime-Function-XRay-Error-Cause: {"cause": 1}' in fail
    assert b"\r\nLambda-Runtime-Invocation-Id: inv-2" in fail
    assert init.startswith(b"POST /2018-06-01/runtime/init/error HTTP/1.1\r\n")
    assert b"Lambda-Runtime-Invocation-Id" not in init and b"XRay" not in init
    for head in (respond, fail, init):
        assert b"\r\nUser-Agent: agent/1\r\n" in head and (b"\r\nHost: %s\r\n" % server.address.encode()) in head


@pytest.mark.parametrize("address", ["", "nohost", "host:", ":9001", "host:port"])
def test_client_rejects_bad_addresses(address):
    with pytest.raises(ValueError):
        RuntimeAPI(address)


def test_client_accepts_ipv6_literal():
    assert RuntimeAPI("[::1]:9001")._host == "::1"


def test_headers_lookup():
    headers = Headers(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Empty:\r\nLambda-Runtime-Trace-Id:  Root=1 "
    )
    assert headers.get(b"content-type") == b"application/json"
    assert headers.get(b"lambda-runtime-trace-id") == b"Root=1"  # the last line has no CRLF after it
    assert headers.get(b"x-empty") == b"" and headers.get(b"missing") is None
    assert headers.get(b"type") is None  # a name only matches whole


# -- the warm path's shortcuts give what the long ways give ------------------------------------

CANONICAL_HEAD = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\nDate: Mon, 30 Nov 2026 16:48:22 GMT\r\n"
    b"Lambda-Runtime-Aws-Request-Id: Req-7\r\nLambda-Runtime-Aws-Tenant-Id: T-1\r\n"
    b'Lambda-Runtime-Client-Context: {"custom": {"a": "b: c"}}\r\n'
    b"Lambda-Runtime-Deadline-Ms: 1780000000000\r\n"
    b"Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:1:function:F\r\n"
    b"Lambda-Runtime-Trace-Id: Root=1-Ab;Sampled=1\r\nContent-Length: 2"
)
FIELDS = (
    "request_id",
    "deadline_ms",
    "function_arn",
    "trace_id",
    "client_context",
    "cognito_identity",
    "tenant_id",
    "invocation_id",
    "content_type",
)


def _facts(head):
    invocation = Invocation(Headers(head), b"{}")
    return {name: getattr(invocation, name) for name in FIELDS}


@pytest.mark.parametrize(
    "respell",
    [
        lambda head: head,  # Go's spelling: the one split that maps every line
        lambda head: head.replace(b"Content-Type:", b"content-type:"),  # one name in another case: line by line
        lambda head: head.replace(b"Lambda-Runtime-Trace-Id: ", b"LAMBDA-RUNTIME-TRACE-ID:\t "),
        lambda head: head.replace(b"Lambda-Runtime-Aws-Request-Id: ", b"lambda-runtime-aws-request-id:"),  # no space
        lambda head: head.replace(b": T-1", b":  T-1  ") + b"\r\nX-Empty:",  # extra whitespace, an empty value
    ],
)
def test_every_spelling_of_a_head_gives_the_same_invocation(respell):
    facts = _facts(respell(CANONICAL_HEAD))
    assert facts == {
        "request_id": "Req-7",
        "deadline_ms": 1780000000000,
        "function_arn": "arn:aws:lambda:us-east-1:1:function:F",
        "trace_id": "Root=1-Ab;Sampled=1",
        "client_context": '{"custom": {"a": "b: c"}}',
        "cognito_identity": None,
        "tenant_id": "T-1",
        "invocation_id": None,
        "content_type": "application/xml",
    }


def test_values_that_are_not_utf8_fall_back_to_latin1():
    facts = _facts(CANONICAL_HEAD.replace(b"Root=1-Ab", b"Root=1-\xe9"))
    assert facts["trace_id"] == "Root=1-\u00e9;Sampled=1" and facts["request_id"] == "Req-7"


def test_a_repeated_reply_head_is_read_again_when_it_changes(scripted_server):
    # The reply to an answer is remembered by its head: the same bytes are not parsed again, and any
    # other head (another length, a Connection: close) is read in full.
    longer = b'HTTP/1.1 202 Accepted\r\nContent-Length: 18\r\n\r\n{"status": "OK!"}\n'
    closing = b'HTTP/1.1 202 Accepted\r\nContent-Length: 16\r\nConnection: close\r\n\r\n{"status": "OK"}'
    server = scripted_server([ACCEPTED, ACCEPTED, longer, ACCEPTED, closing, ACCEPTED])
    api = RuntimeAPI(server.address)
    for _ in range(5):
        assert api.respond("r1", b"{}") == 202
    assert server.connections == 1 and api._buf == b""  # every body read whole, nothing left over
    assert api.respond("r1", b"{}") == 202
    assert server.connections == 2  # the Connection: close was obeyed, though the head before it was remembered


def test_a_server_that_closes_unannounced_is_not_taken_for_a_remembered_reply(scripted_server):
    # Remembered 202s, then the server starts closing after each reply without saying so: the client
    # must notice (a new connection per request) as it would without the shortcut.
    server = scripted_server([ACCEPTED, ACCEPTED, None, ACCEPTED, ACCEPTED], close_after_each=False)
    notices = []
    api = RuntimeAPI(server.address, notice=notices.append)
    assert api.respond("r1", b"{}") == 202 and api.respond("r2", b"{}") == 202
    with pytest.raises(AnswerUnconfirmed):
        api.respond("r3", b"{}")
    assert api.respond("r4", b"{}") == 202 and api.respond("r5", b"{}") == 202
    assert not api.keep_alive and server.connections == 3 and notices
