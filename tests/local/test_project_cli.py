"""A project of two functions through the real CLI, in subprocesses: invoke, pack and serve by name,
the project file's settings applied and flags over them, env files in both formats, `shim new`."""

import http.client
import json
import os
import re
import signal
import subprocess
import sys
import threading
import zipfile

import pytest

SHIM = [sys.executable, "-c", "import sys; from shim.cli import main; sys.exit(main())"]

PYPROJECT = """\
[project]
name = "shop"
version = "1.0"

[tool.lambda-shim.functions.orders]
path = "orders"
timeout = 10
memory = 256
environment = { TABLE = "orders", LEVEL = "project" }
function_url = true

[tool.lambda-shim.functions.mailer]
path = "services/mail"
handler = "app.Send"
function_name = "shop-mailer"
memory = 512
"""

ORDERS = """\
import os

def Handle(event, context):
    return {"function": context.function_name, "memory": context.memory_limit_in_mb,
            "remaining_ms": context.get_remaining_time_in_millis(),
            "env": {k: os.environ.get(k) for k in ("TABLE", "LEVEL", "FROM_FILE", "SHARED", "EXTRA")},
            "rawPath": event.get("rawPath")}
"""

MAILER = """\
def Send(event, context):
    return {"function": context.function_name, "sent": event.get("to")}
"""


def shim(*args, cwd, stdin=None, timeout=120):
    return subprocess.run(SHIM + list(args), input=stdin, capture_output=True, text=True, timeout=timeout, cwd=str(cwd))


def report_of(stderr):
    lines = [line for line in stderr.splitlines() if line.startswith("REPORT ")]
    assert len(lines) == 1, stderr
    return dict(field.split(": ", 1) for field in lines[0][len("REPORT ") :].split("\t"))


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    root = tmp_path_factory.mktemp("shop")
    (root / "pyproject.toml").write_text(PYPROJECT)
    (root / "orders").mkdir()
    (root / "orders" / "handler.py").write_text(ORDERS)
    (root / "services" / "mail").mkdir(parents=True)
    (root / "services" / "mail" / "app.py").write_text(MAILER)
    (root / "mailer").mkdir()  # a directory with a function's name: the name in the file wins
    (root / "mailer" / "handler.py").write_text("def Handle(e, c):\n    return 'the directory'\n")
    return root


# -- invoke and pack by name --------------------------------------------------------------------


def test_invoke_by_name_applies_the_project_files_settings(shop):
    run = shim("invoke", "orders", "--no-pack", cwd=shop)
    assert run.returncode == 0, run.stderr
    payload = json.loads(run.stdout)
    assert payload["function"] == "orders" and payload["memory"] == "256"
    assert 3000 < payload["remaining_ms"] <= 10000  # timeout = 10, not the default 3
    assert payload["env"]["TABLE"] == "orders" and payload["env"]["LEVEL"] == "project"
    assert report_of(run.stderr)["Memory Size"] == "256 MB"


def test_flags_override_the_file_and_env_merges(shop):
    run = shim(
        "invoke",
        "orders",
        "--no-pack",
        "--memory",
        "1024",
        "--timeout",
        "2",
        "--env",
        "LEVEL=flag",
        "--env",
        "EXTRA=1",
        cwd=shop,
    )
    assert run.returncode == 0, run.stderr
    payload = json.loads(run.stdout)
    assert payload["remaining_ms"] <= 2000 and payload["memory"] == "1024"
    assert payload["env"]["TABLE"] == "orders" and payload["env"]["LEVEL"] == "flag" and payload["env"]["EXTRA"] == "1"
    assert report_of(run.stderr)["Memory Size"] == "1024 MB"


def test_a_name_in_the_file_wins_over_a_directory_and_the_function_name_is_set(shop):
    run = shim("invoke", "mailer", "--event", "-", stdin='{"to": "ada"}', cwd=shop)  # packed, as by default
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == {"function": "shop-mailer", "sent": "ada"}
    assert report_of(run.stderr)["Memory Size"] == "512 MB"
    # From inside a function's folder, no name is needed.
    inside = shim("invoke", "--no-pack", cwd=shop / "orders")
    assert inside.returncode == 0, inside.stderr
    assert json.loads(inside.stdout)["function"] == "orders"


