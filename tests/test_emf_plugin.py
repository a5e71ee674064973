"""lambda-shim-emf (plugins/lambda-shim-emf): its EMF documents against the specification's rules,
its configuration, and end to end: built into a wheel, listed in requirements.txt, packed, invoked."""

import json
import os
import shutil
import subprocess
import sys
import time

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOURCE = os.path.join(REPO, "plugins", "lambda-shim-emf")
sys.path.insert(0, SOURCE)
import lambda_shim_emf as emf  # noqa: E402

# CloudWatch's units (MetricDatum), as the specification's schema lists them.
UNITS = {
    "Seconds",
    "Microseconds",
    "Milliseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Gigabytes",
    "Terabytes",
    "Bits",
    "Kilobits",
    "Megabits",
    "Gigabits",
    "Terabits",
    "Percent",
    "Count",
    "Bytes/Second",
    "Kilobytes/Second",
    "Megabytes/Second",
    "Gigabytes/Second",
    "Terabytes/Second",
    "Bits/Second",
    "Kilobits/Second",
    "Megabits/Second",
    "Gigabits/Second",
    "Terabits/Second",
    "Count/Second",
    "None",
}


def check_emf(doc):
    """The specification's MUSTs for one document; returns {metric: value} and {dimension: value}."""
    meta = doc["_aws"]
    assert isinstance(meta["Timestamp"], int) and abs(meta["Timestamp"] - time.time() * 1000) < 3600 * 1000
    metrics, dimensions = {}, {}
    for directive in meta["CloudWatchMetrics"]:
        assert set(directive) == {"Namespace", "Dimensions", "Metrics"}
        assert isinstance(directive["Namespace"], str) and 1 <= len(directive["Namespace"]) <= 255
        assert len(directive["Dimensions"]) >= 1
        for dimension_set in directive["Dimensions"]:
            assert len(dimension_set) <= 30
            for key in dimension_set:
                assert isinstance(doc[key], str) and doc[key]  # a target member, a string
                dimensions[key] = doc[key]
        assert 1 <= len(directive["Metrics"]) <= 100
        for definition in directive["Metrics"]:
            assert set(definition) <= {"Name", "Unit", "StorageResolution"} and definition["Unit"] in UNITS
            value = doc[definition["Name"]]  # a target member, a number
            assert isinstance(value, (int, float)) and not isinstance(value, bool)
            metrics[definition["Name"]] = value
    return metrics, dimensions


ENV = {"AWS_LAMBDA_FUNCTION_NAME": "orders"}


