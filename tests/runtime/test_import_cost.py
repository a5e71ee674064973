"""What importing the runtime loads: the cold start pays for every module."""

import subprocess
import sys


def test_runtime_modules_stay_light():
    # The cold start depends on what the runtime imports; http.client and ssl must not come in.
    code = "import sys, shim.runtime.main; print(' '.join(sorted(sys.modules)))"
    modules = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    for heavy in ("http.client", "ssl", "asyncio", "structlog", "dataclasses", "typing", "json", "re"):
        assert heavy not in modules
