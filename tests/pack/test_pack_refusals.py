"""`shim pack` on hostile input: one clear line and exit status 2, and nothing written into FUNCTION_DIR.

Run as the CLI in a subprocess (an unreadable file needs a user that cannot read it: root reads
everything, so that one runs as `nobody` through setpriv), except where pip must be faked."""

import os
import shutil
import subprocess
import sys
import tempfile
import zipfile

import pytest

from shim import cli
from support import network_reachable, snapshot

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHIM = [sys.executable, "-c", "import sys; from shim.cli import main; sys.exit(main())"]


def pack(function, output, *args, user=None):
    command = SHIM + ["pack", str(function), "--output", str(output), "--quiet"] + list(args)
    if user:
        command = ["setpriv", "--reuid=%s" % user, "--regid=nogroup", "--clear-groups"] + command
    return subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=REPO)


def one_line(run):
    assert run.returncode == 2, (run.returncode, run.stderr[-3000:])
    assert run.stderr.count("\n") == 1 and run.stderr.startswith("shim pack: "), run.stderr
    assert "Traceback" not in run.stderr
    return run.stderr


@pytest.fixture
def function(make_function):
    return make_function({"handler.py": "def Handle(event, context):\n    return 'ok'\n"})


def test_a_name_with_a_newline(function, tmp_path):
    (function / "bad\nname.py").write_text("x = 1\n")
    line = one_line(pack(function, tmp_path / "out.zip"))
    assert "'bad\\nname.py'" in line and "control character" in line
    assert not (tmp_path / "out.zip").exists()


@pytest.mark.parametrize(
    "links", [{"loop": "loop"}, {"a": "b", "b": "a"}, {"sub/up": ".."}], ids=["itself", "a-pair", "to-a-parent"]
)
def test_a_symlink_loop(function, tmp_path, links):
    for name, target in links.items():
        (function / name).parent.mkdir(exist_ok=True)
        os.symlink(target, str(function / name))
    line = one_line(pack(function, tmp_path / "out.zip"))
    assert "loop" in line and "does not exist" not in line


def test_an_unreadable_file_as_a_user_who_cannot_read_it():
    if shutil.which("setpriv") is None or os.geteuid() != 0:
        pytest.skip("needs setpriv and root to run the pack as another user")
    shared = tempfile.mkdtemp(prefix="shim-nobody-")  # pytest's own tmp is root's alone: nobody cannot enter it
    try:
        function = os.path.join(shared, "function")
        os.mkdir(function)
        with open(os.path.join(function, "handler.py"), "w") as handle:
            handle.write("def Handle(e, c):\n    return 1\n")
        secret = os.path.join(function, "secret.txt")
        with open(secret, "w") as handle:
            handle.write("not for you\n")
        os.chmod(secret, 0)
        for path in (shared, function):
            os.chmod(path, 0o777)
        line = one_line(pack(function, os.path.join(shared, "out.zip"), user="nobody"))
        assert "cannot read 'secret.txt'" in line and "permission denied" in line.lower()
        readable = pack(function, os.path.join(shared, "out.zip"), "--exclude", "secret.txt", user="nobody")
        assert readable.returncode == 0, readable.stderr  # left out, it packs
    finally:
        shutil.rmtree(shared, ignore_errors=True)


def test_an_editable_requirement_is_refused_before_pip_runs(function, tmp_path):
    (function / "pyproject.toml").write_text('[project]\nname = "mine"\nversion = "1.0"\n')
    (function / "requirements.txt").write_text("# ours, in development\n-e .\n")
    before = snapshot(function)
    line = one_line(pack(function, tmp_path / "out.zip"))
    assert "requirements.txt:2" in line and "'-e .' is an editable install" in line and str(function) in line
    assert snapshot(function) == before


@pytest.mark.parametrize("spelling", ["--editable ./lib", "--editable=./lib", "-e git+https://example.com/x.git#egg=x"])
def test_editable_in_any_spelling_and_in_a_nested_file(function, tmp_path, spelling):
    (function / "lib").mkdir()
    (function / "requirements.txt").write_text("-r more/requirements.txt\n")
    (function / "more").mkdir()
    (function / "more" / "requirements.txt").write_text("six==1.17.0\n" + spelling + "\n")
    line = one_line(pack(function, tmp_path / "out.zip"))
    assert "more/requirements.txt:2" in line and "editable install" in line


