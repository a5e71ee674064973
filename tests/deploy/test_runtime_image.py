"""lambda-shim as a customer-managed runtime, without Docker or AWS.

`shim runtime layout ROOT` writes ROOT/var/runtime exactly as the Dockerfile's pack stage
writes /out/var/runtime (it runs that same command) before COPY --from=pack /out/ /. The
tests start the image's ENTRYPOINT from that folder as Lambda would, against the local
Runtime API, with a task root that holds only handler.py (no runtime in the zip), and
check that the classic path (the runtime inside the zip) and the image answer alike.
"""

import marshal
import os
import stat
import subprocess
import sys

import pytest

from shim.pack import ziputil
from shim.pack.packer import extract, pack
from support import snapshot

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TAG = sys.implementation.cache_tag
BASE_PYTHON = getattr(sys, "_base_executable", None) or sys.executable

HANDLERS = """
import decimal, os, sys

def where(event, context):
    import shim, structlog
    return {"shim": shim.__file__, "structlog": structlog.__file__, "task_root": os.environ["LAMBDA_TASK_ROOT"],
            "path0": sys.path[0], "echo": event}

def context(event, context):
    return {"function_name": context.function_name, "memory": context.memory_limit_in_mb,
            "version": context.function_version, "arn": context.invoked_function_arn,
            "remaining": type(context.get_remaining_time_in_millis()).__name__,
            "request_id": type(context.aws_request_id).__name__, "event": event}

def boom(event, context):
    raise ValueError("bad")

def values(event, context):
    return {"d": decimal.Decimal("1.10"), "n": None, "f": 1.5, "t": [True, "x"]}

def text(event, context):
    return "just text"
"""


