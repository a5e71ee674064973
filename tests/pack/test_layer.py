"""The runtime layer (`shim pack --layer`) and function zips without the runtime (`--no-runtime`).

The real check is the last one in each group: both zips unpacked read-only into two
folders standing for /opt and /var/task, the layer's bootstrap started against the
local Runtime API with LAMBDA_TASK_ROOT at the function, and invoked.
"""

import importlib.metadata
import marshal
import os
import subprocess
import sys
import zipfile

import pytest

from shim import cli
from shim.pack import bytecode, ziputil
from shim.pack.packer import extract, pack, pack_layer, summary
from support import snapshot

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TAG = sys.implementation.cache_tag
VERSION = "%d.%d" % sys.version_info[:2]
# Without the dev venv's site-packages: what the runtime imports must come from the two folders.
BASE_PYTHON = getattr(sys, "_base_executable", None) or sys.executable

APP = {
    "app.py": """
        import os, sys
        import helpers

        def Handle(event, context):
            import shim, structlog
            return {"app": __file__, "helpers": helpers.__file__, "shim": shim.__file__,
                    "structlog": structlog.__file__, "task_root": os.environ["LAMBDA_TASK_ROOT"],
                    "path": sys.path[:3], "echo": event}
    """,
    "helpers.py": "X = 1\n",
}


@pytest.fixture(scope="module")
def layer(tmp_path_factory):
    return pack_layer(tmp_path_factory.mktemp("layer") / "shim-layer.zip")


@pytest.fixture
def read_only_dirs():
    """Extracted, read-only trees: made writable again at teardown so tmp_path can be removed."""
    made = []
    yield made
    for path in made:
        ziputil.make_writable(str(path))


def infos(path):
    with zipfile.ZipFile(str(path)) as archive:
        return {info.filename: info for info in archive.infolist()}


def co_filename(path, name):
    with zipfile.ZipFile(str(path)) as archive:
        return marshal.loads(archive.read(name)[16:]).co_filename


def runtime_sources():
    runtime = os.path.join(REPO, "shim", "runtime")
    return {"shim/__init__.py", "shim/__main__.py"} | {
        "shim/runtime/" + name for name in os.listdir(runtime) if name.endswith(".py")
    }


# -- the layer --------------------------------------------------------------------------------------


def test_the_layer_holds_the_bootstrap_and_under_python_the_runtime_and_structlog_only(layer):
    entries = infos(layer.path)
    names = set(entries)
    structlog = importlib.metadata.distribution("structlog")
    # Its installed files, less the bytecode of this machine and the installer's bookkeeping.
    structlog_files = {
        "python/" + str(f)
        for f in structlog.files
        if "__pycache__" not in str(f)
        and os.path.basename(str(f)) not in ("RECORD", "INSTALLER", "REQUESTED", "direct_url.json")
    }
    shim_sources = {"python/" + n for n in runtime_sources()}
    sources = shim_sources | {n for n in structlog_files if n.endswith(".py")}
    pycs = {bytecode.pyc_name(n, VERSION) for n in sources}
    assert names == {"bootstrap"} | shim_sources | structlog_files | pycs
    assert {n for n in names if n.startswith("python/structlog/") and n.endswith(".py")}  # not empty by accident
    assert {n.split("/")[1] for n in names if n != "bootstrap"} == {
        "shim",
        "structlog",
        "structlog-%s.dist-info" % structlog.version,
    }
    assert entries["bootstrap"].external_attr >> 16 == 0o100755
    assert {info.external_attr >> 16 for name, info in entries.items() if name != "bootstrap"} == {0o100644}
    assert layer.layer and layer.compiled == len(sources) and layer.vendored == [("structlog", structlog.version)]
    with open(os.path.join(REPO, "shim", "runtime", "bootstrap"), "rb") as handle:
        assert zipfile.ZipFile(layer.path).read("bootstrap") == handle.read()


def test_when_the_runtimes_dependencies_here_do_not_fit_pip_installs_them_under_python(fp, monkeypatch, tmp_path):
    monkeypatch.setenv("SHIM_INSTALLER", "pip")  # the pip fallback, faked
    from shim.pack import vendor

    monkeypatch.setattr(
        vendor, "plan", lambda environment: vendor.Plan(requirements=["structlog>=23.1"], reason="a stand-in reason")
    )

    def install(process):  # pip, faked: the target gets a structlog of its own
        target = process.args[process.args.index("--target") + 1]
        os.makedirs(os.path.join(target, "structlog"))
        with open(os.path.join(target, "structlog", "__init__.py"), "w") as handle:
            handle.write("")

    fp.register([sys.executable, "-m", "pip", "install", fp.any()], callback=install)
    fp.pass_command([sys.executable, "-S", fp.any()], occurrences=50)  # bytecode workers, for real
    result = pack_layer(tmp_path / "layer.zip")
    assert "python/structlog/__init__.py" in result.names and result.vendored == []
    assert {n.split("/")[0] for n in result.names} == {"bootstrap", "python"}
    assert (
        co_filename(result.path, bytecode.pyc_name("python/structlog/__init__.py", VERSION))
        == "/opt/python/structlog/__init__.py"
    )


