import textwrap

import pytest

from shim.local.environment import Environment


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
