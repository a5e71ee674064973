"""`shim pack`: the zip's contents and bytecode, a real run from it, reproducibility, size warnings and
progress, and memory that stays flat for a big file."""

import hashlib
import importlib.util
import os
import sys
import zipfile

import pytest

from shim.pack import bytecode
from shim.pack.errors import UsageError
from shim.pack.packer import extract, pack, summary
from support import read_zip, snapshot

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HANDLERS = os.path.join(REPO, "shim", "local", "templates", "handlers")
TAG = sys.implementation.cache_tag
VERSION = "%d.%d" % sys.version_info[:2]
# The interpreter behind the venv: it has none of the shim's dependencies, so a
# run with it proves the zip carries its own.
BASE_PYTHON = getattr(sys, "_base_executable", None) or sys.executable


@pytest.fixture(scope="module")
def packed(tmp_path_factory):
    """handlers/ packed once for the tests that only read the zip."""
    return pack(HANDLERS, tmp_path_factory.mktemp("pack") / "handler.zip")


# -- the zip ----------------------------------------------------------------------------------------


def test_bootstrap_is_stored_executable(packed):
    infos = read_zip(packed.path)
    bootstrap = infos["bootstrap"]
    assert bootstrap.create_system == 3
    assert bootstrap.external_attr >> 16 == 0o100755
    others = {info.external_attr >> 16 for name, info in infos.items() if name != "bootstrap"}
    assert others == {0o100644}
    assert {info.date_time for info in infos.values()} == {(1980, 1, 1, 0, 0, 0)}
    assert list(infos) == sorted(infos)


def test_zip_ships_exactly_the_runtime_part_and_its_dependency_closure(packed):
    names = set(read_zip(packed.path))
    user = {n for n in names if "/" not in n and n.endswith(".py")}
    assert user == {"api.py", "failing.py", "handler.py", "http_stream.py", "sqs.py", "stream.py", "structured.py"}
    user_pycs = {bytecode.pyc_name(n, VERSION) for n in user}
    structlog_version = importlib.metadata.version("structlog")
    # The top level: the launcher, the user's code, the shim package, structlog and its metadata. Nothing
    # the packer alone needs (importlib_metadata, zipp) and nothing from the developer side.
    tops = {n.split("/")[0] for n in names - user - user_pycs - {"bootstrap"}}
    assert tops == {"shim", "structlog", "structlog-%s.dist-info" % structlog_version}
    shipped = {n for n in names if n.startswith("shim/") and n.endswith(".py")}
    runtime_dir = os.path.join(REPO, "shim", "runtime")
    expected = {"shim/__init__.py", "shim/__main__.py"} | {
        "shim/runtime/" + f for f in os.listdir(runtime_dir) if f.endswith(".py")
    }
    assert shipped == expected
    for module in (
        "main",
        "client",
        "loader",
        "invoke",
        "context",
        "marshal",
        "errors",
        "logs",
        "logbridge",
        "signals",
        "crash",
        "aio",
    ):
        assert "shim/runtime/%s.py" % module in shipped
    assert not [
        n for n in names if n.startswith(("shim/pack/", "shim/local/", "shim/cli/", "importlib_metadata", "zipp"))
    ]
    assert "shim/runtime/bootstrap" not in names  # the launcher is at the root, once
    assert "lambda_shim_plugins.json" not in names  # no plugins among handlers/ and its requirements
    assert "structlog/__pycache__/__init__.%s.pyc" % TAG in names
    sources = {n for n in names if n.endswith(".py")}
    assert {n for n in sources if bytecode.pyc_name(n, VERSION) not in names} == set()
    assert [n for n in names if n.endswith(".pyc") and not n.endswith(".%s.pyc" % TAG)] == []
    assert [n for n in names if n.endswith(("/RECORD", "/INSTALLER", "/direct_url.json"))] == []
    assert packed.files == len(names)
    assert packed.zipped_bytes == os.path.getsize(packed.path)
    assert packed.unzipped_bytes == sum(i.file_size for i in read_zip(packed.path).values())
    assert packed.compiled == len(sources)
    assert {name for name, _ in packed.vendored} == {"structlog"}


