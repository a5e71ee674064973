"""`shim pack`: what may enter a zip and what is kept out: symlinks, paths that escape, extraction,
exclusions, the output zip itself, files that would replace the runtime, and the handler's name."""

import os
import sys
import zipfile

import pytest

from shim.pack import ziputil
from shim.pack.errors import UsageError
from shim.pack.packer import extract, pack
from support import read_zip

TAG = sys.implementation.cache_tag


# -- safe ---------------------------------------------------------------------------------------------


def test_symlink_out_of_the_function_dir_is_refused(make_function, tmp_path):
    function = make_function({"handler.py": "def Handle(e, c):\n    return 1\n"})
    (tmp_path / "secret.txt").write_text("s3cr3t")
    os.symlink(str(tmp_path / "secret.txt"), str(function / "data.txt"))
    with pytest.raises(UsageError) as caught:
        pack(function, tmp_path / "out.zip")
    assert "data.txt" in str(caught.value) and "outside the function directory" in str(caught.value)
    assert not (tmp_path / "out.zip").exists()


def test_symlinks_inside_are_packed_as_files_and_loops_and_dangling_links_refused(make_function, tmp_path):
    function = make_function({"handler.py": "def Handle(e, c):\n    return 1\n", "lib/util.py": "X = 1\n"})
    os.symlink("lib/util.py", str(function / "alias.py"))
    names = read_zip(pack(function, tmp_path / "ok.zip").path)
    assert "alias.py" in names and "__pycache__/alias.%s.pyc" % TAG in names
    os.symlink("..", str(function / "lib" / "up"))
    with pytest.raises(UsageError, match="lib/up"):
        pack(function, tmp_path / "loop.zip")
    os.unlink(str(function / "lib" / "up"))
    os.symlink("missing.py", str(function / "gone.py"))
    with pytest.raises(UsageError, match="gone.py"):
        pack(function, tmp_path / "dangling.zip")


@pytest.mark.parametrize("name", ["/etc/passwd", "../evil.py", "a/../../evil.py", "C:/x.py", "a\\b.py", "./x.py"])
def test_absolute_and_parent_paths_never_enter_a_zip(tmp_path, name):
    with pytest.raises(UsageError) as caught:
        ziputil.write(str(tmp_path / "x.zip"), {"ok.py": (b"", False), name: (b"", False)})
    assert repr(name) in str(caught.value)
    assert not (tmp_path / "x.zip").exists()


def test_extract_refuses_entries_escaping_the_destination(tmp_path):
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(str(evil), "w") as archive:
        archive.writestr("../outside.txt", "x")
    with pytest.raises(UsageError, match="outside.txt"):
        extract(evil, tmp_path / "dest")
    assert not (tmp_path / "outside.txt").exists()


def test_extract_keeps_exec_bits_and_refuses_a_non_empty_destination(tmp_path, task_dirs):
    ziputil.write(str(tmp_path / "m.zip"), {"run": (b"#!/bin/sh\n", True), "a/b.txt": (b"b", False)})
    dest = extract(tmp_path / "m.zip", tmp_path / "writable", read_only=False)
    assert os.stat(os.path.join(dest, "run")).st_mode & 0o777 == 0o755
    assert os.stat(os.path.join(dest, "a", "b.txt")).st_mode & 0o777 == 0o644
    with pytest.raises(UsageError, match="not empty"):
        extract(tmp_path / "m.zip", dest)
    frozen = extract(tmp_path / "m.zip", tmp_path / "frozen")
    task_dirs.append(frozen)
    assert os.stat(os.path.join(frozen, "run")).st_mode & 0o777 == 0o555
    assert os.stat(os.path.join(frozen, "a")).st_mode & 0o222 == 0


def left_out_of(result, pattern):
    return sorted(path for path, why in result.left_out if why == pattern)


