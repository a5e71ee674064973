"""The floor for the 100 MB streaming row: a raw-socket chunked POST, one sendmsg per 1 MiB chunk, no runtime.

python chunked_writer.py PORT MEGABYTES
"""

import socket
import sys

port, megabytes = int(sys.argv[1]), int(sys.argv[2])
sock = socket.create_connection(("127.0.0.1", port))
sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
sock.sendall(
    b"POST /2018-06-01/runtime/invocation/floor/response HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
)
chunk = b"x" * (1 << 20)
for _ in range(megabytes):
    sock.sendall(b"100000\r\n")  # three calls, as sendmsg may send part of a chunk
    sock.sendall(chunk)
    sock.sendall(b"\r\n")
sock.sendall(b"0\r\n\r\n")
sock.recv(4096)