def test_bytecode_is_unchecked_hash_for_the_running_interpreter(packed):
    with zipfile.ZipFile(packed.path) as archive:
        for name in archive.namelist():
            if name.endswith(".pyc"):
                header = archive.read(name)[:16]
                assert header[:4] == importlib.util.MAGIC_NUMBER, name
                assert int.from_bytes(header[4:8], "little") == 0b01, name  # hash-based, source not checked


def test_summary_names_everything_a_deploy_needs(packed):
    text = summary(packed)
    for expected in (
        packed.path,
        "Handler handler.Handle",
        "Architecture %s" % packed.arch,
        "AWS_LAMBDA_EXEC_WRAPPER=/var/task/bootstrap",
        "provided.al2023",
        "python%s" % VERSION,
        "shim dockerfile",
        "zipped",
        "unzipped",
        packed.sha256,
    ):
        assert expected in text


# -- a real run from the zip ------------------------------------------------------------------------


def test_packed_handlers_run_read_only_from_their_bytecode(packed, tmp_path, start, task_dirs):
    task = extract(packed.path, tmp_path / "task")
    task_dirs.append(task)
    assert os.stat(os.path.join(task, "bootstrap")).st_mode & 0o777 == 0o555
    assert not os.access(task, os.W_OK) or os.geteuid() == 0  # root writes anyway: the snapshot is the check
    before = snapshot(task)
    env = start(
        task,
        "handler.Handle",
        bootstrap=os.path.join(task, "bootstrap"),
        python=BASE_PYTHON,
        env={"PYTHONVERBOSE": "1", "PYTHONDONTWRITEBYTECODE": ""},
    )
    result = env.invoke({"name": "Ada"}, timeout=10)
    assert result.kind == "response", env.output()
    assert result.payload["message"] == "Hello, Ada!"
    env.stop()
    err = env.output("stderr")
    for module in ("__pycache__/handler", "shim/runtime/__pycache__/main", "shim/runtime/__pycache__/client"):
        assert "code object from '%s/%s.%s.pyc'" % (task, module, TAG) in err, err[-3000:]
    # Every module imported from the task root came from its .pyc, and none was written.
    from_task = [line for line in err.splitlines() if "code object from '%s/" % task in line]
    assert len(from_task) >= 5
    assert "# wrote " not in err and "could not create" not in err
    assert snapshot(task) == before


def test_vendored_dependencies_load_from_the_zip(make_function, tmp_path, start, task_dirs):
    function = make_function(
        {
            "app.py": """
        import importlib.metadata, importlib.util, sys
        import structlog

        def origin(name):
            spec = importlib.util.find_spec(name)
            return spec.origin if spec else None

        def Handle(event, context):
            return {"structlog": structlog.__file__, "cached": structlog.__cached__,
                    "metadata": origin("importlib_metadata"), "zipp": origin("zipp"),
                    "version": importlib.metadata.version("structlog"),
                    "dont_write_bytecode": sys.flags.dont_write_bytecode}
    """
        }
    )
    result = pack(function, tmp_path / "app.zip", handler="app.Handle")
    task = extract(result.path, tmp_path / "task")
    task_dirs.append(task)
    env = start(task, "app.Handle", python=BASE_PYTHON, env={"PYTHONDONTWRITEBYTECODE": ""})
    answer = env.invoke({}, timeout=10)
    assert answer.kind == "response", env.output()
    payload = answer.payload
    assert payload["structlog"].startswith(task + os.sep), payload
    for packer_only in ("metadata", "zipp"):  # the packer's dependencies stay out of the zip
        assert not (payload[packer_only] or "").startswith(task + os.sep), payload
    assert payload["cached"] == os.path.join(task, "structlog", "__pycache__", "__init__.%s.pyc" % TAG)
    assert payload["version"] == dict(result.vendored)["structlog"]
    assert payload["dont_write_bytecode"] == 0


# -- reproducible -----------------------------------------------------------------------------------


