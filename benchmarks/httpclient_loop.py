"""Reference, not a runtime: the least an http.client-based runtime does per invoke.

bench.py runs it in the warm loop beside lambda-shim, to show what the raw-socket
client saves over the stdlib's HTTP client on the same server.
"""

import http.client
import os

API = "/2018-06-01/runtime/invocation/"
connection = http.client.HTTPConnection(os.environ["AWS_LAMBDA_RUNTIME_API"])
while True:
    connection.request("GET", API + "next")
    reply = connection.getresponse()
    reply.read()
    request_id = reply.getheader("Lambda-Runtime-Aws-Request-Id")
    connection.request("POST", API + request_id + "/response", b'"ok"', {"Content-Type": "application/json"})
    connection.getresponse().read()
