"""Side by side with the official client: awslambdaric and lambda-shim run the same handlers
against the same local Runtime API, and what the handler sees and what Lambda receives must match."""

import json
import time

import pytest

pytest.importorskip("awslambdaric", reason="awslambdaric (the official client) is the reference; pip install '.[test]'")

HANDLERS = """
import decimal

def _describe(value):
    if value is None or isinstance(value, (str, int, float, bool)):
        return [type(value).__name__, value]
    return [type(value).__name__, sorted(k for k in dir(value) if not k.startswith("_"))]

def context(event, context):
    fields = {}
    for name in ("aws_request_id", "function_name", "function_version", "invoked_function_arn",
                 "memory_limit_in_mb", "log_group_name", "log_stream_name", "tenant_id",
                 "identity", "client_context"):
        fields[name] = _describe(getattr(context, name))
    fields["identity.fields"] = [_describe(context.identity.cognito_identity_id),
                                 _describe(context.identity.cognito_identity_pool_id)]
    cc = context.client_context
    if cc is not None:
        fields["client_context.fields"] = [_describe(cc.custom), _describe(cc.env), _describe(cc.client)]
        if cc.client is not None:
            fields["client.fields"] = [_describe(getattr(cc.client, n)) for n in
                                       ("installation_id", "app_title", "app_version_name", "app_version_code", "app_package_name")]
    fields["remaining"] = type(context.get_remaining_time_in_millis()).__name__
    fields["w3c"] = context.w3c() if hasattr(context, "w3c") else None
    fields["event"] = _describe(event)
    return fields

def boom(event, context):
    raise ValueError("bad")

def values(event, context):
    return {"d": decimal.Decimal("1.10"), "n": None, "f": 1.5, "t": [True, "x"]}

def raw(event, context):
    return b"raw-bytes"

def text(event, context):
    return "just text"
"""

# The official client runs isolated too, from its installed files (and its requirements') only.
OFFICIAL_PACKAGES = ("awslambdaric",)

OFFICIAL_BOOTSTRAP = """#!/bin/sh
PYTHONPATH="$LAMBDA_TASK_ROOT${PYTHONPATH:+:$PYTHONPATH}" exec "$SHIM_PYTHON" -m awslambdaric "$_HANDLER"
"""

OPTIONAL_HEADERS = dict(
    tenant_id="tenant-1",
    client_context={
        "custom": {"a": 1},
        "env": {"b": "2"},
        "client": {"app_title": "t", "installation_id": "i"},
        "w3c": {"traceparent": "00-abc-def-01", "bogus": "x", "tracestate": 7},
    },
    cognito_identity={"cognitoIdentityId": "id", "cognitoIdentityPoolId": "pool"},
)


@pytest.fixture
def both(start, make_function, tmp_path):
    """start both runtimes on one function: {'official': env, 'shim': env}."""
    function = make_function({"handler.py": HANDLERS})
    official = tmp_path / "official-bootstrap"
    official.write_text(OFFICIAL_BOOTSTRAP)
    official.chmod(0o755)

    def start_both(handler, **options):
        return {
            "official": start(function, handler, bootstrap=official, runtime_packages=OFFICIAL_PACKAGES, **options),
            "shim": start(function, handler, **options),
        }

    return start_both


def _invoke_both(envs, event, **options):
    deadline = int((time.time() + 30) * 1000)
    return {name: env.invoke(event, timeout=15, deadline_ms=deadline, **options) for name, env in envs.items()}


def _normalise(fields):
    # Values that differ per run (ids, the stream name each emulator makes) are compared by type only.
    for name in ("aws_request_id", "log_stream_name"):
        fields[name] = fields[name][0]
    return fields


@pytest.mark.parametrize("headers", [{}, OPTIONAL_HEADERS], ids=["bare", "all-optional-headers"])
def test_context_matches_official_client(both, headers):
    results = _invoke_both(both("handler.context"), {"k": 1}, **headers)
    official, ours = (_normalise(results[n].payload) for n in ("official", "shim"))
    assert ours == official


