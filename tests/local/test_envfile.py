"""shim.local.envfile: dotenv and SAM's JSON, read for one function."""

import json

import pytest

from shim.pack.errors import UsageError
from shim.local import envfile


def test_sam_json_parameters_then_the_first_name_found(tmp_path):
    path = tmp_path / "env.json"
    path.write_text(
        json.dumps(
            {
                "Parameters": {"A": "all", "B": "all"},
                "shop-mailer": {"B": "by lambda name", "ON": True, "N": 1.5},
                "other": {"A": "not mine"},
            }
        )
    )
    # Looked up by the project file's key first, then by the Lambda function name.
    assert envfile.load(str(path), ("mailer", "shop-mailer")) == {
        "A": "all",
        "B": "by lambda name",
        "ON": "true",
        "N": "1.5",
    }
    assert envfile.load(str(path), ("nobody",)) == {"A": "all", "B": "all"}


def test_a_nested_value_is_refused(tmp_path):
    path = tmp_path / "env.json"
    path.write_text(json.dumps({"f": {"A": {"deep": 1}}}))
    with pytest.raises(UsageError, match=r"f\.A must be a string, number or boolean, got dict"):
        envfile.load(str(path), ("f",))


def test_dotenv_quotes_export_comments_and_expansion(tmp_path, monkeypatch):
    monkeypatch.setenv("SHIM_TEST_HOME", "/home/ada")
    path = tmp_path / ".env"
    path.write_text("# comment\nexport A=1\nB='two words'\nC=${A}-${SHIM_TEST_HOME}\nBARE\n")
    assert envfile.load(str(path)) == {"A": "1", "B": "two words", "C": "1-/home/ada"}
