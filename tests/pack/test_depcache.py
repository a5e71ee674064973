"""Installed requirements: uv for Lambda's platform, the cache shared by pack, invoke and in-place runs: its
key, two packs at once, a killed pack, a changed entry, no index, `shim cache` and --refresh.

Every install here is real (uv, or pip for its fallback) and offline: the packages are
built in the test and found through --find-links or a package index on 127.0.0.1.
"""

import glob
import json
import os
import signal
import subprocess
import sys
import zipfile

import pytest

from shim.pack import depcache, dependencies
from support import HANDLER, UNREACHABLE, generations, installs, read, shim
from wheelhouse import Index, wheel

# The slow tier (`make test-slow`, and CI): real installs and whole executions, many seconds each.
pytestmark = pytest.mark.slow


# -- pack: uv, then the cache ------------------------------------------------------------------------


def test_the_first_pack_installs_with_uv_the_second_takes_the_cache(function, tmp_path):
    first = shim("pack", function, "-o", tmp_path / "a.zip")
    assert first.returncode == 0, first.stderr
    assert installs(first) == 1 and "with uv for manylinux" in first.stderr
    assert "installer uv\n" in first.stdout
    second = shim("pack", function, "-o", tmp_path / "b.zip")
    assert second.returncode == 0, second.stderr
    assert installs(second) == 0 and "from the cache" in second.stderr
    assert "installer uv (cache hit" in second.stdout
    assert (tmp_path / "a.zip").read_bytes() == (tmp_path / "b.zip").read_bytes()
    assert read(tmp_path / "b.zip", "purewheel/__init__.py") == "VALUE = 'purewheel 1.0'\n"
    names = zipfile.ZipFile(str(tmp_path / "b.zip")).namelist()
    assert not [n for n in names if n == ".lock" or n.endswith(("uv_cache.json", "uv_build.json", "/INSTALLER"))]


def _site(function, scratch, python="3.11", arch="x86_64", lines=None):
    entry = dependencies.open_site(
        str(function / "requirements.txt"),
        str(function),
        str(scratch),
        python,
        arch,
        "2.34",
        (lines if lines is not None else []).append,
    )
    entry.close()
    return entry


def test_the_key_follows_nested_files_options_python_and_arch(function, links, tmp_path):
    scratch = tmp_path / "scratch"
    first = _site(function, scratch)
    assert not first.hit and _site(function, scratch).hit and _site(function, scratch).key == first.key
    keys = {first.key}

    (function / "more.txt").write_text("purewheel==2.0\n")  # a nested -r file
    changed = _site(function, scratch)
    assert not changed.hit and changed.key not in keys
    with open(os.path.join(changed.site, "purewheel", "__init__.py")) as handle:
        assert "2.0" in handle.read()
    keys.add(changed.key)

    (function / "pins.txt").write_text("purewheel<3\n")
    (function / "requirements.txt").write_text("--no-index\n--find-links %s\n-r more.txt\n-c pins.txt\n" % links)
    constrained = _site(function, scratch)  # an option: a constraint file
    assert not constrained.hit and constrained.key not in keys
    keys.add(constrained.key)
    (function / "pins.txt").write_text("purewheel<2.5\n")  # the constraint file's contents
    assert _site(function, scratch).key not in keys
    keys.add(_site(function, scratch).key)

    for other in (_site(function, scratch, python="3.12"), _site(function, scratch, arch="arm64")):
        assert not other.hit and other.key not in keys
        keys.add(other.key)

    wheel(links, "purewheel", "2.1")  # what --find-links holds
    assert _site(function, scratch).key not in keys


def test_index_settings_from_the_environment_are_not_in_the_key(function, tmp_path, monkeypatch):
    scratch = tmp_path / "scratch"
    first = _site(function, scratch)
    for name in ("UV_INDEX_URL", "PIP_INDEX_URL", "UV_EXTRA_INDEX_URL", "PIP_EXTRA_INDEX_URL"):
        monkeypatch.setenv(name, UNREACHABLE)
    again = _site(function, scratch)
    assert again.hit and again.key == first.key


# -- concurrency and crashes -------------------------------------------------------------------------