def test_pack_by_name_writes_dist_name_zip_in_the_project(shop):
    run = shim("pack", "mailer", "-q", cwd=shop / "services")
    assert run.returncode == 0, run.stderr
    built = shop / "dist" / "mailer.zip"
    assert "Handler app.Send" in run.stdout and str(built) in run.stdout
    with zipfile.ZipFile(str(built)) as archive:
        names = archive.namelist()
        comment = archive.comment.decode()
    assert "app.py" in names and "bootstrap" in names and "handler.py" not in names
    assert comment.startswith("lambda-shim target:") and " kind=function " in comment


def test_plugins_takes_a_name_and_the_projects_environment(shop):
    run = shim("plugins", "orders", "--no-pack", cwd=shop)
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("orders: run in place") and "no plugins" in run.stdout


def test_outside_any_function_and_project_invoke_says_so(tmp_path):
    run = shim("invoke", cwd=tmp_path)
    assert run.returncode == 2 and run.stdout == ""
    assert run.stderr.startswith("shim invoke: no function here: ") and run.stderr.count("\n") == 1
    assert "shim new DIR" in run.stderr


def test_an_unknown_name_lists_the_projects_functions(shop):
    run = shim("invoke", "ghost", cwd=shop)
    assert (run.returncode, run.stderr) == (
        2,
        "shim invoke: no function or directory named 'ghost' (the project's functions: orders, mailer)\n",
    )


# -- env files -------------------------------------------------------------------------------------


def test_a_dotenv_file_is_under_the_project_environment_and_the_flags(shop, tmp_path):
    env_file = tmp_path / "local.env"
    env_file.write_text("# local values\nFROM_FILE=dotenv\nexport TABLE=from-file\nEXTRA='quoted value'\n")
    run = shim("invoke", "orders", "--no-pack", "--env-file", str(env_file), "--env", "EXTRA=flag", cwd=shop)
    assert run.returncode == 0, run.stderr
    env = json.loads(run.stdout)["env"]
    assert env["FROM_FILE"] == "dotenv"
    assert env["TABLE"] == "orders"  # the project's environment wins over the file
    assert env["EXTRA"] == "flag"  # and --env over both


def test_sams_json_format_parameters_then_the_functions_own(shop, tmp_path):
    env_file = tmp_path / "env.json"
    env_file.write_text(
        json.dumps(
            {
                "Parameters": {"SHARED": "all", "FROM_FILE": "parameters"},
                "orders": {"FROM_FILE": "orders' own", "EXTRA": 7},
                "mailer": {"FROM_FILE": "not mine"},
            }
        )
    )
    run = shim("invoke", "orders", "--no-pack", "--env-file", str(env_file), cwd=shop)
    assert run.returncode == 0, run.stderr
    env = json.loads(run.stdout)["env"]
    assert (env["SHARED"], env["FROM_FILE"], env["EXTRA"]) == ("all", "orders' own", "7")


def test_the_project_file_can_name_the_env_file(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        '[tool.lambda-shim.functions.orders]\nenv_file = ".env.local"\nenvironment = { LEVEL = "project" }\n'
    )
    (tmp_path / "orders").mkdir()
    (tmp_path / "orders" / "handler.py").write_text(ORDERS)
    (tmp_path / ".env.local").write_text("FROM_FILE=named\nLEVEL=file\n")
    run = shim("invoke", "orders", "--no-pack", cwd=tmp_path / "orders")
    assert run.returncode == 0, run.stderr
    env = json.loads(run.stdout)["env"]
    assert (env["FROM_FILE"], env["LEVEL"]) == ("named", "project")


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "shim invoke: cannot read the env file %s: No such file or directory"),
        ("GOOD=1\nnot a binding\n", "shim invoke: the env file %s, line 2: 'not a binding' is not KEY=VALUE"),
        ('{"orders": {"A": 1}', "shim invoke: the env file %s is not valid JSON: "),
        ('{"orders": "A=1"}', "shim invoke: the env file %s: 'orders' must be an object of variables"),
    ],
)
def test_a_missing_or_malformed_env_file_is_one_line(shop, tmp_path, content, message):
    env_file = tmp_path / "bad.env"
    if content is not None:
        env_file.write_text(content)
    run = shim("invoke", "orders", "--no-pack", "--env-file", str(env_file), cwd=shop)
    assert run.returncode == 2 and run.stdout == ""
    assert run.stderr.count("\n") == 1 and run.stderr.startswith(message % env_file), run.stderr