def test_layer_bytecode_carries_the_paths_under_opt(layer):
    for name in ("python/shim/runtime/main.py", "python/structlog/__init__.py"):
        assert co_filename(layer.path, bytecode.pyc_name(name, VERSION)) == "/opt/" + name


def test_the_layer_summary_says_how_to_publish_and_use_it(layer):
    text = summary(layer)
    for expected in (
        "the lambda-shim runtime layer",
        "publish-layer-version",
        "--compatible-runtimes python%s provided.al2023" % VERSION,
        "--compatible-architectures %s" % layer.arch,
        "AWS_LAMBDA_EXEC_WRAPPER=/opt/bootstrap",
        "--no-runtime",
        layer.sha256,
    ):
        assert expected in text, expected
    assert "/var/task/bootstrap" not in text and "Handler" not in text


# -- a function without the runtime -----------------------------------------------------------------


def test_a_function_without_the_runtime_holds_only_its_own_code(make_function, tmp_path):
    function = make_function(APP)
    result = pack(function, tmp_path / "app.zip", handler="app.Handle", runtime=False)
    names = set(infos(result.path))
    assert names == {"app.py", "helpers.py", "__pycache__/app.%s.pyc" % TAG, "__pycache__/helpers.%s.pyc" % TAG}
    assert result.vendored == [] and not result.runtime
    assert co_filename(result.path, "__pycache__/app.%s.pyc" % TAG) == "/var/task/app.py"
    text = summary(result)
    for expected in (
        "no runtime",
        "shim pack --layer",
        "AWS_LAMBDA_EXEC_WRAPPER=/opt/bootstrap",
        "provided.al2023",
        "Handler app.Handle",
    ):
        assert expected in text, expected
    assert "/var/task/bootstrap" not in text and "docker" not in text


def test_without_the_runtime_what_the_requirements_bring_still_goes_in(fp, make_function, tmp_path, monkeypatch):
    monkeypatch.setenv("SHIM_INSTALLER", "pip")  # the pip fallback, faked
    function = make_function({"handler.py": "def Handle(e, c):\n    return 1\n", "requirements.txt": "structlog\n"})

    def install(process):  # pip, faked: it installs a structlog of the user's own
        target = process.args[process.args.index("--target") + 1]
        for rel in ("structlog/__init__.py", "structlog-1.0.dist-info/METADATA"):
            os.makedirs(os.path.dirname(os.path.join(target, rel)), exist_ok=True)
            with open(os.path.join(target, rel), "w") as handle:
                handle.write("")

    fp.register([sys.executable, "-m", "pip", "install", fp.any()], callback=install)
    fp.pass_command([sys.executable, "-S", fp.any()], occurrences=50)  # bytecode workers, for real
    result = pack(function, tmp_path / "out.zip", runtime=False)
    assert set(result.names) == {
        "handler.py",
        "requirements.txt",
        "structlog/__init__.py",
        "structlog-1.0.dist-info/METADATA",
        "__pycache__/handler.%s.pyc" % TAG,
        "structlog/__pycache__/__init__.%s.pyc" % TAG,
    }


@pytest.mark.parametrize("files", [{"bootstrap": "#!/bin/sh\n"}, {"shim/__init__.py": ""}])
def test_without_the_runtime_a_function_still_cannot_shadow_the_layer(make_function, tmp_path, files):
    function = make_function(dict(files, **{"handler.py": "def Handle(e, c):\n    return 1\n"}))
    with pytest.raises(Exception, match="would replace the runtime's own"):
        pack(function, tmp_path / "out.zip", runtime=False)


# -- both, as Lambda runs them ----------------------------------------------------------------------


