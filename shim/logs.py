"""Log output (minimal; the structured pipeline replaces this)."""
import sys
import time

_request_id = ""


def setup():
    pass


def _line(level, message):
    now = time.time()
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + ".%03dZ" % (int(now * 1000) % 1000)
    sys.stdout.write("[%s]\t%s\t%s\t%s\n" % (level, stamp, _request_id, message.replace("\n", "\r")))
    sys.stdout.flush()


def start_invoke(invocation):
    global _request_id
    _request_id = invocation.request_id


def end_invoke():
    global _request_id
    _request_id = ""


def uncaught(error, exception=None):
    text = "%s: %s" % (error["errorType"], error["errorMessage"])
    if error["stackTrace"]:
        text += "\nTraceback (most recent call last):\n" + "".join(error["stackTrace"])
    _line("ERROR", text)


def runtime_error(message):
    _line("ERROR", "lambda-shim: " + message)


def runtime_info(message):
    _line("INFO", "lambda-shim: " + message)
