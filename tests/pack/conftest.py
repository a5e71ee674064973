"""Fixtures that more than one file under tests/pack needs: task_dirs (test_pack.py, test_pack_safety.py), and
links and function, a function whose requirements come from a local folder (the test_depcache*.py files)."""

import pytest

from shim.pack import ziputil
from support import HANDLER
from wheelhouse import wheel


@pytest.fixture
def task_dirs():
    """Extracted, read-only trees: made writable again at teardown so tmp_path can be removed."""
    made = []
    yield made
    for path in made:
        ziputil.make_writable(str(path))


@pytest.fixture
def links(tmp_path):
    folder = tmp_path / "links"
    wheel(folder, "purewheel", "1.0")
    wheel(folder, "purewheel", "2.0")
    return folder


@pytest.fixture
def function(tmp_path, links):
    root = tmp_path / "fn"
    root.mkdir()
    (root / "handler.py").write_text(HANDLER)
    (root / "requirements.txt").write_text("--no-index\n--find-links %s\n-r more.txt\n" % links)
    (root / "more.txt").write_text("purewheel==1.0\n")
    return root