def test_the_layers_bootstrap_runs_a_function_packed_without_the_runtime(
    layer, make_function, tmp_path, start, read_only_dirs
):
    function = make_function(APP)
    packed = pack(function, tmp_path / "app.zip", handler="app.Handle", runtime=False)
    opt = extract(layer.path, tmp_path / "opt")  # stands for /opt
    task = extract(packed.path, tmp_path / "task")  # stands for /var/task
    read_only_dirs.extend([opt, task])
    assert os.stat(os.path.join(opt, "bootstrap")).st_mode & 0o777 == 0o555
    assert not os.path.exists(os.path.join(task, "bootstrap"))
    before = snapshot(opt), snapshot(task)

    env = start(
        task,
        "app.Handle",
        bootstrap=os.path.join(opt, "bootstrap"),
        python=BASE_PYTHON,
        env={"PYTHONVERBOSE": "1", "PYTHONDONTWRITEBYTECODE": ""},
    )
    result = env.invoke({"n": 1}, timeout=10)
    assert result.kind == "response", env.output()
    payload = result.payload
    assert payload["echo"] == {"n": 1} and payload["task_root"] == task
    assert payload["app"] == os.path.join(task, "app.py") and payload["helpers"] == os.path.join(task, "helpers.py")
    assert payload["shim"] == os.path.join(opt, "python", "shim", "__init__.py")
    assert payload["structlog"] == os.path.join(opt, "python", "structlog", "__init__.py")
    assert payload["path"][0] == task  # the function's code comes first, as on Lambda
    assert len(env.api.answers(result.request_id, accepted_only=True)) == 1
    env.stop()
    err = env.output("stderr")
    for cached in (
        os.path.join(opt, "python", "shim", "runtime", "__pycache__", "main.%s.pyc" % TAG),
        os.path.join(task, "__pycache__", "app.%s.pyc" % TAG),
    ):
        assert "code object from '%s'" % cached in err, err[-3000:]
    assert "no bytecode" not in err and "# wrote " not in err
    assert (snapshot(opt), snapshot(task)) == before  # nothing written into either


@pytest.mark.parametrize("minor, warned", [(sys.version_info[1], False), (99, True)])
def test_the_layers_bootstrap_warns_when_its_bytecode_does_not_fit_the_interpreter(
    layer, tmp_path, read_only_dirs, minor, warned
):
    opt = extract(layer.path, tmp_path / "opt")
    read_only_dirs.append(opt)
    python = tmp_path / "bin" / ("python3.%d" % minor)  # a stand-in that records what it was given
    python.parent.mkdir()
    python.write_text('#!/bin/sh\necho "PYTHONPATH=$PYTHONPATH"\n')
    python.chmod(0o755)
    done = subprocess.run(
        [os.path.join(opt, "bootstrap")],
        env={"PATH": "/usr/bin:/bin", "SHIM_PYTHON": str(python)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        universal_newlines=True,
        timeout=20,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "PYTHONPATH=%s" % os.path.join(opt, "python")
    expected = "this layer has no bytecode for Python 3.%d" % minor
    assert (expected in done.stderr) is warned, done.stderr


# -- the command line -------------------------------------------------------------------------------


@pytest.fixture
def pack_cli(monkeypatch):
    monkeypatch.setattr(cli, "COMMANDS", {"pack": cli.COMMANDS["pack"]})
    return cli.main


def test_cli_builds_the_layer_without_a_function_dir(pack_cli, tmp_path, capsys):
    output = tmp_path / "shim-layer.zip"
    assert pack_cli(["pack", "--layer", "--output", str(output), "--arch", "arm64"]) == 0
    out, err = capsys.readouterr()
    assert "the lambda-shim runtime layer" in out and "--compatible-architectures arm64" in out
    assert "bootstrap" in zipfile.ZipFile(str(output)).namelist()


def test_cli_no_runtime_leaves_the_runtime_out(pack_cli, tmp_path, capsys):
    output = tmp_path / "fn.zip"
    assert (
        pack_cli(
            [
                "pack",
                os.path.join(REPO, "shim", "local", "templates", "handlers"),
                "--no-runtime",
                "-o",
                str(output),
                "-q",
            ]
        )
        == 0
    )
    names = zipfile.ZipFile(str(output)).namelist()
    assert "handler.py" in names and not [n for n in names if n == "bootstrap" or n.startswith(("shim/", "structlog"))]
    assert "shim pack --layer" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["pack", "--layer", "handlers", "-o", "x.zip"], "FUNCTION_DIR cannot go with it"),
        (["pack", "--layer", "--handler", "app.Handle", "-o", "x.zip"], "--handler cannot go with it"),
        (["pack", "-o", "x.zip"], "give FUNCTION_DIR (or --layer"),
    ],
)
def test_cli_bad_combinations_are_one_line_and_status_2(pack_cli, tmp_path, capsys, monkeypatch, argv, message):
    monkeypatch.chdir(tmp_path)
    assert pack_cli(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("shim pack: ") and message in err
    assert not (tmp_path / "x.zip").exists()


def test_cli_layer_and_no_runtime_exclude_each_other(pack_cli, tmp_path, capsys):
    with pytest.raises(SystemExit) as caught:
        pack_cli(["pack", "--layer", "--no-runtime", "-o", str(tmp_path / "x.zip")])
    assert caught.value.code == 2 and "not allowed with" in capsys.readouterr().err


def test_the_packer_is_reachable_from_the_package_without_loading_it_for_one_step():
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, shim.pack.ziputil; print('shim.pack.packer' in sys.modules);"
            "import shim.pack; print(shim.pack.pack_layer is sys.modules['shim.pack.packer'].pack_layer)",
        ],
        stdout=subprocess.PIPE,
        universal_newlines=True,
        check=True,
    )
    assert done.stdout.split() == ["False", "True"]
