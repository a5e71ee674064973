"""The parts of `shim deploy` moto cannot show: Lambda's Pending and InProgress states, and its failures.

moto answers Active and Successful at once, so the waiting is checked here against a
stand-in for get_function_configuration (the one seam: what real Lambda reports
while a function is being created or updated), with a fake clock.
"""

import pytest

from shim import cli
from shim.pack.errors import UsageError
from shim.local import deploy_aws, sam_scaffold


class Lambda:
    def __init__(self, states):
        self.states = list(states)
        self.calls = 0

    def get_function_configuration(self, FunctionName):
        self.calls += 1
        return self.states.pop(0) if len(self.states) > 1 else self.states[0]


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def test_waits_through_pending_and_in_progress_until_active_and_successful():
    client = Lambda(
        [
            {"State": "Pending", "LastUpdateStatus": "InProgress"},
            {"State": "Active", "LastUpdateStatus": "InProgress"},
            {"State": "Active", "LastUpdateStatus": "Successful", "Version": "$LATEST"},
        ]
    )
    clock = Clock()
    config = deploy_aws.wait_until_ready(client, "f", timeout=60, interval=1, sleep=clock.sleep, clock=clock)
    assert config["Version"] == "$LATEST" and client.calls == 3 and clock.now == 2


@pytest.mark.parametrize(
    "state,expected",
    [
        (
            {"State": "Failed", "StateReason": "The role cannot be assumed"},
            "State Failed, LastUpdateStatus Successful): The role cannot be assumed",
        ),
        ({"State": "Active", "LastUpdateStatus": "Failed", "LastUpdateStatusReason": "bad zip"}, "bad zip"),
    ],
)
def test_a_failed_function_is_one_line_with_lambdas_reason(state, expected):
    clock = Clock()
    with pytest.raises(UsageError, match="f failed to become ready") as caught:
        deploy_aws.wait_until_ready(Lambda([state]), "f", timeout=60, sleep=clock.sleep, clock=clock)
    assert expected in str(caught.value) and "\n" not in str(caught.value)


def test_the_wait_is_bounded():
    client, clock = Lambda([{"State": "Pending", "LastUpdateStatus": "InProgress"}]), Clock()
    with pytest.raises(UsageError, match="f was not ready after 30 s"):
        deploy_aws.wait_until_ready(client, "f", timeout=30, interval=1, sleep=clock.sleep, clock=clock)
    assert client.calls == 31


def test_shim_new_sam_writes_nothing_when_the_template_is_there(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(cli, "COMMANDS", {"new": cli.COMMANDS["new"]})
    function = tmp_path / "orders"
    function.mkdir()
    (function / "template.yaml").write_text("mine\n")
    assert cli.main(["new", str(function), "--sam"]) == 2
    assert "template.yaml already exists" in capsys.readouterr().err
    assert sorted(p.name for p in function.iterdir()) == ["template.yaml"]
    assert (function / "template.yaml").read_text() == "mine\n"


@pytest.mark.parametrize(
    "name,expected",
    [("orders", "OrdersFunction"), ("hello-world", "HelloWorldFunction"), ("2fa_check", "Lambda2faCheckFunction")],
)
def test_logical_ids_are_alphanumeric(tmp_path, name, expected):
    assert sam_scaffold.logical_id(tmp_path / name) == expected


def test_a_botocore_without_runtime_config_gets_one_line_naming_the_upgrade(make_function):
    from types import SimpleNamespace
    from shim.local import deploy_plan
    from shim.local.project import FunctionConfig

    old_model = SimpleNamespace(
        operation_model=lambda name: SimpleNamespace(
            input_shape=SimpleNamespace(members={"FunctionName": None, "Runtime": None})
        )
    )  # a Lambda model from before 2026-10-01
    client = SimpleNamespace(meta=SimpleNamespace(service_model=old_model))
    config = FunctionConfig(
        name="api",
        path=str(make_function({"handler.py": ""})),
        arch="x86_64",
        runtime={"arn": "arn:aws:lambda:us-east-1:123456789012:runtime/x", "alias": "prod"},
    )
    with pytest.raises(UsageError, match=r"needs a botocore that knows Lambda's RuntimeConfig .* pip install -U boto3"):
        deploy_plan.make_target(config, None, client)
    classic = deploy_plan.make_target(FunctionConfig(name="api", path=config.path, arch="x86_64"), None, client)
    assert classic.settings["Runtime"].startswith("python") and "RuntimeConfig" not in classic.settings


def test_function_url_auth_takes_lambdas_two_auth_types(tmp_path):
    from shim.local import project

    assert project.from_table("f", {"function_url_auth": "NONE"}, str(tmp_path)).function_url_auth == "NONE"
    assert project.from_table("f", {}, str(tmp_path)).function_url_auth == "AWS_IAM"
    with pytest.raises(UsageError, match="function_url_auth must be one of AWS_IAM, NONE, got 'PUBLIC'"):
        project.from_table("f", {"function_url_auth": "PUBLIC"}, str(tmp_path))
