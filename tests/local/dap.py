"""A minimal Debug Adapter Protocol client over TCP, for the --debug-port test (what an editor does)."""

import json
import socket
import time


class DAPClient:
    def __init__(self, port, timeout=60):
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        self.buffer = b""
        self.seq = 0
        self.messages = []  # everything received, in order

    def send(self, command, **arguments):
        self.seq += 1
        body = json.dumps({"seq": self.seq, "type": "request", "command": command, "arguments": arguments}).encode()
        self.sock.sendall(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        return self.seq

    def _read_message(self):
        while b"\r\n\r\n" not in self.buffer:
            self._fill()
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        length = int(dict(line.split(b": ", 1) for line in head.split(b"\r\n"))[b"Content-Length"])
        while len(self.buffer) < length:
            self._fill()
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        message = json.loads(body)
        self.messages.append(message)
        return message

    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise EOFError("the debug adapter closed the connection")
        self.buffer += data

    def wait(self, predicate):
        for message in self.messages:
            if predicate(message):
                self.messages.remove(message)
                return message
        while True:
            message = self._read_message()
            if predicate(message):
                self.messages.remove(message)
                return message

    def response(self, seq):
        message = self.wait(lambda m: m.get("type") == "response" and m.get("request_seq") == seq)
        assert message["success"], message
        return message

    def event(self, name):
        return self.wait(lambda m: m.get("type") == "event" and m.get("event") == name)

    def close(self):
        self.sock.close()
