"""Installable anywhere: the sdist and the wheel built from a copy of the checkout, installed into a
throwaway venv, and every tool driven from a project folder outside the repository.

Built offline (`python -m build --no-isolation`, the backend is in the test extra). The venv is
made by the interpreter behind this one and gets the wheel plus its dependencies and pytest, pinned
to the versions installed here, from a wheelhouse kept in this environment (sys.prefix): the
package index is asked only the first time, or when a pin changes. One venv serves the module.
"""

import email.parser
import http.client
import importlib.metadata
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import threading
import zipfile

import pytest
from packaging.requirements import Requirement  # installed with build

import shim

pytestmark = pytest.mark.slow

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BASE_PYTHON = getattr(sys, "_base_executable", None) or sys.executable
WHEELHOUSE = os.path.join(sys.prefix, "shim-test-wheelhouse")
INVOKE_PATH = "/2015-03-31/functions/function/invocations"


def run(command, timeout=120, **options):
    done = subprocess.run(
        [str(part) for part in command],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        universal_newlines=True,
        timeout=timeout,
        **options,
    )
    assert done.returncode == 0, "%s\n%s\n%s" % (command, done.stdout[-3000:], done.stderr[-3000:])
    return done


def copy_checkout(dest):
    """The files a fresh clone would have (git's tracked files as they are now, modes kept), or the tree."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            check=True,
        ).stdout
        files = [name for name in listed.decode().split("\0") if name]
    except (OSError, subprocess.CalledProcessError):
        files = None  # not a git checkout (an unpacked sdist, say): copy what is there, minus local state
    if files is None:
        ignore = shutil.ignore_patterns(
            ".git", ".venv", "dist", ".bench", "__pycache__", "*.egg-info", ".setuptools-build"
        )
        shutil.copytree(REPO, str(dest), ignore=ignore)
        return dest
    for name in files:
        source = os.path.join(REPO, name)
        if os.path.isfile(source):  # a file deleted but not yet committed is gone from a clone too
            os.makedirs(os.path.dirname(os.path.join(str(dest), name)), exist_ok=True)
            shutil.copy2(source, os.path.join(str(dest), name))
    return dest


def requirements_of(wheel):
    """The wheel's own requirements (no extras), pinned to what is installed here, plus pytest."""
    with zipfile.ZipFile(str(wheel)) as archive:
        [metadata] = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        message = email.parser.Parser().parsestr(archive.read(metadata).decode())
    wanted = [Requirement(r) for r in message.get_all("Requires-Dist") or []]
    # Those that apply here (tomli only before 3.11), without the extras' (marker `extra == "test"`).
    names = [r.name for r in wanted if r.marker is None or r.marker.evaluate({"extra": ""})]
    return ["%s==%s" % (name, importlib.metadata.version(name)) for name in names + ["pytest"]]


