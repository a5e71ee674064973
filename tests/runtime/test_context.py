"""The context object in-process, built from an Invocation parsed out of a raw /next head."""

import json
import time

import pytest

from shim.runtime import context, errors
from shim.runtime.context import LambdaContext

SETTINGS = {
    "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/orders",
    "AWS_LAMBDA_LOG_STREAM_NAME": "2026/01/02/[$LATEST]abc",
    "AWS_LAMBDA_FUNCTION_NAME": "orders",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
    "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
}
ARN = "arn:aws:lambda:eu-west-1:123456789012:function:orders"
CLIENT_CONTEXT = {
    "custom": {"k": "v"},
    "env": {"platform": "ios"},
    "client": {
        "installation_id": "inst",
        "app_title": "Shop \u00e9",
        "app_version_name": "1.2",
        "app_version_code": "12",
        "app_package_name": "com.example",
        "unknown": "dropped",
    },
    "w3c": {"traceparent": "00-abc-def-01", "tracestate": 7, "baggage": "k=v", "bogus": "x"},
}
COGNITO = {"cognitoIdentityId": "id-1", "cognitoIdentityPoolId": "pool-1"}


@pytest.fixture
def settings(monkeypatch):
    """The function's environment variables, read afresh (the runtime reads them once per process)."""
    for name, value in SETTINGS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(context, "_settings", None)


@pytest.fixture
def full(make_invocation, settings):
    deadline = int(time.time() * 1000) + 60000
    return make_invocation(
        request_id="req-7",
        deadline_ms=deadline,
        function_arn=ARN,
        tenant_id="tenant-3",
        trace_id="Root=1-a-b;Sampled=1",
        client_context=json.dumps(CLIENT_CONTEXT),
        cognito_identity=json.dumps(COGNITO),
    )


def test_every_field_and_its_type(full):
    ctx = LambdaContext(full)
    assert ctx.aws_request_id == "req-7"
    assert (ctx.log_group_name, ctx.log_stream_name, ctx.function_name, ctx.function_version) == (
        "/aws/lambda/orders",
        "2026/01/02/[$LATEST]abc",
        "orders",
        "$LATEST",
    )
    assert ctx.memory_limit_in_mb == "512"  # a string, as the official client gives it
    assert ctx.invoked_function_arn == ARN and ctx.tenant_id == "tenant-3"
    assert (ctx.identity.cognito_identity_id, ctx.identity.cognito_identity_pool_id) == ("id-1", "pool-1")
    cc = ctx.client_context
    assert (cc.custom, cc.env) == ({"k": "v"}, {"platform": "ios"})
    client = cc.client
    assert (
        client.installation_id,
        client.app_title,
        client.app_version_name,
        client.app_version_code,
        client.app_package_name,
    ) == ("inst", "Shop \u00e9", "1.2", "12", "com.example")
    assert not hasattr(client, "unknown")
    assert isinstance(ctx.get_remaining_time_in_millis(), int)
    for value in (ctx.aws_request_id, ctx.function_name, ctx.memory_limit_in_mb, ctx.invoked_function_arn):
        assert type(value) is str


def test_w3c_keeps_only_its_string_fields_and_leaves_client_context(full):
    ctx = LambdaContext(full)
    assert ctx.w3c() == {"traceparent": "00-abc-def-01", "baggage": "k=v"}
    assert not hasattr(ctx.client_context, "w3c")
    ctx.w3c()["traceparent"] = "changed"
    assert ctx.w3c()["traceparent"] == "00-abc-def-01"  # a copy each time


def test_bare_invocation_defaults(make_invocation, settings):
    ctx = LambdaContext(make_invocation())
    assert ctx.client_context is None and ctx.tenant_id is None and ctx.invoked_function_arn is None
    assert (ctx.identity.cognito_identity_id, ctx.identity.cognito_identity_pool_id) == (None, None)
    assert ctx.w3c() == {}


def test_settings_are_none_when_unset(make_invocation, monkeypatch):
    for name in SETTINGS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(context, "_settings", None)
    ctx = LambdaContext(make_invocation())
    assert (ctx.function_name, ctx.memory_limit_in_mb, ctx.log_group_name) == (None, None, None)


def test_remaining_time_counts_down_to_the_deadline(make_invocation):
    now_ms = int(time.time() * 1000)
    ahead = LambdaContext(make_invocation(deadline_ms=now_ms + 60000))
    remaining = ahead.get_remaining_time_in_millis()
    assert 50000 < remaining <= 60000
    time.sleep(0.02)
    assert ahead.get_remaining_time_in_millis() < remaining
    assert LambdaContext(make_invocation(deadline_ms=now_ms - 5000)).get_remaining_time_in_millis() == 0


