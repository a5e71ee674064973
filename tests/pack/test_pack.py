"""`shim pack`: the zip's contents, bytecode, reproducibility, safety, pip arguments, and a real run from it."""

import hashlib
import importlib.util
import os
import subprocess
import sys
import zipfile

import pytest

from shim.pack import bytecode
from shim import cli
from shim.pack import pipinstall
from shim.pack import vendor
from shim.pack import ziputil
from shim.pack.errors import UsageError
from shim.pack.packer import extract, pack, summary
from support import network_reachable, snapshot

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


@pytest.fixture
def task_dirs():
    """Extracted, read-only trees: made writable again at teardown so tmp_path can be removed."""
    made = []
    yield made
    for path in made:
        ziputil.make_writable(str(path))


def read_zip(path):
    with zipfile.ZipFile(str(path)) as archive:
        return {info.filename: info for info in archive.infolist()}


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


# -- target version and bytecode ------------------------------------------------------------------

OTHER = "3.12" if VERSION != "3.12" else "3.11"


def test_another_target_version_is_compiled_by_its_own_interpreter(make_function, tmp_path):
    python, _ = bytecode.find_interpreter(OTHER)
    if python is None:
        pytest.skip("no CPython %s on this machine" % OTHER)
    magic = subprocess.run(
        [python, "-c", "import importlib.util,sys; sys.stdout.buffer.write(importlib.util.MAGIC_NUMBER)"],
        stdout=subprocess.PIPE,
        check=True,
    ).stdout
    function = make_function({"handler.py": "def Handle(e, c):\n    return 1\n"})
    lines = []
    result = pack(function, tmp_path / "other.zip", python_version=OTHER, log=lines.append)
    other_tag = bytecode.cache_tag(OTHER)
    with zipfile.ZipFile(result.path) as archive:
        pycs = [n for n in archive.namelist() if n.endswith(".pyc")]
        assert pycs and all(n.endswith(".%s.pyc" % other_tag) for n in pycs)
        assert archive.read("__pycache__/handler.%s.pyc" % other_tag)[:4] == magic
    assert any("compiling with %s" % python in line for line in lines)
    assert result.compiled_with == python


def test_no_interpreter_for_the_target_packs_sources_and_says_what_it_costs(make_function, tmp_path, monkeypatch):
    monkeypatch.setattr(bytecode, "candidates", lambda version: iter(()))
    function = make_function({"handler.py": "def Handle(e, c):\n    return 1\n"})
    result = pack(function, tmp_path / "src.zip", python_version=OTHER)
    assert [n for n in result.names if n.endswith(".pyc")] == []
    assert result.compiled_with is None
    [warning] = result.warnings
    assert "no bytecode" in warning and "every cold start" in warning and "--compile-python" in warning


def test_compile_python_must_match_the_target(make_function, tmp_path):
    function = make_function({"handler.py": "def Handle(e, c):\n    return 1\n"})
    with pytest.raises(UsageError, match="--compile-python"):
        pack(function, tmp_path / "x.zip", python_version=OTHER, compile_python=sys.executable)


def test_a_syntax_error_is_a_warning_naming_the_file(make_function, tmp_path):
    function = make_function({"handler.py": "def Handle(e, c):\n    return 1\n", "broken.py": "def (:\n"})
    result = pack(function, tmp_path / "x.zip")
    assert any(w.startswith("broken.py does not compile") for w in result.warnings)


def test_bad_options_are_usage_errors(make_function, tmp_path):
    function = make_function({"handler.py": "def Handle(e, c):\n    return 1\n"})
    for options, match in (
        ({"arch": "sparc"}, "--arch"),
        ({"python_version": "3.8"}, "--python-version"),
        ({"python_version": "twelve"}, "--python-version"),
        ({"glibc": "2.5"}, "--glibc"),
        ({"requirements": str(tmp_path / "nope.txt")}, "nope.txt"),
    ):
        with pytest.raises(UsageError, match=match):
            pack(function, tmp_path / "x.zip", **options)
    with pytest.raises(UsageError, match="does not exist"):
        pack(tmp_path / "missing", tmp_path / "x.zip")