def test_exception_payload_matches(both):
    results = _invoke_both(both("handler.boom"), {})
    official, ours = results["official"].payload, results["shim"].payload
    assert set(ours) == set(official)
    assert ours["errorType"] == official["errorType"] and ours["errorMessage"] == official["errorMessage"]
    assert ours["stackTrace"] == official["stackTrace"]
    # awslambdaric 4.x leaves out Lambda-Runtime-Function-Error-Type on invoke errors (Lambda reads the
    # body); the Runtime API documents the header, so we send it, with the body's errorType.
    assert results["shim"].error_type == ours["errorType"] == "ValueError"
    official_cause, our_cause = json.loads(results["official"].xray_cause), json.loads(results["shim"].xray_cause)
    assert our_cause["exceptions"] == official_cause["exceptions"]
    assert our_cause["paths"] == official_cause["paths"]


@pytest.mark.parametrize("handler", ["values", "raw", "text"])
def test_marshalling_matches(both, handler):
    results = _invoke_both(both("handler." + handler), {})
    assert results["shim"].body == results["official"].body
    assert results["shim"].content_type == results["official"].content_type


def test_unmarshal_error_matches(both):
    results = _invoke_both(both("handler.text"), b"{nope")
    official, ours = results["official"].payload, results["shim"].payload
    assert ours["errorType"] == official["errorType"] == "Runtime.UnmarshalError"
    # The decoder's own words differ (simplejson there, the stdlib here); the position does not.
    assert ours["errorMessage"].startswith("Unable to unmarshal input: Expecting property name")
    assert official["errorMessage"].endswith(ours["errorMessage"].rsplit(":", 1)[1])


def test_non_json_content_type_matches(both):
    results = _invoke_both(both("handler.context"), b"<a/>", content_type="application/xml")
    assert (
        results["shim"].payload["event"]
        == results["official"].payload["event"]
        == ["bytes", [name for name in sorted(dir(b"")) if not name.startswith("_")]]
    )


@pytest.mark.parametrize(
    "handler,files",
    [
        ("handler", {}),
        ("nothere.Handle", {}),
        ("handler.missing", {}),
        ("sys.Handle", {}),
        ("broken.Handle", {"broken.py": "def Handle(e, c)\n    pass\n"}),
        ("raises.Handle", {"raises.py": "raise RuntimeError('at import')\n"}),
    ],
)
def test_init_error_types_match(start, make_function, tmp_path, handler, files):
    function = make_function(dict({"handler.py": HANDLERS}, **files))
    official_bootstrap = tmp_path / "official-bootstrap"
    official_bootstrap.write_text(OFFICIAL_BOOTSTRAP)
    official_bootstrap.chmod(0o755)
    envs = {
        "official": start(
            function, handler, bootstrap=official_bootstrap, runtime_packages=OFFICIAL_PACKAGES, ready=False
        ),
        "shim": start(function, handler, ready=False),
    }
    errors = {}
    for name, env in envs.items():
        assert env.process.wait(20) != 0
        assert env.api.init_error is not None, env.output()
        errors[name] = (env.api.init_error.error_type, env.api.init_error.payload["errorType"])
    assert errors["shim"] == errors["official"]


# -- SnapStart and Managed Instances, side by side ------------------------------------------------

PLATFORM_HANDLERS = """
import os, time
from snapshot_restore_py import register_after_restore, register_before_snapshot

def note(line):
    with open(os.environ["RECORD"], "a") as f:
        f.write(line + "\\n")

register_before_snapshot(note, "before 1")
register_before_snapshot(note, "before 2")
register_after_restore(note, "after 1")
register_after_restore(note, "after 2")

if os.environ.get("FAIL") == "before":
    register_before_snapshot(lambda: 1 / 0)
if os.environ.get("FAIL") == "after":
    register_after_restore(lambda: {}["missing"])

def Handle(event, context):
    started = time.time()
    time.sleep(event.get("wait", 0))
    return {"start": started, "end": time.time()}
"""


@pytest.fixture
def both_platform(start, make_function, tmp_path):
    function = make_function({"handler.py": PLATFORM_HANDLERS})
    official = tmp_path / "official-bootstrap"
    official.write_text(OFFICIAL_BOOTSTRAP)
    official.chmod(0o755)

    def start_both(env, ready=True):
        envs = {}
        for name, bootstrap in (("official", official), ("shim", None)):
            record = tmp_path / ("record-" + name)
            # A session of its own: the official client's worker processes outlive its SIGTERM'd parent and
            # hold its output pipes open; stopped as a group, they go at once (not after two 5 s joins).
            envs[name] = start(
                function,
                "handler.Handle",
                bootstrap=bootstrap,
                ready=ready,
                process_group=True,
                env=dict(env, RECORD=str(record)),
                runtime_packages=OFFICIAL_PACKAGES if bootstrap else (),
            )
            envs[name].record = record
        return envs

    return start_both


