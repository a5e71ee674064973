"""`shim pack` with pip (shim.pack.pipinstall): the arguments for Lambda's platform, the source-distribution
fallback, one-line failures (pip faked), and one real install from the index when it is reachable."""

import os
import sys

import pytest

from shim.pack import pipinstall
from shim.pack.errors import UsageError
from shim.pack.packer import pack
from support import network_reachable

TAG = sys.implementation.cache_tag
VERSION = "%d.%d" % sys.version_info[:2]


# -- pip, faked --------------------------------------------------------------------------------------


def expected_pip(requirements, target, python_version, machine, find_links=()):
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--requirement",
        requirements,
        "--target",
        target,
        "--implementation",
        "cp",
        "--python-version",
        python_version,
        "--only-binary=:all:",
    ]
    for minor in range(34, 16, -1):  # Amazon Linux 2023 has glibc 2.34
        command += ["--platform", "manylinux_2_%d_%s" % (minor, machine)]
    command += ["--platform", "manylinux2014_%s" % machine]
    for directory in find_links:
        command += ["--find-links", directory]
    return command + ["--no-compile", "--disable-pip-version-check", "--no-input", "--progress-bar", "off"]


@pytest.mark.parametrize("arch, machine", [("x86_64", "x86_64"), ("arm64", "aarch64")])
def test_pip_gets_lambdas_platform(fp, tmp_path, arch, machine):
    requirements = str(tmp_path / "requirements.txt")
    target = str(tmp_path / "site")
    command = expected_pip(requirements, target, "3.12", machine)
    fp.register(command, stdout=["Collecting six", "Successfully installed six-1.17.0"])
    lines = []
    assert pipinstall.install([requirements], target, arch, "3.12", log=lines.append) == []
    assert fp.call_count(command) == 1
    assert "    Successfully installed six-1.17.0" in lines


def test_a_pure_python_sdist_is_built_once_and_fed_back_to_pip(fp, tmp_path):
    requirements, target = str(tmp_path / "requirements.txt"), str(tmp_path / "site")
    wheels = str(tmp_path / "built-wheels")
    fp.register(
        expected_pip(requirements, target, "3.12", "x86_64"),
        returncode=1,
        stdout=[
            "ERROR: Could not find a version that satisfies the requirement purepkg==1.0 (from versions: none)",
            "ERROR: No matching distribution found for purepkg==1.0",
        ],
    )

    def build(process):
        with open(os.path.join(wheels, "purepkg-1.0-py3-none-any.whl"), "wb"):
            pass

    fp.register(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-binary",
            "purepkg",
            "--wheel-dir",
            wheels,
            "--disable-pip-version-check",
            "--no-input",
            "--progress-bar",
            "off",
            "purepkg==1.0",
        ],
        callback=build,
    )
    retry = expected_pip(requirements, target, "3.12", "x86_64", find_links=[wheels])
    fp.register(retry, stdout=["Successfully installed purepkg-1.0"])
    lines = []
    [note] = pipinstall.install([requirements], target, "x86_64", "3.12", log=lines.append)
    assert "purepkg==1.0" in note and "source distribution" in note and "purepkg-1.0-py3-none-any.whl" in note
    assert fp.call_count(retry) == 1
    assert any("has no wheel for Linux x86_64 / CPython 3.12" in line for line in lines)


def test_an_sdist_with_compiled_code_is_refused(fp, tmp_path):
    requirements, target = str(tmp_path / "requirements.txt"), str(tmp_path / "site")
    wheels = str(tmp_path / "built-wheels")
    fp.register(
        expected_pip(requirements, target, "3.12", "aarch64"),
        returncode=1,
        stdout=["ERROR: No matching distribution found for fastpkg"],
    )

    def build(process):
        open(os.path.join(wheels, "fastpkg-2.0-cp311-cp311-linux_x86_64.whl"), "wb").close()

    fp.register([sys.executable, "-m", "pip", "wheel", fp.any()], callback=build)
    with pytest.raises(UsageError) as caught:
        pipinstall.install([requirements], target, "arm64", "3.12")
    assert "fastpkg" in str(caught.value) and "compiled code" in str(caught.value)


def test_other_pip_failures_are_one_clear_line(fp, tmp_path):
    requirements, target = str(tmp_path / "requirements.txt"), str(tmp_path / "site")
    fp.register(
        expected_pip(requirements, target, "3.12", "x86_64"),
        returncode=1,
        stdout=[
            "Collecting x",
            "ERROR: Cannot install a==1 and b==2 because these package versions have conflicting dependencies.",
        ],
    )
    with pytest.raises(UsageError, match="conflicting dependencies"):
        pipinstall.install([requirements], target, "x86_64", "3.12")


def test_pack_includes_what_pip_installed_without_its_bookkeeping(fp, make_function, tmp_path, monkeypatch):
    monkeypatch.setenv("SHIM_INSTALLER", "pip")  # the pip fallback, faked
    function = make_function(
        {
            "handler.py": "import fakepkg\ndef Handle(e, c):\n    return fakepkg.X\n",
            "requirements.txt": "fakepkg==1.0\n",
        }
    )

    def install(process):
        target = process.args[process.args.index("--target") + 1]
        for rel, text in (
            ("fakepkg/__init__.py", "X = 1\n"),
            ("fakepkg-1.0.dist-info/METADATA", "Name: fakepkg\n"),
            ("fakepkg-1.0.dist-info/RECORD", ""),
            ("bin/fake", "#!/usr/bin/python\n"),
        ):
            os.makedirs(os.path.dirname(os.path.join(target, rel)), exist_ok=True)
            with open(os.path.join(target, rel), "w") as handle:
                handle.write(text)

    command = expected_pip("REQUIREMENTS", "TARGET", VERSION, "aarch64")
    command[command.index("TARGET")] = fp.any(min=1, max=1)
    command[command.index("REQUIREMENTS")] = fp.any(min=1, max=1)  # a copy in the scratch directory
    fp.register(command, callback=install)
    fp.pass_command([sys.executable, "-S", fp.any()], occurrences=50)  # bytecode workers, for real
    result = pack(function, tmp_path / "out.zip", arch="arm64")
    names = set(result.names)
    assert {
        "fakepkg/__init__.py",
        "fakepkg/__pycache__/__init__.%s.pyc" % TAG,
        "fakepkg-1.0.dist-info/METADATA",
        "requirements.txt",
    } <= names
    assert "fakepkg-1.0.dist-info/RECORD" not in names and "bin/fake" not in names
    assert fp.call_count(command) == 1


def test_a_real_pip_install_of_a_small_pure_python_package(make_function, tmp_path):
    if not network_reachable():
        pytest.skip("the package index is unreachable (offline): the faked pip tests cover the arguments")
    function = make_function(
        {"handler.py": "import six\ndef Handle(e, c):\n    return six.PY3\n", "requirements.txt": "six==1.17.0\n"}
    )
    try:
        result = pack(function, tmp_path / "six.zip", arch="arm64")
    except UsageError as exc:
        if "connection" in str(exc).lower() or "resolve" in str(exc).lower():
            pytest.skip("the package index did not answer: %s" % exc)
        raise
    assert {"six.py", "__pycache__/six.%s.pyc" % TAG} <= set(result.names)
    assert any(n.startswith("six-1.17.0.dist-info/") for n in result.names)
