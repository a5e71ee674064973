import atexit
import os
import shutil
import sys
import tempfile
import textwrap

import pytest
from _pytest.assertion.rewrite import AssertionRewritingHook

from shim.local.environment import Environment


def _run_the_product_as_shipped():
    """pytest rewrites the asserts of every module of a distribution that has a pytest plugin (lambda-shim has
    one: shim.local.pytest_plugin), so each pytest-xdist worker would parse, rewrite and compile every shim module
    it imports (no bytecode cache where PYTHONDONTWRITEBYTECODE is set). The tests run shim's code as it ships
    instead: only the test files and conftests are rewritten (shim's own asserts are not the tests')."""
    for finder in sys.meta_path:
        if isinstance(finder, AssertionRewritingHook):
            marked, decided = getattr(finder, "_must_rewrite", None), getattr(finder, "_marked_for_rewrite_cache", None)
            if isinstance(marked, set) and isinstance(decided, dict):  # pytest's own, private: else leave it be
                marked.discard("shim")
                decided.clear()


_run_the_product_as_shipped()


# The packer's cache (shim.pack.depcache): never the developer's own. One for the session, which every
# test shares (its entries are verified and content-addressed: bytecode, deflated members and unpacked
# trees compiled or made once serve every later pack of the same files); a test that fakes the installer,
# or looks into the cache itself, gets one of its own, so that a faked install cannot reach another test.
_SESSION_CACHE = tempfile.mkdtemp(prefix="shim-test-cache-")
atexit.register(shutil.rmtree, _SESSION_CACHE, True)
os.environ["SHIM_CACHE_DIR"] = _SESSION_CACHE
_OWN_CACHE_MODULES = {
    "test_depcache.py",
    "test_depcache_sources.py",
    "test_depcache_in_place.py",
    "test_installer_failures.py",
}


@pytest.fixture(autouse=True)
def _shim_cache_dir(request, tmp_path_factory, monkeypatch):
    if {"fp", "fake_process"} & set(request.fixturenames) or os.path.basename(
        str(request.node.fspath)
    ) in _OWN_CACHE_MODULES:
        monkeypatch.setenv("SHIM_CACHE_DIR", str(tmp_path_factory.mktemp("shim-cache")))
    else:
        monkeypatch.setenv("SHIM_CACHE_DIR", _SESSION_CACHE)


@pytest.fixture
def make_function(tmp_path):
    """Write {relative path: source} into a fresh function directory and return it."""

    def make(files, root=None):
        root = root or tmp_path / "function"
        for rel, source in files.items():
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(source))
        return root

    return make


@pytest.fixture
def start():
    """Start a function through the real the bootstrap against a local Runtime API; stopped at teardown."""
    started = []

    def start_env(task_root, handler="handler.Handle", ready=True, **options):
        env = Environment(task_root, handler, **options).start()
        started.append(env)
        if ready:
            assert env.wait_ready(15) is not None, "runtime did not reach /next:\n" + env.output()
        return env

    yield start_env
    for env in started:
        env.stop()


@pytest.fixture
def make_plugin():
    """Write a runtime plugin distribution into root, as pip would install it there: its modules and a
    dist-info whose entry_points.txt declares {name: 'module:attr'} in the group lambda_shim.plugins."""

    def make(root, distribution, entry_points, modules, version="1.0"):
        info = root / ("%s-%s.dist-info" % (distribution.replace("-", "_"), version))
        info.mkdir(parents=True, exist_ok=True)
        (info / "METADATA").write_text("Metadata-Version: 2.1\nName: %s\nVersion: %s\n" % (distribution, version))
        points = "".join("%s = %s\n" % item for item in entry_points.items())
        (info / "entry_points.txt").write_text("[lambda_shim.plugins]\n" + points)
        for rel, source in modules.items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_text(textwrap.dedent(source))
        return root

    return make


# The files whose tests take longest together (measured with --durations under `make test`, longest first):
# under pytest-xdist they start first, so that the short files fill in at the end and no long one starts last
# while the other workers run out of work. A file missing here only starts in collection order.
LONGEST_FIRST = [
    "deploy/test_deploy.py",
    "local/test_debugging.py",
    "local/test_streaming_tools.py",
    "local/test_eventstream_and_function_url.py",
    "local/test_local_fidelity.py",
    "local/test_hints.py",
    "runtime/test_concurrency.py",
    "runtime/test_watchdog.py",
    "local/test_worker_init_failure.py",
    "local/test_invoke_command.py",
    "local/test_project_cli.py",
    "local/test_isolation.py",
    "pack/test_pack_refusals.py",
    "runtime/test_shutdown.py",
    "runtime/test_compat.py",
    "runtime/test_plugins.py",
    "local/test_platform_modes.py",
    "pack/test_pack_targets.py",
    "local/test_watch.py",
    "pack/test_pack.py",
    "pack/test_pack_python_version.py",
    "pack/test_pack_safety.py",
    "pack/test_pipinstall.py",
    "pack/test_pack_cli.py",
    "runtime/test_runtime.py",
    "runtime/test_import_cost.py",
    "runtime/test_logging.py",
    "local/test_plugin.py",
    "runtime/test_stream.py",
    "deploy/test_runtime_image.py",
    "local/test_plugins_local.py",
]


def pytest_collection_modifyitems(config, items):
    """Under pytest-xdist (`make test`: one file per worker at a time, in this order), the files with a test
    marked slow go first, then the LONGEST_FIRST ones, so that none of them starts last and keeps one worker
    busy after the others are done."""
    if hasattr(config, "workerinput"):  # an xdist worker: its collection is what the workers are given
        slow = {item.nodeid.split("::")[0] for item in items if item.get_closest_marker("slow")}
        rank = {"tests/" + name: at for at, name in enumerate(LONGEST_FIRST)}

        def order(item):
            path = item.nodeid.split("::")[0]
            return path not in slow, rank.get(path, len(rank))

        items.sort(key=order)  # stable: collection order otherwise