# -- the shim's dependencies for another target ---------------------------------------------------


def test_dependencies_that_do_not_fit_the_target_go_to_pip():
    here = vendor.plan(vendor.target_environment(VERSION, "x86_64"))
    assert here.reason is None and here.distributions
    old = vendor.plan(vendor.target_environment("3.9", "x86_64"))  # the installed structlog needs newer
    assert old.reason and "requires Python" in old.reason
    assert [vendor.parse_requirement(r)[0] for r in old.requirements] == ["structlog"]


@pytest.mark.parametrize(
    "marker, expected",
    [
        ('python_version < "3.11"', False),
        ('python_version >= "3.9"', True),
        ("python_version < '3.15'", True),
        ('extra == "test"', False),
        ('sys_platform != "cygwin" and extra == "check"', False),
        ('platform_python_implementation != "PyPy"', True),
        ('(os_name == "nt" or sys_platform == "linux")', True),
        ('platform_machine == "aarch64"', False),
        ('"linux" in sys_platform and python_full_version >= "3.12.0"', True),
        ('python_version == "3.12.*"', True),
        ('python_version ~= "3.10"', True),
    ],
)
def test_markers_are_evaluated_for_the_target(marker, expected):
    assert vendor.evaluate(marker, vendor.target_environment("3.12", "x86_64")) is expected


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


# -- the command line and make -----------------------------------------------------------------------


@pytest.fixture
def pack_cli(monkeypatch):
    # Only the pack command: the others' modules are not this test's concern.
    monkeypatch.setattr(cli, "COMMANDS", {"pack": cli.COMMANDS["pack"]})
    return cli.main


def test_cli_packs_and_prints_a_summary(pack_cli, tmp_path, capsys):
    output = tmp_path / "dist" / "handler.zip"
    assert pack_cli(["pack", HANDLERS, "--output", str(output), "--arch", "arm64"]) == 0
    out, err = capsys.readouterr()
    assert str(output) in out and "Architecture arm64" in out and "Handler handler.Handle" in out
    assert "compiling" in err
    assert zipfile.ZipFile(str(output)).getinfo("bootstrap").external_attr >> 16 == 0o100755


def test_cli_bad_input_is_one_line_and_status_2(pack_cli, tmp_path, capsys):
    assert pack_cli(["pack", str(tmp_path / "nowhere"), "--output", str(tmp_path / "x.zip")]) == 2
    out, err = capsys.readouterr()
    assert err.count("\n") == 1 and err.startswith("shim pack: ") and "Traceback" not in err


def test_cli_quiet_prints_only_the_summary(pack_cli, tmp_path, capsys):
    assert pack_cli(["pack", HANDLERS, "-o", str(tmp_path / "q.zip"), "--quiet"]) == 0
    out, err = capsys.readouterr()
    assert err == "" and "Packed" in out


@pytest.mark.parametrize(
    "variables, handler, zip_name",
    [
        ([], "handler.Handle", "dist/handler.zip"),
        (["HANDLER=api"], "api.Handle", "dist/api.zip"),
        (["HANDLER=api", "PACKAGE=orders", "FUNCTION=src"], "api.Handle", "dist/orders.zip"),
    ],
)
def test_make_pack_follows_the_variables(variables, handler, zip_name):
    done = subprocess.run(
        ["make", "-n", "-C", REPO, "pack"] + variables,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        universal_newlines=True,
    )
    assert done.returncode == 0, done.stdout
    [line] = [line for line in done.stdout.splitlines() if " pack " in line]
    assert "--handler %s" % handler in line and "--output %s" % zip_name in line
    assert (" src " if "FUNCTION=src" in variables else " shim/local/templates/handlers ") in line


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