# -- serve: every function by name -------------------------------------------------------------------


class Served:
    def __init__(self, cwd, *args):
        self.process = subprocess.Popen(
            SHIM + ["serve", "--no-pack", "--port", "0"] + list(args),
            cwd=str(cwd),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines, self.ready = [], threading.Event()
        threading.Thread(target=self._read, daemon=True).start()
        try:
            assert self.ready.wait(60), "".join(self.lines)
            self.port = int(re.search(r"http://127\.0\.0\.1:(\d+)/", "".join(self.lines)).group(1))
        except BaseException:
            self.stop()
            raise

    def _read(self):
        for line in self.process.stderr:
            self.lines.append(line)
            if "listening on" in line:
                self.ready.set()

    def request(self, method, path, body=b""):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.request(method, path, body)
            response = connection.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            connection.close()

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        return self.process.wait(30)


def test_serve_answers_every_function_by_name_and_404s_an_unknown_one(shop, tmp_path):
    env_file = tmp_path / "env.json"
    env_file.write_text(json.dumps({"Parameters": {"SHARED": "all", "TABLE": "from-file"}}))
    served = Served(shop, "--env-file", str(env_file))
    try:
        status, _, body = served.request("POST", "/2015-03-31/functions/orders/invocations", b"{}")
        assert status == 200 and json.loads(body)["function"] == "orders"
        env = json.loads(body)["env"]
        assert (env["TABLE"], env["SHARED"]) == ("orders", "all") and json.loads(body)["remaining_ms"] > 3000
        for name in ("mailer", "shop-mailer"):  # its name in the file, or its Lambda function name
            status, _, body = served.request("POST", "/2015-03-31/functions/%s/invocations" % name, b'{"to": "x"}')
            assert (status, json.loads(body)) == (200, {"function": "shop-mailer", "sent": "x"})
        status, headers, body = served.request("POST", "/2015-03-31/functions/nope/invocations", b"{}")
        assert status == 404 and headers["X-Amzn-ErrorType"] == "ResourceNotFoundException"
        assert json.loads(body) == {
            "Type": "User",
            "message": "Function not found: arn:aws:lambda:us-east-1:000000000000:function:nope",
        }
        # orders has function_url = true: its Function URL on /orders/..., the prefix taken off.
        status, _, body = served.request("GET", "/orders/items/7?x=1")
        assert status == 200 and json.loads(body)["rawPath"] == "/items/7"
        status, _, _ = served.request("GET", "/mailer/anything")  # mailer has no Function URL
        assert status == 404
    finally:
        assert served.stop() == 0
    output = "".join(served.lines)
    assert "/2015-03-31/functions/orders/invocations" in output and "/functions/mailer/invocations" in output
    assert "orders's Function URL on http://127.0.0.1:%d/orders/" % served.port in output


def test_serve_dir_still_serves_one_function_under_any_name(shop):
    served = Served(shop, "services/mail", "--handler", "app.Send")
    try:
        status, _, body = served.request("POST", "/2015-03-31/functions/whatever/invocations", b'{"to": "y"}')
        assert status == 200 and json.loads(body) == {"function": "shop-mailer", "sent": "y"}
    finally:
        served.stop()


# -- shim new ------------------------------------------------------------------------------------------


def test_new_creates_the_project_file_then_appends_and_refuses_a_name_twice(tmp_path):
    run = shim("new", "orders", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert "Created pyproject.toml: [tool.lambda-shim.functions.orders]" in run.stdout
    assert (tmp_path / "pyproject.toml").read_text() == (
        '[tool.lambda-shim.functions.orders]\npath = "orders"\nhandler = "handler.Handle"\n'
    )
    nested = shim("new", "services/mail", cwd=tmp_path)
    assert nested.returncode == 0, nested.stderr
    assert 'path = "services/mail"' in (tmp_path / "pyproject.toml").read_text()
    again = shim("new", "elsewhere/orders", cwd=tmp_path)
    assert again.returncode == 2 and "already has a function 'orders'" in again.stderr
    assert not (tmp_path / "elsewhere").exists()  # nothing written
    both = shim("invoke", "mail", "--no-pack", "--event", "-", stdin='{"name": "Ada"}', cwd=tmp_path)
    assert both.returncode == 0 and json.loads(both.stdout) == {"message": "Hello, Ada!"}, both.stderr


def test_new_appends_to_a_pyproject_without_touching_its_content(tmp_path):
    original = '[project]\nname = "app"  # keep this comment\n\n[tool.black]\nline-length = 100\n'
    (tmp_path / "pyproject.toml").write_text(original)
    run = shim("new", "fn", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    text = (tmp_path / "pyproject.toml").read_text()
    assert text.startswith(original) and text[len(original) :] == (
        '\n[tool.lambda-shim.functions.fn]\npath = "fn"\nhandler = "handler.Handle"\n'
    )


def test_new_refuses_a_file_a_table_cannot_be_added_to(tmp_path):
    original = '[tool.lambda-shim]\nfunctions = { other = { path = "other" } }\n'
    (tmp_path / "pyproject.toml").write_text(original)
    run = shim("new", "fn", cwd=tmp_path)
    assert run.returncode == 2 and "would not be valid TOML" in run.stderr and run.stderr.count("\n") == 1
    assert (tmp_path / "pyproject.toml").read_text() == original and not (tmp_path / "fn").exists()


def test_the_fixture_takes_a_name_from_the_project_file(shop):
    test = shop / "test_by_name.py"
    test.write_text(
        "def test_it(lambda_function):\n"
        "    fn = lambda_function('orders', memory=512)\n"
        "    result = fn.invoke({})\n"
        "    assert result.ok, result.error\n"
        "    assert result.payload['env']['TABLE'] == 'orders' and result.payload['memory'] == '512'\n"
        "    assert result.payload['remaining_ms'] > 3000\n"
    )
    try:
        run = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(test)],
            cwd=str(shop),
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        os.unlink(str(test))
    assert run.returncode == 0, run.stdout + run.stderr


def _another_python():
    from shim.pack import bytecode

    running = "%d.%d" % sys.version_info[:2]
    for version in ("3.12", "3.13", "3.11", "3.10", "3.9"):
        if version != running and bytecode.find_interpreter(version)[0]:
            return version
    return None


def test_the_python_setting_runs_the_function_on_that_cpython(tmp_path):
    version = _another_python()
    if version is None:
        pytest.skip("no second CPython here")
    (tmp_path / "pyproject.toml").write_text('[tool.lambda-shim.functions.v]\npython = "%s"\n' % version)
    (tmp_path / "v").mkdir()
    (tmp_path / "v" / "handler.py").write_text(
        "import sys\n\ndef Handle(e, c):\n    return '%d.%d' % sys.version_info[:2]\n"
    )
    for extra in (["--no-pack"], []):  # in place, and packed for it (bytecode for that version)
        run = shim("invoke", "v", *extra, cwd=tmp_path)
        assert run.returncode == 0, run.stderr
        assert json.loads(run.stdout) == version and "warning:" not in run.stderr


def test_the_fixture_takes_settings_by_name_with_paths_from_the_rootdir(tmp_path):
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "fn").mkdir()
    (tmp_path / "fn" / "handler.py").write_text(ORDERS)
    (tmp_path / "local.env").write_text("FROM_FILE=dotenv\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "test_settings.py").write_text(
        "def test_it(lambda_function):\n"
        "    fn = lambda_function('fn', env_file='local.env', timeout=20, env={'EXTRA': 'arg'})\n"
        "    result = fn.invoke({})\n"
        "    assert result.ok, result.error\n"
        "    assert result.payload['env']['FROM_FILE'] == 'dotenv' and result.payload['env']['EXTRA'] == 'arg'\n"
        "    assert result.payload['remaining_ms'] > 10000\n"
    )
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_settings.py"],
        cwd=str(tmp_path / "sub"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