class Installed:
    def __init__(self, root):
        self.root = root
        self.src = copy_checkout(root / "src")
        self.dist = root / "dist"
        run([sys.executable, "-m", "build", "--no-isolation", "--outdir", self.dist, self.src])
        [self.wheel] = self.dist.glob("*.whl")
        [self.sdist] = self.dist.glob("*.tar.gz")
        self.venv = root / "venv"
        # No pip of its own (ensurepip alone takes ~9 s here): this environment's pip installs into it.
        run([BASE_PYTHON, "-m", "venv", "--without-pip", self.venv])
        self.python = self.venv / "bin" / "python"
        self.shim = self.venv / "bin" / "shim"
        self.site = run([self.python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip()
        self.env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONSAFEPATH", "VIRTUAL_ENV")
        }
        self.env["PATH"] = str(self.venv / "bin") + os.pathsep + os.environ.get("PATH", "")
        self.env["VIRTUAL_ENV"] = str(self.venv)
        self.install()
        self.project = root / "project"  # outside the repository, as a user's own folder
        self.project.mkdir()

    def install(self):
        wanted = requirements_of(self.wheel)
        command = [
            sys.executable,
            "-m",
            "pip",
            "--python",
            self.python,
            "install",
            "--quiet",
            "--no-index",
            "--find-links",
            WHEELHOUSE,
            self.wheel,
        ] + wanted
        if (
            subprocess.run(
                [str(c) for c in command],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env=self.env,
                timeout=300,
            ).returncode
            != 0
        ):
            # First run, or a pin changed: fetch the wheels once into this environment's wheelhouse.
            run(
                [sys.executable, "-m", "pip", "download", "--quiet", "--only-binary", ":all:", "--dest", WHEELHOUSE]
                + wanted,
                timeout=300,
            )
            run(command, env=self.env, timeout=300)

    def __call__(self, *args, **options):
        """Run a command of the venv (`shim ...` by default) in the project folder."""
        command = list(args) if str(args[0]).startswith("/") else [self.shim] + list(args)
        options.setdefault("cwd", str(self.project))
        return run(command, env=self.env, **options)


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    return Installed(tmp_path_factory.mktemp("install"))


@pytest.fixture(scope="module")
def function(installed):
    """`shim new fn` in the project folder, once."""
    done = installed("new", "fn")
    assert "Created fn/handler.py" in done.stdout
    return installed.project / "fn"


# -- what the build produced -------------------------------------------------------------------------


def test_the_sdist_and_the_wheel_carry_the_launcher_executable(installed):
    version = shim.__version__
    with tarfile.open(str(installed.sdist)) as sdist:
        launcher = sdist.getmember("lambda_shim-%s/shim/runtime/bootstrap" % version)
        assert launcher.mode & 0o777 == 0o755
    with zipfile.ZipFile(str(installed.wheel)) as wheel:
        assert wheel.getinfo("shim/runtime/bootstrap").external_attr >> 16 & 0o777 == 0o755
        assert "shim/local/scaffold.py" in wheel.namelist() and "shim/pack/packer.py" in wheel.namelist()
    # setuptools' own output went to .setuptools-build/, not into build/; the Dockerfile ships in the package.
    assert not (installed.src / "build").exists()
    assert "shim/local/templates/docker/Dockerfile" in zipfile.ZipFile(str(installed.wheel)).namelist()


def test_the_venv_imports_the_installed_package_not_the_checkout(installed):
    done = installed(installed.python, "-c", "import json, sys, shim; print(json.dumps([shim.__file__, sys.path]))")
    where, path = json.loads(done.stdout)
    assert where == os.path.join(installed.site, "shim", "__init__.py")
    assert not [entry for entry in path if entry and os.path.realpath(entry).startswith(os.path.realpath(REPO))]
    assert os.access(os.path.join(installed.site, "shim", "runtime", "bootstrap"), os.X_OK)
    assert installed("--version").stdout.strip() == "lambda-shim %s" % shim.__version__


# -- the tools, from the project folder ---------------------------------------------------------------


def test_pack_from_the_installed_package(installed, function):
    done = installed("pack", "fn", "--output", "f.zip")
    assert "Handler handler.Handle" in done.stdout
    with zipfile.ZipFile(str(installed.project / "f.zip")) as archive:
        names = archive.namelist()
        assert archive.getinfo("bootstrap").external_attr >> 16 == 0o100755
    assert {"handler.py", "shim/runtime/main.py", "structlog/__init__.py"} <= set(names)
    assert not [n for n in names if n.startswith(("tests/", "shim/pack/", "shim/local/", "importlib_metadata"))]
    installed("pack", "--layer", "--output", "layer.zip")
    with zipfile.ZipFile(str(installed.project / "layer.zip")) as archive:
        assert {"bootstrap", "python/shim/runtime/main.py"} <= set(archive.namelist())


@pytest.mark.parametrize("how", [[], ["--no-pack"]])
def test_invoke_packed_and_in_place(installed, function, how):
    # In place, the launcher is the installed package's own copy: it must have kept its x bit.
    done = installed("invoke", "fn", "--event", "-", *how, input='{"name": "Ada"}')
    assert json.loads(done.stdout) == {"message": "Hello, Ada!"}
    assert "REPORT RequestId:" in done.stderr and "Init Duration" in done.stderr


def test_serve_answers_one_invoke_and_stops_on_ctrl_c(installed, function):
    server = subprocess.Popen(
        [str(installed.shim), "serve", "fn", "--port", "0"],
        cwd=str(installed.project),
        env=installed.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        universal_newlines=True,
    )
    lines, listening = [], threading.Event()

    def read():
        for line in server.stderr:
            lines.append(line)
            if "listening on" in line:
                listening.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert listening.wait(60), "".join(lines)
        port = int(re.search(r"http://127\.0\.0\.1:(\d+)/", "".join(lines)).group(1))
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        connection.request("POST", INVOKE_PATH, body=b'{"name": "Bo"}')
        response = connection.getresponse()
        assert response.status == 200 and json.loads(response.read()) == {"message": "Hello, Bo!"}
        connection.close()
        server.send_signal(signal.SIGINT)
        assert server.wait(30) == 0
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    reader.join(10)
    assert "shim serve: stopped" in "".join(lines)


def test_the_generated_tests_pass_with_the_plugin(installed, function):
    done = installed(installed.python, "-m", "pytest", "-p", "no:cacheprovider", "fn")
    assert "2 passed" in done.stdout
    assert "plugins: lambda-shim-%s" % shim.__version__ in done.stdout  # the plugin, from the venv
