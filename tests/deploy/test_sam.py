"""`shim new DIR --sam`, then the real `sam build` (a makefile build: no Docker) and `shim invoke` on its artifact.

aws-sam-cli and cfn-lint are heavy, so they live in a cached venv (`make sam-tools`
makes ~/.cache/lambda-shim-deploy/sam) or come from SHIM_TEST_SAM_BIN / PATH; the
test skips without them. sam's weekly version check (a request to PyPI) and its
telemetry are turned off through its own config directory, so the test stays on
this machine.
"""

import json
import os
import shutil
import stat
import subprocess
import sys
import time
import zipfile

import pytest

VERSION = "%d.%d" % sys.version_info[:2]
CACHED = os.path.expanduser("~/.cache/lambda-shim-deploy/sam/bin")


def tool(name):
    for directory in (os.environ.get("SHIM_TEST_SAM_BIN"), CACHED):
        if directory and os.access(os.path.join(directory, name), os.X_OK):
            return os.path.join(directory, name)
    return shutil.which(name)


SAM, CFN_LINT = tool("sam"), tool("cfn-lint")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (SAM and CFN_LINT), reason="needs aws-sam-cli and cfn-lint: `make sam-tools`"),
]


def run(args, cwd, env=None, stdin=None):
    return subprocess.run(args, cwd=str(cwd), env=env, input=stdin, capture_output=True, text=True, timeout=300)


def files(root):
    found = {}
    for directory, _, names in os.walk(str(root)):
        for name in names:
            path = os.path.join(directory, name)
            found[os.path.relpath(path, str(root)).replace(os.sep, "/")] = stat.S_IMODE(os.stat(path).st_mode)
    return found


def test_sam_build_packs_with_shim_and_shim_invoke_runs_what_it_built(tmp_path):
    shim = [sys.executable, "-m", "shim.cli"]
    done = run(shim + ["new", "hello-world", "--sam"], tmp_path)
    assert done.returncode == 0, done.stderr
    function = tmp_path / "hello-world"
    template = (function / "template.yaml").read_text()
    assert "BuildMethod: makefile" in template and "HelloWorldFunction:" in template
    assert "Runtime: python%s" % VERSION in template and "AWS_LAMBDA_EXEC_WRAPPER: /var/task/bootstrap" in template
    assert "build-HelloWorldFunction:\n\t$(SHIM) pack ." in (function / "Makefile").read_text()

    lint = run([CFN_LINT, "template.yaml"], function)
    assert lint.returncode == 0, lint.stdout + lint.stderr

    config = tmp_path / "sam-config"
    config.mkdir()
    (config / "metadata.json").write_text(json.dumps({"lastVersionCheck": time.time(), "telemetryEnabled": False}))
    env = dict(
        os.environ,
        SAM_CLI_TELEMETRY="0",
        __SAM_CLI_APP_DIR=str(config),
        PATH=os.pathsep.join([os.path.dirname(sys.executable), os.path.dirname(SAM), os.environ["PATH"]]),
    )
    build = run([SAM, "build"], function, env)
    assert build.returncode == 0, build.stdout + build.stderr
    artifact = function / ".aws-sam" / "build" / "HelloWorldFunction"

    # The artifact is the zip `shim pack` writes, unpacked with its modes: the same files, bootstrap 0755.
    packed = run(
        shim
        + [
            "pack",
            ".",
            "--python-version",
            VERSION,
            "--exclude",
            "template.yaml",
            "--exclude",
            "Makefile",
            "--exclude",
            ".aws-sam/",
            "--output",
            str(tmp_path / "hello.zip"),
        ]
        + (["--glibc", "2.26"] if VERSION in ("3.9", "3.10", "3.11") else []),
        function,
    )
    assert packed.returncode == 0, packed.stderr
    with zipfile.ZipFile(str(tmp_path / "hello.zip")) as archive:
        zipped = {info.filename: stat.S_IMODE(info.external_attr >> 16) for info in archive.infolist()}
    built = files(artifact)
    assert built == zipped
    assert built["bootstrap"] == 0o755 and {mode for name, mode in built.items() if name != "bootstrap"} == {0o644}
    tag = "cpython-%s" % VERSION.replace(".", "")
    sources = [name for name in built if name.endswith(".py")]
    assert "handler.py" in sources and "shim/runtime/main.py" in sources
    for source in sources:
        folder, _, module = source.rpartition("/")
        assert "%s__pycache__/%s.%s.pyc" % (folder + "/" if folder else "", module[:-3], tag) in built, source

    done = run(shim + ["invoke", str(artifact), "--event", "-"], tmp_path, stdin='{"name": "Ada"}')
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"message": "Hello, Ada!"}
    assert "REPORT RequestId" in done.stderr