def test_a_missing_local_requirement(function, tmp_path):
    (function / "requirements.txt").write_text("./not-here\n")
    line = one_line(pack(function, tmp_path / "out.zip"))
    assert "requirements.txt:1" in line and "does not exist" in line


# -- pip, faked where the index would be needed -------------------------------------------------------


def test_a_package_that_exists_nowhere_says_so(fp, function, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SHIM_INSTALLER", "pip")  # the pip fallback, faked
    (function / "requirements.txt").write_text("shim-no-such-package==1.0\n")
    missing = [
        "ERROR: Could not find a version that satisfies the requirement shim-no-such-package==1.0 "
        "(from versions: none)",
        "ERROR: No matching distribution found for shim-no-such-package==1.0",
    ]
    fp.register([sys.executable, "-m", "pip", "install", fp.any()], returncode=1, stdout=missing)
    fp.register([sys.executable, "-m", "pip", "wheel", fp.any()], returncode=1, stdout=missing)
    assert cli.main(["pack", str(function), "--output", str(tmp_path / "out.zip")]) == 2
    err = capsys.readouterr().err
    [line] = [line for line in err.splitlines() if line.startswith("shim pack: ")]
    assert "shim-no-such-package==1.0 was not found on the package index" in line
    assert "did not build" not in line


def test_pip_runs_outside_the_function_folder(fp, function, tmp_path, monkeypatch):
    monkeypatch.setenv("SHIM_INSTALLER", "pip")  # the pip fallback, faked
    (function / "requirements.txt").write_text("six==1.17.0\n")
    seen = []

    def install(process):
        seen.append(process.kwargs.get("cwd"))
        target = process.args[process.args.index("--target") + 1]
        os.makedirs(os.path.join(target, "six-1.17.0.dist-info"))
        with open(os.path.join(target, "six.py"), "w") as handle:
            handle.write("PY3 = True\n")

    fp.register([sys.executable, "-m", "pip", "install", fp.any()], callback=install)
    fp.pass_command([sys.executable, "-S", fp.any()], occurrences=50)  # bytecode workers, for real
    assert cli.main(["pack", str(function), "--output", str(tmp_path / "out.zip")]) == 0
    [cwd] = seen
    assert cwd and not os.path.realpath(cwd).startswith(os.path.realpath(str(function)))


# -- a real pip, from a local folder -------------------------------------------------------------------


def test_a_local_folder_is_built_from_a_copy(function, tmp_path):
    if not network_reachable():
        pytest.skip("the package index is unreachable: pip cannot fetch the build backend")
    lib = function / "libsrc"
    (lib / "mylib").mkdir(parents=True)
    (lib / "mylib" / "__init__.py").write_text("ANSWER = 42\n")
    (lib / "setup.py").write_text(
        "from setuptools import setup\nsetup(name='mylib', version='1.0', packages=['mylib'])\n"
    )
    (function / "requirements.txt").write_text("./libsrc\n")
    before = snapshot(function)
    run = pack(function, tmp_path / "out.zip")
    if run.returncode != 0 and ("connection" in run.stderr.lower() or "resolve" in run.stderr.lower()):
        pytest.skip("the package index did not answer: %s" % run.stderr[-300:])
    assert run.returncode == 0, run.stderr[-3000:]
    assert snapshot(function) == before  # no build/, no mylib.egg-info/ in the user's folder
    names = zipfile.ZipFile(str(tmp_path / "out.zip")).namelist()
    assert "mylib/__init__.py" in names and not [n for n in names if "__editable__" in n or n.endswith(".egg-link")]
    again = pack(function, tmp_path / "again.zip")
    assert again.returncode == 0
    assert open(str(tmp_path / "out.zip"), "rb").read() == open(str(tmp_path / "again.zip"), "rb").read()
