"""docs/examples/cdk/app.js through the real `cdk synth`: CDK bundles with `shim pack` locally (no Docker).

Needs node, the aws-cdk CLI and aws-cdk-lib: `make cdk-tools` installs them from npm into
~/.cache/lambda-shim-deploy/cdk (about 220 MB), or point SHIM_TEST_CDK_MODULES at a
node_modules that has them; the test skips without. A synth takes ~10 s here, so it is
marked slow. The CLI's version check, notices and telemetry are turned off: it stays on
this machine.
"""

import json
import os
import shutil
import stat
import subprocess
import sys
import zipfile

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
APP = os.path.join(REPO, "docs", "examples", "cdk", "app.js")
VERSION = "%d.%d" % sys.version_info[:2]
MODULES = os.environ.get("SHIM_TEST_CDK_MODULES") or os.path.expanduser("~/.cache/lambda-shim-deploy/cdk/node_modules")
CDK = os.path.join(MODULES, ".bin", "cdk")
RUNTIME_ARN = "arn:aws:lambda:us-east-1:123456789012:runtime/lambda-shim"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (shutil.which("node") and os.access(CDK, os.X_OK) and os.path.isdir(os.path.join(MODULES, "aws-cdk-lib"))),
        reason="needs node, the aws-cdk CLI and aws-cdk-lib: `make cdk-tools`",
    ),
]


def files(root):
    return {
        os.path.relpath(os.path.join(d, n), root).replace(os.sep, "/"): stat.S_IMODE(
            os.stat(os.path.join(d, n)).st_mode
        )
        for d, _, names in os.walk(root)
        for n in names
    }


def test_cdk_synth_bundles_each_function_with_shim_pack(tmp_path):
    shim = [sys.executable, "-m", "shim.cli"]
    assert subprocess.run(shim + ["new", "hello"], cwd=str(tmp_path), capture_output=True).returncode == 0
    shutil.copy(APP, str(tmp_path / "app.js"))
    env = dict(
        os.environ,
        NODE_PATH=MODULES,
        CDK_DISABLE_VERSION_CHECK="1",
        CDK_DISABLE_CLI_TELEMETRY="true",
        PATH=os.pathsep.join([os.path.dirname(sys.executable), os.environ["PATH"]]),
    )
    glibc = ["--glibc", "2.26"] if VERSION in ("3.9", "3.10", "3.11") else []
    done = subprocess.run(
        [
            CDK,
            "synth",
            "--app",
            "node app.js",
            "--no-notices",
            "-o",
            "cdk.out",
            "-c",
            "function=hello",
            "-c",
            "python=" + VERSION,
            "-c",
            "arch=x86_64",
            "-c",
            "runtimeArn=" + RUNTIME_ARN,
            "-c",
            "runtimeAlias=prod",
        ],
        cwd=str(tmp_path),
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = tmp_path / "cdk.out"
    template = json.loads((out / "ShimExample.template.json").read_text())
    functions = {key: value for key, value in template["Resources"].items() if value["Type"] == "AWS::Lambda::Function"}
    classic = next(f for key, f in functions.items() if key.startswith("Hello") and "Custom" not in key)
    custom = next(f for key, f in functions.items() if "Custom" in key)

    props = classic["Properties"]
    assert (props["Runtime"], props["Handler"], props["Architectures"]) == (
        "python" + VERSION,
        "handler.Handle",
        ["x86_64"],
    )
    assert props["Environment"]["Variables"] == {"AWS_LAMBDA_EXEC_WRAPPER": "/var/task/bootstrap"}
    asset = str(out / classic["Metadata"]["aws:asset:path"])
    packed = subprocess.run(
        shim
        + ["pack", "hello", "--python-version", VERSION, "--arch", "x86_64", "--output", str(tmp_path / "hello.zip")]
        + glibc,
        cwd=str(tmp_path),
        capture_output=True,
    )
    assert packed.returncode == 0, packed.stderr
    with zipfile.ZipFile(str(tmp_path / "hello.zip")) as archive:
        zipped = {i.filename: stat.S_IMODE(i.external_attr >> 16) for i in archive.infolist()}
    assert files(asset) == zipped  # the packed function, unpacked with its modes
    assert zipped["bootstrap"] == 0o755 and "shim/runtime/main.py" in zipped

    props = custom["Properties"]
    assert props["Runtime"] == "custom" and "Environment" not in props
    assert props["RuntimeConfig"] == {"RuntimeArn": RUNTIME_ARN, "RuntimeAlias": "prod"}
    bare = files(str(out / custom["Metadata"]["aws:asset:path"]))
    assert "handler.py" in bare and "bootstrap" not in bare and not any(n.startswith("shim/") for n in bare)
