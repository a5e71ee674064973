"""The runtime itself has no dependencies on the hot path; it must run on every Python Lambda offers."""

import glob
import os
import shutil

import pytest

LAMBDA_PYTHONS = ["3.9", "3.10", "3.11", "3.12", "3.13"]


def _find(version):
    found = shutil.which("python" + version)
    candidates = ([found] if found else []) + sorted(
        glob.glob("/root/.pyenv/versions/%s*/bin/python%s" % (version, version))
    )
    # The pyenv shim on PATH may not run without its version selected; a real interpreter is a file.
    return next((c for c in candidates if c and ".pyenv/shims" not in c and os.access(c, os.X_OK)), None)


@pytest.mark.parametrize("version", LAMBDA_PYTHONS)
def test_runtime_on_python(start, make_function, version):
    python = _find(version)
    if python is None:
        pytest.skip("no python%s on this machine" % version)
    function = make_function(
        {
            "handler.py": (
                "import decimal, sys\n"
                "def Handle(event, context):\n"
                "    if event == 'fail':\n"
                "        raise KeyError(event)\n"
                "    return {'version': '%d.%d' % sys.version_info[:2], 'd': decimal.Decimal('1.50')}\n"
            )
        }
    )
    # Isolated: the runtime comes from the sandbox's runtime directory, not the checkout.
    env = start(function, python=python, env={"AWS_LAMBDA_LOG_FORMAT": "JSON"})
    ok = env.invoke("go", timeout=20)
    assert ok.payload["version"] == version and b'"d": 1.50' in ok.body
    failed = env.invoke("fail", timeout=20)
    assert failed.error_type == "KeyError" and "raise KeyError" in failed.payload["stackTrace"][0]