def test_exclusions_default_ignore_file_and_option(make_function, tmp_path):
    function = make_function(
        {
            "handler.py": "def Handle(e, c):\n    return 1\n",
            ".git/config": "[core]\n",
            ".env": "SECRET=1\n",
            ".env.production": "SECRET=2\n",
            "__pycache__/handler.cpython-39.pyc": "old",
            "pkg/__init__.py": "",
            "pkg/__pycache__/x.cpython-312.pyc": "",
            "tests/test_handler.py": "def test(): pass\n",
            "pkg/tests/test_x.py": "",
            "myenv/pyvenv.cfg": "home = /usr/bin\n",
            "myenv/lib/site.py": "",
            "notes/draft.md": "x",
            "data/big.csv": "1,2\n",
            "keep.txt": "k",
            ".shimignore": "# not for Lambda\nnotes/\n/draft.md\n",
            "draft.md": "root only",
            "pkg/draft.md": "kept",
            "node_modules/left-pad/index.js": "x",
            "web/node_modules/x/y.js": "x",
            "README.md": "# fn\n",
            "pkg/README.md": "kept: a package's own",
        }
    )
    result = pack(function, tmp_path / "out.zip", exclude=["*.csv"])
    names = set(read_zip(result.path))
    user = {
        n
        for n in names
        if not n.startswith(("shim/", "bootstrap"))
        and "dist-info" not in n
        and n.split("/")[0]
        not in {d for d, _ in result.vendored}
        | {"structlog", "importlib_metadata", "zipp", "lazy_importer", "typing_extensions"}
    }
    assert user == {
        "handler.py",
        "__pycache__/handler.%s.pyc" % TAG,
        "pkg/__init__.py",
        "pkg/__pycache__/__init__.%s.pyc" % TAG,
        "keep.txt",
        "pkg/draft.md",
        "pkg/README.md",
    }
    assert left_out_of(result, "node_modules/") == ["node_modules/", "web/node_modules/"]
    assert dict(result.left_out)["README.md"] == "/README*"
    left_out = dict(result.left_out)
    assert left_out["myenv/"] == "virtual environment"
    assert left_out[".env"] == left_out[".env.production"] == ".env*"
    assert left_out["notes/"] == "notes/" and left_out["data/big.csv"] == "*.csv"
    with_tests = pack(function, tmp_path / "tests.zip", exclude=["!tests/"])
    assert "tests/test_handler.py" in read_zip(with_tests.path)


def test_the_output_zip_inside_the_function_dir_is_not_packed_into_itself(make_function):
    function = make_function({"handler.py": "def Handle(e, c):\n    return 1\n"})
    first = pack(function, function / "dist" / "f.zip")
    second = pack(function, function / "dist" / "f.zip")
    assert "dist/f.zip" not in second.names and first.sha256 == second.sha256


@pytest.mark.parametrize(
    "files, culprit", [({"bootstrap": "#!/bin/sh\n"}, "bootstrap"), ({"shim/__init__.py": ""}, "shim/__init__.py")]
)
def test_user_files_cannot_replace_the_runtime(make_function, tmp_path, files, culprit):
    function = make_function(dict(files, **{"handler.py": "def Handle(e, c):\n    return 1\n"}))
    with pytest.raises(UsageError, match=culprit):
        pack(function, tmp_path / "out.zip")


def test_handler_is_checked(make_function, tmp_path):
    function = make_function({"app/main.py": "def Handle(e, c):\n    return 1\n"})
    assert pack(function, tmp_path / "a.zip", handler="app/main.Handle").warnings == []
    assert pack(function, tmp_path / "b.zip", handler="app.main.Handle").warnings == []
    missing = pack(function, tmp_path / "c.zip", handler="handler.Handle")
    assert any("handler.py" in w for w in missing.warnings)
    for bad in ("Handle", "../app/main.Handle"):
        with pytest.raises(UsageError, match="handler"):
            pack(function, tmp_path / "d.zip", handler=bad)