def sha256(path):
    with open(str(path), "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def test_same_inputs_give_the_same_bytes(packed, tmp_path, monkeypatch):
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    again = pack(HANDLERS, tmp_path / "elsewhere" / "other-name.zip")
    assert sha256(again.path) == sha256(packed.path) == again.sha256


def test_source_date_epoch_sets_the_timestamps(make_function, tmp_path, monkeypatch):
    function = make_function({"handler.py": "def Handle(e, c):\n    return 1\n"})
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")  # 2023-11-14T22:13:20Z
    first = pack(function, tmp_path / "a.zip")
    second = pack(function, tmp_path / "b.zip")
    assert first.sha256 == second.sha256
    assert {i.date_time for i in read_zip(first.path).values()} == {(2023, 11, 14, 22, 13, 20)}
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "0")  # before zip's epoch: clamped
    assert {i.date_time for i in read_zip(pack(function, tmp_path / "c.zip").path).values()} == {(1980, 1, 1, 0, 0, 0)}
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "yesterday")
    with pytest.raises(UsageError, match="SOURCE_DATE_EPOCH"):
        pack(function, tmp_path / "d.zip")


def test_modes_are_normalised(make_function, tmp_path):
    function = make_function({"handler.py": "def Handle(e, c):\n    return 1\n", "tool.sh": "echo hi\n"})
    os.chmod(str(function / "tool.sh"), 0o700)
    os.chmod(str(function / "handler.py"), 0o600)
    infos = read_zip(pack(function, tmp_path / "f.zip").path)
    assert infos["tool.sh"].external_attr >> 16 == 0o100755
    assert infos["handler.py"].external_attr >> 16 == 0o100644


# -- size and progress ------------------------------------------------------------------------------


def test_size_limits_warn(packed, make_function, tmp_path, monkeypatch):
    from shim.pack import packer as pack_module

    monkeypatch.setattr(pack_module, "ZIPPED_LIMIT", 1000)
    monkeypatch.setattr(pack_module, "UNZIPPED_LIMIT", 2000)
    function = make_function({"handler.py": "def Handle(e, c):\n    return 1\n"})
    lines = []
    result = pack(function, tmp_path / "big.zip", log=lines.append)
    assert len(result.warnings) == 2
    assert any("direct upload" in w and "S3" in w for w in result.warnings)
    assert any("unzipped" in w for w in result.warnings)
    assert sum(line.startswith("warning: ") for line in lines) == 2


def test_quiet_by_default_and_progress_when_asked(make_function, tmp_path, capsys):
    function = make_function({"handler.py": "def Handle(e, c):\n    return 1\n"})
    lines = []
    pack(function, tmp_path / "a.zip", log=lines.append)
    text = "\n".join(lines)
    assert "compiling" in text and "writing" in text and "copied from this environment" in text
    pack(function, tmp_path / "b.zip")
    pack(function, tmp_path / "c.zip", quiet=True)
    assert capsys.readouterr() == ("", "")
    pack(function, tmp_path / "d.zip", quiet=False)
    out, err = capsys.readouterr()
    assert out == "" and "compiling" in err


_PEAK = """
import resource, sys
from shim.pack.packer import pack
pack(sys.argv[1], sys.argv[2])
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def test_a_big_data_file_is_packed_in_flat_memory(make_function, tmp_path):
    # A whole read of the file, its compressed copy and a whole read of the zip to hash it: 2-3x its size.
    import subprocess
    import sys

    def peak_kb(function):
        done = subprocess.run(
            [sys.executable, "-c", _PEAK, str(function), str(function) + ".zip"],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr
        return int(done.stdout.split()[-1])

    small = make_function({"handler.py": "def Handle(e, c):\n    return 1\n"}, root=tmp_path / "small")
    big = make_function({"handler.py": "def Handle(e, c):\n    return 1\n"}, root=tmp_path / "big")
    with open(big / "data.bin", "wb") as handle:
        block = os.urandom(1 << 16) * 16  # 1 MiB that compresses fast
        for _ in range(96):
            handle.write(block)
    assert peak_kb(big) - peak_kb(small) < 32 * 1024  # the file is 96 MiB