def test_a_cold_failed_invoke_carries_every_metric_and_the_error_type():
    doc = emf.document(
        "Shop", {"function_name": "orders"}, 12.34567, True, 40.5, "ValueError", "req-1", time.time() * 1000
    )
    metrics, dimensions = check_emf(doc)
    assert metrics == {"Duration": 12.346, "ColdStart": 1, "InitDuration": 40.5, "Errors": 1}
    assert dimensions == {"function_name": "orders"}
    assert doc["errorType"] == "ValueError" and doc["requestId"] == "req-1"
    assert doc["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Shop"


def test_a_warm_invoke_has_no_init_duration_and_no_error_type():
    doc = emf.document("Shop", {}, 1.0, False, 40.5, None, "req-2", time.time() * 1000)
    metrics, dimensions = check_emf(doc)
    assert metrics == {"Duration": 1.0, "ColdStart": 0, "Errors": 0}
    assert doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [[]]  # an empty set MAY be given
    assert "errorType" not in doc and "InitDuration" not in doc


@pytest.mark.parametrize(
    "environ,namespace,dimensions",
    [
        ({}, "LambdaShim", {}),
        (ENV, "LambdaShim", {"function_name": "orders"}),
        (
            dict(ENV, POWERTOOLS_METRICS_NAMESPACE="Pt", POWERTOOLS_SERVICE_NAME="cart"),
            "Pt",
            {"function_name": "orders", "service": "cart"},
        ),
        (
            dict(
                ENV,
                SHIM_EMF_NAMESPACE="Mine",
                POWERTOOLS_METRICS_NAMESPACE="Pt",
                SHIM_EMF_DIMENSIONS="stage=prod, team = a b ,function_name=",
            ),
            "Mine",
            {"stage": "prod", "team": "a b"},
        ),
    ],
)
def test_configuration_from_the_environment(environ, namespace, dimensions):
    assert emf.configuration(environ) == (namespace, dimensions)


@pytest.mark.parametrize(
    "environ,message",
    [
        ({"SHIM_EMF_NAMESPACE": "AWS/Lambda"}, "namespaces starting with AWS/ are AWS's own"),
        ({"SHIM_EMF_NAMESPACE": "x" * 256}, "longer than 255"),
        ({"SHIM_EMF_DIMENSIONS": "stage"}, "takes key=value pairs"),
        ({"SHIM_EMF_DIMENSIONS": "Duration=x"}, "'Duration' is a name this plugin writes itself"),
        ({"SHIM_EMF_DIMENSIONS": "caf\u00e9=x"}, "must be printable ASCII"),
        ({"SHIM_EMF_DIMENSIONS": ",".join("d%d=v" % i for i in range(31))}, "31 dimensions"),
    ],
)
def test_configuration_cloudwatch_would_refuse_is_an_error_at_init(environ, message):
    with pytest.raises(emf.ConfigurationError, match=message):
        emf.EMF(environ).init("handler.Handle", {})


def test_the_wrapper_measures_and_passes_the_handlers_result_and_errors_through(capsys):
    ticks = iter([0.0, 0.100, 1.000, 1.005, 2.000, 2.250])  # init_started is 0: the init ended at 100 ms
    now = int(time.time())
    plugin = emf.EMF(ENV, clock=lambda: next(ticks), wall=lambda: now)
    plugin.init("handler.Handle", {"init_started": next(ticks), "initialization_type": "on-demand"})

    def handler(event, context):
        if event == "fail":
            raise KeyError("nope")
        return {"ok": event}

    wrapped = plugin.wrap(handler)
    context = type("Context", (), {"aws_request_id": "r-1"})()
    assert wrapped("a", context) == {"ok": "a"}
    with pytest.raises(KeyError):
        wrapped("fail", context)
    first, second = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert check_emf(first)[0] == {"Duration": 5.0, "ColdStart": 1, "InitDuration": 100.0, "Errors": 0}
    assert check_emf(second)[0] == {"Duration": 250.0, "ColdStart": 0, "Errors": 1}
    assert second["errorType"] == "KeyError" and first["_aws"]["Timestamp"] == now * 1000


def test_a_streaming_handler_is_measured_until_its_last_chunk(capsys):
    ticks = iter([0.0, 0.010, 1.000, 1.400, 2.000, 2.300, 3.000, 3.050])
    plugin = emf.EMF(ENV, clock=lambda: next(ticks))
    plugin.init("handler.Stream", {"init_started": next(ticks), "streaming": True})

    def stream(event, context):
        yield "a"
        if event == "fail":
            raise ValueError("mid-stream")
        yield "b"

    wrapped = plugin.wrap(stream)
    chunks = wrapped("ok", None)
    assert capsys.readouterr().out == ""  # nothing until the stream is over
    assert list(chunks) == ["a", "b"]
    failing = wrapped("fail", None)
    assert next(failing) == "a"
    with pytest.raises(ValueError):
        next(failing)
    closed = wrapped("ok", None)
    assert next(closed) == "a"
    closed.close()  # the runtime gave up on it (a bad chunk, a cut)
    docs = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [check_emf(d)[0]["Duration"] for d in docs] == [400.0, 300.0, 50.0]
    assert [d["Errors"] for d in docs] == [0, 1, 0] and docs[1]["errorType"] == "ValueError"


def test_an_async_streaming_handler_is_closed_and_measured(capsys):
    import asyncio

    closed = []
    plugin = emf.EMF(ENV)
    plugin.init("handler.Stream", {"init_started": time.monotonic(), "streaming": True})

    async def stream(event, context):
        try:
            yield "a"
            yield "b"
        finally:
            closed.append(True)

    async def take_one():
        chunks = plugin.wrap(stream)({}, None)
        first = await chunks.__anext__()
        await chunks.aclose()
        return first

    assert asyncio.new_event_loop().run_until_complete(take_one()) == "a"
    assert closed == [True]  # the handler's finally ran when the runtime closed it
    assert check_emf(json.loads(capsys.readouterr().out))[0]["Errors"] == 0


def test_a_coroutine_to_be_awaited_is_measured_when_it_is_done(capsys):
    import asyncio

    plugin = emf.EMF(ENV)
    plugin.init("handler.Handle", {"init_started": time.monotonic(), "awaitable": True})

    async def handler(event, context):  # SHIM_ASYNC_CONCURRENCY: the runtime awaits what wrap returns
        await asyncio.sleep(0)
        if event == "fail":
            raise KeyError(event)
        return "done"

    wrapped = plugin.wrap(handler)
    loop = asyncio.new_event_loop()
    assert loop.run_until_complete(wrapped("ok", None)) == "done"
    with pytest.raises(KeyError):
        loop.run_until_complete(wrapped("fail", None))
    docs = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [d["Errors"] for d in docs] == [0, 1] and docs[1]["errorType"] == "KeyError"


def test_provisioned_concurrency_is_not_a_cold_start(capsys):
    plugin = emf.EMF(ENV)
    plugin.init("handler.Handle", {"init_started": time.monotonic(), "initialization_type": "provisioned-concurrency"})
    plugin.wrap(lambda e, c: 1)({}, None)
    assert check_emf(json.loads(capsys.readouterr().out))[0]["ColdStart"] == 0


def test_a_metric_that_cannot_be_written_does_not_fail_the_invoke(monkeypatch, capsys):
    class Closed:
        def write(self, text):
            raise ValueError("I/O operation on closed file")

    plugin = emf.EMF(ENV)
    plugin.init("handler.Handle", {})
    monkeypatch.setattr(sys, "stdout", Closed())
    wrapped = plugin.wrap(lambda e, c: "fine")
    assert wrapped({}, None) == "fine" and wrapped({}, None) == "fine"
    assert capsys.readouterr().err == "lambda-shim-emf: cannot write metrics to stdout: I/O operation on closed file\n"


# -- end to end ---------------------------------------------------------------------------------------

HANDLER = """\
def Handle(event, context):
    if event.get("fail"):
        raise LookupError("no such order")
    return {"order": event.get("order")}

def Stream(event, context):
    yield "one "
    yield "two"
"""


@pytest.fixture(scope="module")
def wheel_dir(tmp_path_factory):
    """The plugin built into a wheel with pip, from a copy (a build writes into its source tree)."""
    work = tmp_path_factory.mktemp("emf-build")
    source = work / "lambda-shim-emf"
    shutil.copytree(SOURCE, str(source), ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    wheels = work / "wheels"
    build = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--disable-pip-version-check",
            "--wheel-dir",
            str(wheels),
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, build.stdout + build.stderr
    assert [w for w in os.listdir(str(wheels))] == ["lambda_shim_emf-0.1.0-py3-none-any.whl"]
    return wheels


@pytest.mark.slow  # pip builds the plugin's wheel
def test_listed_in_requirements_it_is_packed_found_and_writes_one_line_per_invoke(wheel_dir, make_function, tmp_path):
    from shim.local.function import Function
    from shim.local.taskroot import prepare

    # The wheel from a local folder, as a private index or a wheelhouse would serve it.
    root = make_function(
        {"handler.py": HANDLER, "requirements.txt": "--no-index\n--find-links %s\nlambda-shim-emf==0.1.0\n" % wheel_dir}
    )
    task_root = prepare(str(root), pack=True)
    try:
        result = task_root.pack_result
        assert [(e.name, e.value, e.distribution, e.version) for e in result.plugins] == [
            ("emf", "lambda_shim_emf:plugin", "lambda-shim-emf", "0.1.0")
        ]
        assert "lambda_shim_plugins.json" in result.names and "lambda_shim_emf.py" in result.names
        env = {"SHIM_EMF_NAMESPACE": "Orders", "SHIM_EMF_DIMENSIONS": "stage=test"}
        with Function(task_root.path, env=env) as fn:
            invokes = [fn.invoke({"order": 1}), fn.invoke({"order": 2}), fn.invoke({"fail": True})]
        with Function(task_root.path, "handler.Stream", env=env) as fn:
            streamed = fn.invoke({})
    finally:
        task_root.remove()
    assert [r.kind for r in invokes] == ["response", "response", "error"]
    assert invokes[0].payload == {"order": 1}
    docs = []
    for result in invokes:
        lines = [record for record in result.records if "_aws" in record]
        assert len(lines) == 1, result.logs  # one EMF line per invoke
        docs.append(lines[0])
    for doc, result in zip(docs, invokes):
        metrics, dimensions = check_emf(doc)
        assert doc["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Orders"
        assert dimensions == {"function_name": "function", "stage": "test"}
        assert doc["requestId"] == result.request_id
        assert 0 <= metrics["Duration"] < result.duration_ms + 1  # inside the invoke Lambda measures
    assert [check_emf(d)[0]["ColdStart"] for d in docs] == [1, 0, 0]
    assert 0 < docs[0]["InitDuration"] < invokes[0].init_ms  # part of the init the REPORT line shows
    assert "InitDuration" not in docs[1]
    assert [d["Errors"] for d in docs] == [0, 0, 1] and docs[2]["errorType"] == "LookupError"
    # A streaming handler: its chunks go out as they come, and its line is written once the stream ends.
    assert streamed.streamed and b"".join(streamed.chunks) == b"one two"
    (line,) = [record for record in streamed.records if "_aws" in record]
    assert check_emf(line)[0]["ColdStart"] == 1 and line["requestId"] == streamed.request_id
