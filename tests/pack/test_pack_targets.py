"""`shim pack` for Python 3.14 and 3.15, and for durable functions: wheels from a local folder, no index.

Wheels are made here (tiny ones, or repacked from what this environment has installed) and the
requirements file says `--no-index --find-links DIR`: the installer sees nothing else.
"""

import base64
import gzip
import hashlib
import importlib.metadata
import json
import os
import sys
import zipfile

import pytest

from shim.pack import bytecode, durable_check
from shim.pack.packer import pack


def _record_line(name, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return "%s,sha256=%s,%d" % (name, digest, len(data))


def make_wheel(where, name, version, tag, files, requires=()):
    """A wheel `name-version-tag.whl` in where holding files {path: bytes}."""
    dist = "%s-%s.dist-info" % (name.replace("-", "_"), version)
    contents = dict(files)
    contents[dist + "/METADATA"] = (
        "Metadata-Version: 2.1\nName: %s\nVersion: %s\n%s"
        % (name, version, "".join("Requires-Dist: %s\n" % r for r in requires))
    ).encode()
    contents[dist + "/WHEEL"] = (
        "Wheel-Version: 1.0\nGenerator: lambda-shim-tests\nRoot-Is-Purelib: %s\n%s"
        % ("true" if tag.endswith("-none-any") else "false", "".join("Tag: %s\n" % t for t in _expand(tag)))
    ).encode()
    record = [_record_line(path, data) for path, data in sorted(contents.items())] + [dist + "/RECORD,,"]
    contents[dist + "/RECORD"] = ("\n".join(record) + "\n").encode()
    path = os.path.join(str(where), "%s-%s-%s.whl" % (name.replace("-", "_"), version, tag))
    with zipfile.ZipFile(path, "w") as archive:
        for entry, data in sorted(contents.items()):
            archive.writestr(entry, data)
    return path


def _expand(tag):
    pythons, abi, platforms = tag.split("-")
    return ["%s-%s-%s" % (p, abi, plat) for p in pythons.split(".") for plat in platforms.split(".")]


def requirements_for(function, wheels, names):
    (function / "requirements.txt").write_text("--no-index\n--find-links %s\n%s\n" % (wheels, "\n".join(names)))


LINUX = "manylinux_2_17_x86_64.manylinux2014_x86_64"


@pytest.fixture
def wheels(tmp_path):
    """For each CPython from 3.12 to 3.15 a version-specific wheel of `speedy`; one abi3 wheel of `stable`."""
    where = tmp_path / "wheels"
    where.mkdir()
    for minor in (12, 13, 14, 15):
        tag = "cp3%d-cp3%d-%s" % (minor, minor, LINUX)
        make_wheel(where, "speedy", "1.0", tag, {"speedy/__init__.py": b"BUILT_FOR = 'cp3%d'\n" % minor})
    make_wheel(where, "stable", "2.0", "cp39-abi3-" + LINUX, {"stable/__init__.py": b"ABI = 'abi3'\n"})
    return where


@pytest.mark.parametrize("version", ["3.14", "3.15"])
def test_new_pythons_get_their_own_wheels_and_abi3_ones(make_function, tmp_path, wheels, version, monkeypatch):
    monkeypatch.setattr(bytecode, "candidates", lambda v: iter(()))  # no such interpreter: sources only
    function = make_function({"handler.py": "def Handle(e, c):\n    return 1\n"})
    requirements_for(function, wheels, ["speedy", "stable"])
    result = pack(function, tmp_path / "out.zip", python_version=version, arch="x86_64")
    with zipfile.ZipFile(result.path) as archive:
        assert archive.read("speedy/__init__.py") == b"BUILT_FOR = 'cp%s'\n" % version.replace(".", "").encode()
        assert archive.read("stable/__init__.py") == b"ABI = 'abi3'\n"
    assert result.python_version == version


@pytest.mark.parametrize("version", ["3.14", "3.15"])
def test_without_an_interpreter_of_the_version_the_zip_has_sources_and_a_warning(make_function, tmp_path, version):
    python, _ = bytecode.find_interpreter(version)
    if python is not None:
        pytest.skip("this machine has CPython %s: the bytecode path applies (tests/pack/test_pack.py)" % version)
    function = make_function({"handler.py": "def Handle(e, c):\n    return 1\n"})
    result = pack(function, tmp_path / "src.zip", python_version=version)
    assert result.compiled_with is None and not [n for n in result.names if n.endswith(".pyc")]
    [warning] = result.warnings
    assert "no bytecode" in warning and version in warning


# -- durable functions --------------------------------------------------------------------------------


def fake_model(tmp_path, operations):
    model = tmp_path / "service-2.json.gz"
    with gzip.open(str(model), "wb") as handle:
        handle.write(json.dumps({"operations": {op: {} for op in operations}}).encode())
    return str(model)


def test_durable_check_warns_about_a_missing_or_old_botocore(tmp_path):
    sdk = {"aws_durable_execution_sdk_python/__init__.py": ("x", False)}
    said, warned = [], []
    assert not durable_check.check(dict(sdk), said.append, warned.append)
    assert "no botocore is in the zip" in warned[-1] and "boto3>=1.43.114" in warned[-1]
    old = dict(
        sdk,
        **{
            durable_check.MODEL + ".gz": (fake_model(tmp_path, ["Invoke"]), False),
            "botocore/__init__.py": ("x", False),
        },
    )
    assert not durable_check.check(old, said.append, warned.append)
    assert "lacks CheckpointDurableExecution, GetDurableExecutionState" in warned[-1]
    new = dict(old, **{durable_check.MODEL + ".gz": (fake_model(tmp_path, durable_check.NEEDED + ("Invoke",)), False)})
    assert durable_check.check(new, said.append, warned.append) and len(warned) == 2
    assert durable_check.check({"handler.py": ("x", False)}, said.append, warned.append)  # no SDK: nothing to say


def repack_installed(where, name):
    """A wheel of an installed pure-Python distribution, from its RECORD (no network)."""
    dist = importlib.metadata.distribution(name)
    files = {}
    for path in dist.files:
        text = str(path)
        if (
            text.startswith("..")
            or "__pycache__" in text
            or text.endswith((".dist-info/RECORD", "INSTALLER", "REQUESTED", "direct_url.json"))
        ):
            continue
        files[text.replace(os.sep, "/")] = path.locate().read_bytes()
    info = next(n for n in files if n.endswith(".dist-info/METADATA")).split("/")[0]
    record = [_record_line(n, d) for n, d in sorted(files.items())] + [info + "/RECORD,,"]
    files[info + "/RECORD"] = ("\n".join(record) + "\n").encode()
    path = os.path.join(
        str(where), "%s-%s-py3-none-any.whl" % (info[: -len(".dist-info")].rsplit("-", 1)[0], dist.version)
    )
    with zipfile.ZipFile(path, "w") as archive:
        for entry, data in sorted(files.items()):
            archive.writestr(entry, data)


DURABLE_CLOSURE = [
    "aws-durable-execution-sdk-python",
    "boto3",
    "botocore",
    "jmespath",
    "s3transfer",
    "python-dateutil",
    "six",
    "urllib3",
]


@pytest.mark.skipif(sys.version_info < (3, 11), reason="the durable SDK needs Python >= 3.11")
def test_a_durable_function_zip_carries_a_boto3_with_the_durable_apis(make_function, tmp_path):
    try:
        for name in DURABLE_CLOSURE:
            importlib.metadata.distribution(name)
    except importlib.metadata.PackageNotFoundError as exc:
        pytest.skip("not installed here: %s" % exc)
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    for name in DURABLE_CLOSURE:
        repack_installed(wheels, name)
    function = make_function(
        {
            "handler.py": "from aws_durable_execution_sdk_python import durable_execution\n"
            "@durable_execution\ndef Handle(event, context):\n    return 1\n"
        }
    )
    requirements_for(function, wheels, ["aws-durable-execution-sdk-python"])
    lines = []
    result = pack(function, tmp_path / "durable.zip", log=lines.append)
    assert result.warnings == []
    assert any("durable-execution APIs are in the zip" in line for line in lines)
    with zipfile.ZipFile(result.path) as archive:
        names = set(archive.namelist())
        assert {"boto3/__init__.py", "botocore/__init__.py", "aws_durable_execution_sdk_python/__init__.py"} <= names
        model = json.loads(gzip.decompress(archive.read(durable_check.MODEL + ".gz")))
    assert set(durable_check.NEEDED) <= set(model["operations"])
