"""The project file: [tool.lambda-shim] read into FunctionConfig, and a name or directory resolved to one."""

import pytest

from shim.pack.errors import UsageError
from shim.local import project

PYPROJECT = """\
[project]
name = "shop"

[tool.lambda-shim.functions.orders]
path = "orders"
handler = "handler.Handle"
python = "3.12"
arch = "arm64"
timeout = 10
memory = 256
environment = { TABLE = "orders", RETRIES = 3 }

[tool.lambda-shim.functions.mailer]
path = "services/mail"
function_name = "shop-mailer"
"""


@pytest.fixture
def shop(tmp_path):
    (tmp_path / "pyproject.toml").write_text(PYPROJECT)
    for d in ("orders", "services/mail", "loose"):
        (tmp_path / d).mkdir(parents=True)
        (tmp_path / d / "handler.py").write_text("def Handle(e, c):\n    return e\n")
    return tmp_path


def test_the_file_gives_every_setting_with_paths_from_its_folder(shop):
    found = project.find_project(str(shop / "services" / "mail"))
    assert found.root == str(shop)
    assert list(found.functions) == ["orders", "mailer"]
    orders = found.function("orders")
    assert (orders.path, orders.python, orders.arch, orders.timeout, orders.memory) == (
        str(shop / "orders"),
        "3.12",
        "arm64",
        10,
        256,
    )
    assert orders.environment == {"TABLE": "orders", "RETRIES": "3"}
    assert orders.lambda_name == "orders"
    assert found.function("mailer").lambda_name == "shop-mailer"
    with pytest.raises(UsageError, match="no function 'nope'.*orders, mailer"):
        found.function("nope")


def test_a_name_wins_over_a_directory_and_a_directory_works_alone(shop, monkeypatch):
    monkeypatch.chdir(shop)
    (shop / "mailer").mkdir()  # a directory with the same name as a function in the file
    assert project.resolve("mailer").path == str(shop / "services" / "mail")
    assert project.resolve("orders").timeout == 10  # by name
    assert project.resolve("services/mail").name == "mailer"  # a directory the file describes
    loose = project.resolve("loose")  # a directory it does not
    assert (loose.name, loose.path, loose.timeout) == ("loose", str(shop / "loose"), 3.0)
    with pytest.raises(UsageError, match="no function or directory named 'ghost'"):
        project.resolve("ghost")
    monkeypatch.chdir(shop / "orders")
    assert project.resolve(None).name == "orders"  # the function whose folder we are in
    monkeypatch.chdir(shop)
    with pytest.raises(UsageError, match="which function"):
        project.resolve(None)


def test_no_project_and_no_code_here_is_an_error_not_a_pack_of_the_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UsageError, match="no function here"):
        project.resolve(None, str(tmp_path))


@pytest.mark.parametrize(
    "line, message",
    [
        ("timeout = 0", "timeout must be more than 0"),
        ("memory = 64", "memory must be between 128"),
        ("arch = 'sparc'", "arch must be one of"),
        ("timeout = 'ten'", "timeout = 'ten' is not a"),
        ("colour = 'red'", "unknown setting 'colour'"),
        ("snapstart = true\nmax_concurrency = 4", "do not combine"),
        ("runtime = { alias = 'prod' }", "runtime takes"),
    ],
)
def test_a_bad_setting_names_its_table_and_key(tmp_path, line, message):
    (tmp_path / "pyproject.toml").write_text("[tool.lambda-shim.functions.f]\n%s\n" % line)
    with pytest.raises(UsageError, match=message) as caught:
        project.find_project(str(tmp_path))
    assert "[tool.lambda-shim.functions.f]" in str(caught.value)


def test_overrides_replace_settings_and_merge_the_environment(shop):
    orders = project.find_project(str(shop)).function("orders")
    changed = orders.with_overrides(timeout=20, environment={"EXTRA": "1"}, memory=None)
    assert (changed.timeout, changed.memory) == (20, 256)
    assert changed.environment == {"TABLE": "orders", "RETRIES": "3", "EXTRA": "1"}
    with pytest.raises(UsageError):
        orders.with_overrides(memory=1)
    with pytest.raises(TypeError):
        orders.with_overrides(colour="red")


def test_a_pyproject_without_the_table_is_not_a_project(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    assert project.find_project(str(tmp_path)) is None
    (tmp_path / "pyproject.toml").write_text("[tool.lambda-shim\n")
    with pytest.raises(UsageError, match="not valid TOML"):
        project.find_project(str(tmp_path))


def test_a_missing_path_is_named_as_a_directory(shop, monkeypatch):
    monkeypatch.chdir(shop)
    with pytest.raises(UsageError, match=r"^no such function directory: no/such \(the project's functions: orders"):
        project.resolve("no/such")
