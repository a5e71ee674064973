"""What the runtime loads, and when: importing it (the cold start pays for every module), and nothing more
once an invoke comes (through the real bootstrap: whatever an invoke needs is loaded during init)."""

import subprocess
import sys


def test_runtime_modules_stay_light():
    # The cold start depends on what the runtime imports; http.client and ssl must not come in.
    code = "import sys, shim.runtime.main; print(' '.join(sorted(sys.modules)))"
    modules = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    for heavy in ("http.client", "ssl", "asyncio", "structlog", "dataclasses", "typing", "json", "re"):
        assert heavy not in modules


def test_an_invoke_imports_nothing(start, make_function):
    """Whatever an invoke needs is loaded during init, so its cost is not moved into the first invoke."""
    function = make_function(
        {
            "handler.py": (
                "import logging, sys\n"
                "AT_INIT = set(sys.modules)\n"
                "def Handle(event, context):\n"
                "    logging.getLogger('x').warning('one line %s', context.aws_request_id)\n"
                "    return sorted(set(sys.modules) - AT_INIT)\n"
            )
        }
    )
    for log_format in ("Text", "JSON"):
        env = start(function, env={"AWS_LAMBDA_LOG_FORMAT": log_format})
        assert env.invoke({"k": "\u00e9"}, timeout=10).payload == []
        assert env.invoke(b"\xef\xbb\xbf{}", timeout=10).payload == []