def test_two_packs_at_once_install_once_and_give_the_same_zip(function, tmp_path):
    command = [sys.executable, "-m", "shim.cli", "pack", str(function), "-o"]
    runs = [
        subprocess.Popen(
            command + [str(tmp_path / ("%d.zip" % i))],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            universal_newlines=True,
        )
        for i in range(2)
    ]
    outputs = [run.communicate(timeout=120) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    assert sum(err.count("\n  installing ") for _, err in outputs) == 1
    assert sum("from the cache" in err for _, err in outputs) == 1
    assert (tmp_path / "0.zip").read_bytes() == (tmp_path / "1.zip").read_bytes()
    assert len(generations()) == 1


def test_a_pack_killed_mid_install_leaves_nothing_that_is_used(tmp_path):
    files = tmp_path / "files"
    wheel(files, "purewheel", "1.0")
    index = Index(files)
    try:
        root = tmp_path / "fn"
        root.mkdir()
        (root / "handler.py").write_text(HANDLER)
        (root / "requirements.txt").write_text("--index-url %s\npurewheel==1.0\n" % index.url)
        index.stall()  # uv asks for the wheel, and waits for it
        run = subprocess.Popen(
            [sys.executable, "-m", "shim.cli", "pack", str(root), "-o", str(tmp_path / "a.zip")],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        assert index.file_requested.wait(60), "uv never asked for the wheel"
        os.killpg(run.pid, signal.SIGKILL)  # the pack and its uv
        run.communicate(timeout=30)
        index.release()
        deps = depcache.deps_dir()
        assert glob.glob(os.path.join(deps, ".build-*")) and not glob.glob(os.path.join(deps, "*", "current"))
        again = shim("pack", root, "-o", tmp_path / "b.zip")
        assert again.returncode == 0, again.stderr
        assert installs(again) == 1 and "changed since" not in again.stderr
        assert not glob.glob(os.path.join(deps, ".build-*")) and len(generations()) == 1
        assert read(tmp_path / "b.zip", "purewheel/__init__.py") == "VALUE = 'purewheel 1.0'\n"
    finally:
        index.close()


def test_a_changed_entry_is_installed_again_with_one_line(function, tmp_path):
    assert shim("pack", function, "-o", tmp_path / "a.zip").returncode == 0
    [generation] = generations()
    target = os.path.join(generation, "site", "purewheel", "__init__.py")
    os.chmod(target, 0o644)
    with open(target, "a") as handle:
        handle.write("import os; os.system('echo pwned')\n")
    run = shim("pack", function, "-o", tmp_path / "b.zip")
    assert run.returncode == 0, run.stderr
    [line] = [line for line in run.stderr.splitlines() if "changed since" in line]
    assert "purewheel/__init__.py differs" in line and "installing them again" in line
    assert installs(run) == 1
    assert read(tmp_path / "b.zip", "purewheel/__init__.py") == "VALUE = 'purewheel 1.0'\n"
    assert (tmp_path / "a.zip").read_bytes() == (tmp_path / "b.zip").read_bytes()
    again = shim("pack", function, "-o", tmp_path / "c.zip")
    assert "changed since" not in again.stderr and installs(again) == 0


def test_an_added_file_counts_as_a_change(function, tmp_path):
    assert shim("pack", function, "-o", tmp_path / "a.zip").returncode == 0
    [generation] = generations()
    with open(os.path.join(generation, "site", "extra.py"), "w") as handle:
        handle.write("X = 1\n")
    run = shim("pack", function, "-o", tmp_path / "b.zip")
    assert "extra.py was added" in run.stderr
    assert "extra.py" not in zipfile.ZipFile(str(tmp_path / "b.zip")).namelist()


# -- without the index --------------------------------------------------------------------------------


def test_a_cache_hit_packs_and_invokes_with_the_index_unreachable(tmp_path):
    files = tmp_path / "files"
    wheel(files, "purewheel", "1.0")
    index = Index(files)
    root = tmp_path / "fn"
    root.mkdir()
    (root / "handler.py").write_text(HANDLER)
    (root / "requirements.txt").write_text("purewheel==1.0\n")
    try:  # the index comes from the environment, which is not part of the key
        first = shim("pack", root, "-o", tmp_path / "a.zip", env={"UV_INDEX_URL": index.url})
        assert first.returncode == 0, first.stderr
    finally:
        index.close()
    away = {"UV_INDEX_URL": UNREACHABLE, "PIP_INDEX_URL": UNREACHABLE, "UV_OFFLINE": "0"}
    packed = shim("pack", root, "-o", tmp_path / "b.zip", env=away)
    assert packed.returncode == 0, packed.stderr
    assert "from the cache" in packed.stderr
    invoked = shim("invoke", root, env=away)
    assert invoked.returncode == 0, invoked.stderr
    assert json.loads(invoked.stdout) == {"value": "purewheel 1.0"}
    in_place = shim("invoke", root, "--no-pack", env=away)
    assert in_place.returncode == 0, in_place.stderr
    assert json.loads(in_place.stdout) == {"value": "purewheel 1.0"}


# -- shim cache, --refresh ----------------------------------------------------------------------------


def test_shim_cache_shows_where_and_how_much_and_clear_empties_it(function, tmp_path):
    empty = shim("cache")
    assert empty.returncode == 0 and empty.stdout.splitlines()[0] == os.environ["SHIM_CACHE_DIR"]
    assert "0 bytes: 0 sets of installed requirements, 0 unpacked zips" in empty.stdout
    assert shim("pack", function, "-o", tmp_path / "a.zip").returncode == 0
    full = shim("cache")
    assert "1 set of installed requirements" in full.stdout and " 0 bytes" not in full.stdout
    cleared = shim("cache", "clear")
    assert cleared.returncode == 0 and "Cleared %s" % os.environ["SHIM_CACHE_DIR"] in cleared.stdout
    assert "0 bytes: 0 sets" in shim("cache").stdout
    assert installs(shim("pack", function, "-o", tmp_path / "b.zip")) == 1


def test_clear_leaves_an_entry_a_run_holds_and_says_so(function, tmp_path):
    entry = dependencies.open_site(
        str(function / "requirements.txt"),
        str(function),
        str(tmp_path / "s"),
        "3.11",
        "x86_64",
        "2.34",
        lambda line: None,
    )
    try:  # as a running `shim serve --no-pack` holds it
        cleared = shim("cache", "clear")
        assert cleared.returncode == 0 and "1 entry in use by a running command left" in cleared.stdout
        assert os.path.isfile(os.path.join(entry.site, "purewheel", "__init__.py"))
    finally:
        entry.close()
    assert "1 entry in use" not in shim("cache", "clear").stdout
    assert not generations()


def test_refresh_installs_again_and_drops_the_old_generation(function, tmp_path):
    assert shim("pack", function, "-o", tmp_path / "a.zip").returncode == 0
    before = generations()
    run = shim("pack", function, "-o", tmp_path / "b.zip", "--refresh")
    assert run.returncode == 0 and installs(run) == 1
    after = generations()
    assert len(after) == 1 and after != before
    invoked = shim("invoke", function, "--refresh")
    assert invoked.returncode == 0 and installs(invoked) == 0  # invoke packs quietly
    assert generations() != after