@pytest.fixture(scope="module")
def image(tmp_path_factory):
    """The image's file system as the Dockerfile lays it out: ROOT/var/runtime."""
    root = tmp_path_factory.mktemp("image")
    done = subprocess.run(
        [sys.executable, "-m", "shim.cli", "runtime", "layout", str(root)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    yield root / "var" / "runtime"
    ziputil.make_writable(str(root))


@pytest.fixture
def read_only(tmp_path):
    made = []

    def make(path):
        ziputil.make_read_only(str(path))
        made.append(path)
        return path

    yield make
    for path in made:
        ziputil.make_writable(str(path))


def test_the_dockerfile_lays_out_the_image_with_this_command_and_starts_its_entrypoint():
    text = subprocess.run(
        [sys.executable, "-m", "shim.cli", "runtime", "dockerfile"], capture_output=True, text=True, timeout=60
    ).stdout
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert lines[1] == "FROM public.ecr.aws/lambda/python:${PYTHON_VERSION} AS pack"
    assert "ARG SHIM=lambda-shim==%s" % __import__("shim").__version__ in lines
    assert "RUN python3 -m shim.cli runtime layout /out" in lines
    assert lines[-3:] == [
        "FROM public.ecr.aws/lambda/python:${PYTHON_VERSION}",
        "COPY --from=pack /out/ /",
        'ENTRYPOINT ["/var/runtime/lambda-shim-entrypoint"]',
    ]


def test_the_layout_replaces_the_bootstrap_and_compiles_for_its_paths(image):
    with open(os.path.join(REPO, "shim", "runtime", "bootstrap"), "rb") as handle:
        assert (image / "bootstrap").read_bytes() == handle.read()
    for name in ("bootstrap", "lambda-shim-entrypoint"):
        assert stat.S_IMODE(os.stat(str(image / name)).st_mode) == 0o755
    assert sorted(os.listdir(str(image))) == ["bootstrap", "lambda-shim-entrypoint", "python"]
    assert {"shim", "structlog"} <= set(os.listdir(str(image / "python")))
    pyc = image / "python" / "shim" / "runtime" / "__pycache__" / ("main.%s.pyc" % TAG)
    assert marshal.loads(pyc.read_bytes()[16:]).co_filename == "/var/runtime/python/shim/runtime/main.py"


def test_the_entrypoint_runs_a_zip_that_holds_only_the_handler(image, make_function, start, read_only, tmp_path):
    packed = pack(
        make_function({"handler.py": HANDLERS}), tmp_path / "bare.zip", handler="handler.where", runtime=False
    )  # what shim deploy uploads for runtime = {...}: no bootstrap, no shim/
    assert packed.names == ["__pycache__/handler.%s.pyc" % TAG, "handler.py"]
    task = tmp_path / "task"
    read_only(extract(packed.path, task))  # extract() leaves it read-only, as Lambda mounts /var/task
    before = snapshot(image), snapshot(task)
    env = start(
        task,
        "handler.where",
        bootstrap=image / "lambda-shim-entrypoint",
        python=BASE_PYTHON,
        env={"PYTHONVERBOSE": "1", "PYTHONDONTWRITEBYTECODE": ""},
    )
    result = env.invoke({"n": 1}, timeout=10)
    assert result.kind == "response", env.output()
    assert result.payload == {
        "shim": str(image / "python" / "shim" / "__init__.py"),
        "structlog": str(image / "python" / "structlog" / "__init__.py"),
        "task_root": str(task),
        "path0": str(task),
        "echo": {"n": 1},
    }
    assert len(env.api.answers(result.request_id, accepted_only=True)) == 1
    env.stop()
    err = env.output("stderr")
    for cached in (
        image / "python" / "shim" / "runtime" / "__pycache__" / ("main.%s.pyc" % TAG),
        task / "__pycache__" / ("handler.%s.pyc" % TAG),
    ):
        assert "code object from '%s'" % cached in err, err[-3000:]  # shipped bytecode, not a recompile
    assert (snapshot(image), snapshot(task)) == before  # nothing written into either


# -- the classic path's conformance, through the image ----------------------------------------------


@pytest.fixture
def both(image, make_function, start, read_only, tmp_path):
    """{'classic': the runtime inside the zip, 'image': a bare zip on the runtime image}, one handler each."""
    function = make_function({"handler.py": HANDLERS})
    packed = pack(function, tmp_path / "classic.zip", handler="handler.context")
    classic = read_only(extract(packed.path, tmp_path / "classic"))
    bare = read_only(
        extract(pack(function, tmp_path / "bare.zip", handler="handler.context", runtime=False).path, tmp_path / "bare")
    )

    def start_both(handler, **options):
        return {
            "classic": start(classic, handler, python=BASE_PYTHON, **options),
            "image": start(bare, handler, bootstrap=image / "lambda-shim-entrypoint", python=BASE_PYTHON, **options),
        }

    return start_both


def invoke_both(envs, event, **options):
    return {name: env.invoke(event, timeout=15, **options) for name, env in envs.items()}


def test_context_and_marshalling_match_the_classic_path(both):
    for handler in ("context", "values", "text"):
        results = invoke_both(both("handler." + handler), {"k": 1})
        assert results["image"].kind == results["classic"].kind == "response"
        assert results["image"].body == results["classic"].body, handler
        assert results["image"].content_type == results["classic"].content_type


def test_errors_match_the_classic_path(both, tmp_path):
    results = invoke_both(both("handler.boom"), {})
    classic, image = results["classic"].payload, results["image"].payload
    assert (
        (image["errorType"], image["errorMessage"])
        == (classic["errorType"], classic["errorMessage"])
        == ("ValueError", "bad")
    )
    assert [line.replace(str(tmp_path / "bare"), "TASK") for line in image["stackTrace"]] == [
        line.replace(str(tmp_path / "classic"), "TASK") for line in classic["stackTrace"]
    ]
    assert results["image"].error_type == results["classic"].error_type == "ValueError"


@pytest.mark.parametrize("handler", ["handler.missing", "nothere.Handle"])
def test_init_errors_match_the_classic_path(both, handler):
    envs = both(handler, ready=False)
    errors = {}
    for name, env in envs.items():
        assert env.process.wait(20) != 0
        assert env.api.init_error is not None, env.output()
        errors[name] = (env.api.init_error.error_type, env.api.init_error.payload["errorType"])
    assert errors["image"] == errors["classic"]