@pytest.mark.parametrize("deadline", [None, "soon", "-5", ""])
def test_without_a_usable_deadline_no_time_is_promised(make_invocation, deadline):
    invocation = make_invocation(deadline_ms=deadline)
    assert invocation.deadline_ms is None
    assert LambdaContext(invocation).get_remaining_time_in_millis() == 0


@pytest.mark.parametrize(
    "header,value",
    [
        ("client_context", "[1, 2]"),
        ("client_context", "null"),
        ("cognito_identity", "[1]"),
        ("cognito_identity", '"text"'),
    ],
)
def test_json_that_is_not_an_object_is_ignored(make_invocation, header, value):
    ctx = LambdaContext(make_invocation(**{header: value}))
    assert ctx.client_context is None and ctx.w3c() == {}
    assert (ctx.identity.cognito_identity_id, ctx.identity.cognito_identity_pool_id) == (None, None)


def test_client_context_without_client_or_with_a_non_object_client(make_invocation):
    assert LambdaContext(make_invocation(client_context='{"custom": {"a": 1}}')).client_context.client is None
    assert LambdaContext(make_invocation(client_context='{"client": "just text"}')).client_context.client == "just text"


@pytest.mark.parametrize(
    "header,name", [("client_context", "Client Context"), ("cognito_identity", "Cognito Identity")]
)
def test_malformed_json_is_a_context_unmarshal_fault(make_invocation, header, name):
    with pytest.raises(errors.Fault) as caught:
        LambdaContext(make_invocation(**{header: "{broken"}))
    assert caught.value.error_type == errors.CONTEXT_UNMARSHAL_ERROR == "Runtime.LambdaContextUnmarshalError"
    assert caught.value.message.startswith("Unable to parse %s JSON: " % name)


def test_header_bytes_are_utf8_with_a_latin1_fallback(make_invocation):
    utf8 = LambdaContext(make_invocation(client_context='{"custom": {"name": "caf\u00e9"}}'.encode("utf-8")))
    assert utf8.client_context.custom == {"name": "caf\u00e9"}
    latin1 = LambdaContext(make_invocation(client_context=b'{"custom": {"name": "caf\xe9"}}'))
    assert latin1.client_context.custom == {"name": "caf\u00e9"}


def test_log_writes_to_stdout_and_repr_names_the_fields(full, capsys):
    ctx = LambdaContext(full)
    ctx.log("one line\n")
    ctx.log(42)
    assert capsys.readouterr().out == "one line\n42"
    text = repr(ctx)
    assert text.startswith("LambdaContext([aws_request_id=req-7,") and "tenant_id=tenant-3" in text
    assert "cognito_identity_id=id-1" in text and "app_title=Shop \u00e9" in text


def test_fields_match_the_official_clients_context(full, make_invocation, settings):
    official_module = pytest.importorskip("awslambdaric.lambda_context")

    def official(invocation):
        parse = lambda raw: None if raw is None else json.loads(raw)  # noqa: E731 - its bootstrap does this
        return official_module.LambdaContext(
            invocation.request_id,
            parse(invocation.client_context),
            parse(invocation.cognito_identity),
            invocation.deadline_ms,
            invocation.function_arn,
            invocation.tenant_id,
        )

    def facts(ctx):
        cc = ctx.client_context
        client = None if cc is None else cc.client
        return {
            "fields": {
                name: getattr(ctx, name)
                for name in (
                    "aws_request_id",
                    "log_group_name",
                    "log_stream_name",
                    "function_name",
                    "memory_limit_in_mb",
                    "function_version",
                    "invoked_function_arn",
                    "tenant_id",
                )
            },
            "identity": (ctx.identity.cognito_identity_id, ctx.identity.cognito_identity_pool_id),
            "client_context": None if cc is None else (cc.custom, cc.env),
            "client": None
            if client is None
            else [
                getattr(client, n, None)
                for n in ("installation_id", "app_title", "app_version_name", "app_version_code", "app_package_name")
            ],
            "w3c": ctx.w3c(),
            "remaining": type(ctx.get_remaining_time_in_millis()),
        }

    bare = make_invocation(deadline_ms=int(time.time() * 1000) + 60000)
    for invocation in (full, bare):
        assert facts(LambdaContext(invocation)) == facts(official(invocation))
