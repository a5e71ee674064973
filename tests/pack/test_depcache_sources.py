"""Installed requirements: where the installer finds them (source distributions, --find-links, an index in the
requirements file, pip's fallback for a glibc uv cannot name) and the one line when it cannot.

Every install here is real (uv, or pip for its fallback) and offline: the packages are
built in the test and found through --find-links or a package index on 127.0.0.1.
"""

import os
import sys

import pytest

from shim.pack import dependencies
from support import HANDLER, UNREACHABLE, generations, read, shim
from wheelhouse import Index, sdist, wheel

# The slow tier (`make test-slow`, and CI): real installs and whole executions, many seconds each.
pytestmark = pytest.mark.slow


# -- source distributions, index options ----------------------------------------------------------------


@pytest.mark.parametrize("installer", ["uv", "pip"])
def test_the_sdist_fallback_finds_a_pure_python_sdist_through_find_links(installer, tmp_path):
    # issue 18: `--find-links DIR` + `purepkg==1.0`, DIR holding only an sdist, failed as "not found".
    links = tmp_path / "sdists"
    sdist(links, "purepkg", "1.0")
    root = tmp_path / "fn"
    root.mkdir()
    (root / "handler.py").write_text("import purepkg\ndef Handle(e, c):\n    return purepkg.VALUE\n")
    (root / "requirements.txt").write_text("--find-links %s\npurepkg==1.0\n" % links)
    index = Index(tmp_path / "nothing")  # the index, which has no purepkg (PyPI's place, offline)
    (tmp_path / "nothing").mkdir()
    env = {
        "SHIM_INSTALLER": installer,
        "UV_INDEX_URL": index.url,
        "PIP_INDEX_URL": index.url,
        "PIP_CONFIG_FILE": os.devnull,
        "PIP_FIND_LINKS": "",
    }
    try:
        run = shim("pack", root, "-o", tmp_path / "a.zip", env=env, timeout=300)
    finally:
        index.close()
    assert run.returncode == 0, run.stderr[-3000:]
    assert "installer %s" % installer in run.stdout
    assert "built from its source distribution (pure Python" in run.stdout
    assert read(tmp_path / "a.zip", "purepkg/__init__.py") == "VALUE = 'purepkg 1.0 from source'\n"


def test_a_glibc_uv_cannot_name_falls_back_to_pip_when_uv_finds_nothing(tmp_path):
    # Amazon Linux 2's glibc 2.26: uv's nearest platform is manylinux_2_17, which a manylinux_2_24 wheel
    # does not fit; pip, given every tag from 2.26 down, takes it.
    links = tmp_path / "links"
    tag = "cp%d%d-cp%d%d-manylinux_2_24_x86_64" % (sys.version_info[:2] * 2)
    wheel(links, "purewheel", "1.0", tag=tag)
    root = tmp_path / "fn"
    root.mkdir()
    (root / "handler.py").write_text(HANDLER)
    (root / "requirements.txt").write_text("--no-index\n--find-links %s\npurewheel==1.0\n" % links)
    version = "%d.%d" % sys.version_info[:2]
    run = shim(
        "pack",
        root,
        "-o",
        tmp_path / "a.zip",
        "--glibc",
        "2.26",
        "--arch",
        "x86_64",
        "--python-version",
        version,
        env={"PIP_CONFIG_FILE": os.devnull, "PIP_FIND_LINKS": ""},
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert "uv targets x86_64-manylinux_2_17, the nearest it names to glibc 2.26" in run.stderr
    assert "pip installs them (uv cannot name glibc 2.26 exactly)" in run.stderr
    assert "installer pip" in run.stdout
    assert read(tmp_path / "a.zip", "purewheel/__init__.py") == "VALUE = 'purewheel 1.0'\n"
    exact = shim("pack", root, "-o", tmp_path / "b.zip", "--glibc", "2.28", "--arch", "x86_64")
    assert exact.returncode == 0 and "installer uv" in exact.stdout  # 2.28 uv names: the wheel fits


def test_an_sdist_that_builds_compiled_code_is_refused(tmp_path):
    links = tmp_path / "sdists"
    sdist(links, "fastpkg", "1.0", tag="cp311-cp311-linux_x86_64")
    root = tmp_path / "fn"
    root.mkdir()
    (root / "handler.py").write_text("def Handle(e, c):\n    return 1\n")
    (root / "requirements.txt").write_text("--no-index\n--find-links %s\nfastpkg==1.0\n" % links)
    run = shim("pack", root, "-o", tmp_path / "a.zip")
    assert run.returncode == 2
    [line] = [line for line in run.stderr.splitlines() if line.startswith("shim pack: ")]
    assert "fastpkg 1.0 was built from source here" in line and "linux_x86_64" in line
    assert not generations()


def test_an_index_url_in_the_file_is_used(tmp_path):
    files = tmp_path / "files"
    wheel(files, "purewheel", "1.0")
    index = Index(files)
    try:
        root = tmp_path / "fn"
        root.mkdir()
        (root / "handler.py").write_text(HANDLER)
        (root / "requirements.txt").write_text("--index-url %s\npurewheel==1.0\n" % index.url)
        run = shim("pack", root, "-o", tmp_path / "a.zip", env={"UV_INDEX_URL": UNREACHABLE})
        assert run.returncode == 0, run.stderr
        assert "/simple/purewheel/" in index.requests
    finally:
        index.close()


def test_a_package_found_nowhere_is_one_line(tmp_path):
    root = tmp_path / "fn"
    root.mkdir()
    (root / "handler.py").write_text("def Handle(e, c):\n    return 1\n")
    (root / "requirements.txt").write_text("--no-index\n--find-links %s\nnothere==1.0\n" % tmp_path)
    run = shim("pack", root, "-o", tmp_path / "a.zip")
    assert run.returncode == 2
    assert run.stderr.strip().splitlines()[-1] == (
        "shim pack: nothere was not found on the package index: no wheel and no source distribution matches it "
        "(check the name and the version, and the index options)"
    )


def test_a_resolver_conflict_is_one_line(fp, function, tmp_path):
    # What uv says when the requirements conflict: faked, as the two packages would need an index.
    conflict = [
        "error: No solution found when resolving dependencies:",
        "  ╰─▶ Because a==1 depends on b==2 and you require b==1, we can conclude that your requirements are "
        "unsatisfiable.",
    ]
    fp.register([fp.any(min=1, max=1), "pip", "install", fp.any()], returncode=1, stdout=conflict)
    from shim.pack.errors import UsageError

    with pytest.raises(UsageError) as caught:
        dependencies.open_site(
            str(function / "requirements.txt"),
            str(function),
            str(tmp_path / "s"),
            "3.11",
            "x86_64",
            "2.34",
            lambda line: None,
        )
    assert "uv could not install" in str(caught.value) and "a==1 depends on b==2" in str(caught.value)
    assert not generations()
