"""The local Runtime API server in-process: its lifecycle, what it records, what it refuses."""

import http.client
import threading

import pytest

from shim.local.emulator import RuntimeAPIServer
from shim.runtime import protocol
from shim.runtime.client import RuntimeAPI, RuntimeAPIError


@pytest.fixture
def api():
    with RuntimeAPIServer() as server:
        yield server


def test_emulator_stops_even_if_never_started():
    done = threading.Event()
    threading.Thread(target=lambda: (RuntimeAPIServer().stop(), done.set()), daemon=True).start()
    assert done.wait(5)


def test_each_request_records_the_connection_it_came_over(api):
    host, port = api.address.split(":")
    first, second = http.client.HTTPConnection(host, int(port)), http.client.HTTPConnection(host, int(port))
    try:
        for conn in (first, second, first, second, first):  # keep-alive: each connection stays open
            conn.request("POST", protocol.response_path("unknown"), body=b"{}")
            conn.getresponse().read()
    finally:
        first.close()
        second.close()
    numbers = [r.connection for r in api.requests]
    assert numbers[0] == numbers[2] == numbers[4] and numbers[1] == numbers[3]
    assert numbers[0] != numbers[1]


def test_a_second_answer_and_an_unknown_id_are_refused(api):
    client = RuntimeAPI(api.address, pipeline=False)
    exchange = api.submit({"k": 1})
    assert client.next().request_id == exchange.request_id
    assert client.respond(exchange.request_id, b'"first"') == 202
    with pytest.raises(RuntimeAPIError) as again:
        client.fail(exchange.request_id, b"{}", "Late")
    with pytest.raises(RuntimeAPIError) as unknown:
        client.respond("no-such-id", b"{}")
    assert (again.value.status, unknown.value.status) == (403, 400)
    assert exchange.wait(5).body == b'"first"'  # the refused answer did not replace the accepted one
    assert len(api.answers(exchange.request_id, accepted_only=True)) == 1
    assert [r.status for r in api.answers(exchange.request_id)] == [202, 403]
    client.close()