def _runtime_requests(env):
    """What the Runtime API received, in order (method, path with ids taken out)."""
    return [
        (
            r.method,
            r.path.replace(r.path.split("/")[-2], "ID")
            if "/invocation/" in r.path and not r.path.endswith("/next")
            else r.path,
        )
        for r in env.api.requests
        if r.path.startswith("/2018-06-01")
    ]


def test_snapstart_hooks_and_requests_match_the_official_client(both_platform):
    envs = both_platform({"AWS_LAMBDA_INITIALIZATION_TYPE": "snap-start"}, ready=False)
    for env in envs.values():
        assert env.api.restores.wait_arrivals(1, 20), env.output()
        env.api.restores.restore(fork=False)
        assert env.wait_ready(20) is not None
    results = _invoke_both(envs, {})
    assert all(r.kind == "response" for r in results.values())
    official, ours = envs["official"], envs["shim"]
    assert ours.record.read_text() == official.record.read_text() == "before 2\nbefore 1\nafter 1\nafter 2\n"
    assert (
        _runtime_requests(ours)[:3]
        == _runtime_requests(official)[:3]
        == [
            ("GET", "/2018-06-01/runtime/restore/next"),
            ("GET", "/2018-06-01/runtime/invocation/next"),
            ("POST", "/2018-06-01/runtime/invocation/ID/response"),
        ]
    )


@pytest.mark.parametrize(
    "fail, path, error_type, status",
    [
        ("before", "/2018-06-01/runtime/init/error", "Runtime.BeforeSnapshotError", 64),
        ("after", "/2018-06-01/runtime/restore/error", "Runtime.AfterRestoreError", 65),
    ],
)
def test_snapstart_hook_failures_match_the_official_client(both_platform, fail, path, error_type, status):
    envs = both_platform({"AWS_LAMBDA_INITIALIZATION_TYPE": "snap-start", "FAIL": fail}, ready=False)
    seen = {}
    for name, env in envs.items():
        if fail == "after":
            assert env.api.restores.wait_arrivals(1, 20), env.output()
            env.api.restores.restore(fork=False)
        assert env.process.wait(20) == status, env.output()
        posts = [r for r in env.api.requests if r.path == path]
        assert len(posts) == 1
        body = json.loads(posts[0].body)
        seen[name] = (posts[0].headers["lambda-runtime-function-error-type"], body["errorType"], body["errorMessage"])
    assert seen["shim"] == seen["official"]
    assert seen["shim"][0] == error_type


def test_managed_instances_concurrency_matches_the_official_client(both_platform):
    envs = both_platform({"AWS_LAMBDA_MAX_CONCURRENCY": "2"})
    for env in envs.values():  # both have 2 workers waiting on /next before any event
        assert env.api.wait_polls(2, 20) is not None
    for name, env in envs.items():
        pending = [env.api.submit({"wait": 0.5}) for _ in range(2)]
        answers = [p.wait(30) for p in pending]
        assert all(a.kind == "response" for a in answers), (name, env.output())
        bodies = [a.payload for a in answers]
        assert max(b["start"] for b in bodies) < min(b["end"] for b in bodies), name  # they overlapped
        for p in pending:
            assert len(env.api.answers(p.request_id, accepted_only=True)) == 1
    assert sorted(set(_runtime_requests(envs["shim"]))) == sorted(set(_runtime_requests(envs["official"])))


def test_managed_instances_init_error_matches_the_official_client(start, make_function, tmp_path):
    function = make_function({"handler.py": "raise RuntimeError('at import')\n"})
    official = tmp_path / "official-bootstrap"
    official.write_text(OFFICIAL_BOOTSTRAP)
    official.chmod(0o755)
    seen = {}
    for name, bootstrap in (("official", official), ("shim", None)):
        env = start(
            function,
            "handler.Handle",
            bootstrap=bootstrap,
            ready=False,
            env={"AWS_LAMBDA_MAX_CONCURRENCY": "3"},
            runtime_packages=OFFICIAL_PACKAGES if bootstrap else (),
        )
        env.process.wait(20)
        accepted = [r for r in env.api.requests if r.path.endswith("/init/error") and r.status == 202]
        seen[name] = (len(accepted), env.api.init_error.error_type, env.api.init_error.payload["errorType"])
    assert seen["shim"] == seen["official"] == (1, "RuntimeError", "RuntimeError")
