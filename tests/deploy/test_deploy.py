"""`shim deploy` end to end against moto in server mode: the CLI in a subprocess, boto3 reading back."""

import base64
import hashlib
import json
import zipfile

import pytest

from moto_support import PYTHON, ROLE

HANDLER = """
    VERSION = "%s"

    def Handle(event, context):
        return {"version": VERSION, "echo": event}
"""

ORDERS = """
    [tool.lambda-shim.functions.orders]
    handler = "handler.Handle"
    python = "%s"
    arch = "x86_64"
    timeout = 10
    memory = %d
    environment = { TABLE = "orders" }
    function_url = true
    streaming = true
    function_name = "orders-prod"
    role = "%s"
    description = "the orders API"
"""


def orders(make_project, memory=256, version="v1"):
    return make_project(ORDERS % (PYTHON, memory, ROLE), {"orders/handler.py": HANDLER % version})


def sha(data):
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def changing(calls):
    """The requests that could change something: all but reads (GET, HEAD)."""
    return [(method, path) for method, path, _ in calls if method not in ("GET", "HEAD")]


def run_zip(shim_cli, tmp_path, moto, data, name):
    path = tmp_path / name
    path.write_bytes(data)
    done = shim_cli(
        ["invoke", "--zip", str(path), "--handler", "handler.Handle", "--event", "-"],
        tmp_path,
        moto.env(),
        stdin='{"n": 1}',
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_deploy_creates_the_function_as_the_project_file_says_and_updates_its_code(
    moto, make_project, shim_cli, tmp_path
):
    root = orders(make_project)
    done = shim_cli(["deploy"], root, moto.env())
    assert done.returncode == 0, done.stdout + done.stderr
    lam = moto.client("lambda")
    config = lam.get_function(FunctionName="orders-prod")["Configuration"]
    assert config["Runtime"] == "python%s" % PYTHON and config["Handler"] == "handler.Handle"
    assert config["Role"] == ROLE and config["Architectures"] == ["x86_64"] and config["PackageType"] == "Zip"
    assert (config["MemorySize"], config["Timeout"], config["Description"]) == (256, 10, "the orders API")
    assert config["Environment"]["Variables"] == {"TABLE": "orders", "AWS_LAMBDA_EXEC_WRAPPER": "/var/task/bootstrap"}
    assert config.get("Layers", []) == []
    assert (config["State"], config["LastUpdateStatus"]) == ("Active", "Successful")
    url = lam.get_function_url_config(FunctionName="orders-prod")
    assert (url["AuthType"], url["InvokeMode"]) == ("AWS_IAM", "RESPONSE_STREAM")
    assert config["FunctionArn"] in done.stdout and url["FunctionUrl"] in done.stdout

    # The code Lambda holds is the reproducible zip `shim pack` writes, and it runs.
    deployed = moto.code("orders-prod")
    assert sha(deployed) == config["CodeSha256"]
    from shim.local.deploy_plan import glibc  # the zip records its target: the managed runtime's glibc, as deploy packs

    packed = shim_cli(
        [
            "pack",
            "orders",
            "--output",
            str(tmp_path / "packed.zip"),
            "--arch",
            "x86_64",
            "--python-version",
            PYTHON,
            "--glibc",
            glibc(PYTHON),
            "-q",
        ],
        root,
        moto.env(),
    )
    assert packed.returncode == 0, packed.stderr
    assert sha((tmp_path / "packed.zip").read_bytes()) == config["CodeSha256"]
    assert "bootstrap" in zipfile.ZipFile(tmp_path / "packed.zip").namelist()
    assert run_zip(shim_cli, tmp_path, moto, deployed, "v1.zip") == {"version": "v1", "echo": {"n": 1}}

    # An edited handler: only the code is updated.
    (root / "orders" / "handler.py").write_text((root / "orders" / "handler.py").read_text().replace("v1", "v2"))
    mark = moto.recorder.mark()
    done = shim_cli(["deploy", "orders"], root, moto.env())
    assert done.returncode == 0, done.stdout + done.stderr
    assert "~ code" in done.stdout and "~ memory" not in done.stdout
    assert changing(moto.recorder.since(mark)) == [("PUT", "/2015-03-31/functions/orders-prod/code")]
    again = lam.get_function(FunctionName="orders-prod")["Configuration"]
    assert again["CodeSha256"] != config["CodeSha256"] and again["CodeSha256"] == sha(moto.code("orders-prod"))
    assert run_zip(shim_cli, tmp_path, moto, moto.code("orders-prod"), "v2.zip")["version"] == "v2"

    # Nothing changed: nothing is sent.
    mark = moto.recorder.mark()
    done = shim_cli(["deploy"], root, moto.env())
    assert done.returncode == 0 and "no changes" in done.stdout, done.stdout + done.stderr
    assert changing(moto.recorder.since(mark)) == []


def test_plan_reports_the_changes_and_makes_no_call_that_changes_anything(moto, make_project, shim_cli):
    root = orders(make_project)
    mark = moto.recorder.mark()
    done = shim_cli(["deploy", "--plan"], root, moto.env())
    assert done.returncode == 0, done.stdout + done.stderr
    assert "orders -> orders-prod (python%s, x86_64): create" % PYTHON in done.stdout
    assert "+ memory         256 MB" in done.stdout and "+ function url" in done.stdout
    calls = moto.recorder.since(mark)
    assert calls and changing(calls) == []
    assert moto.client("lambda").list_functions()["Functions"] == []

    assert shim_cli(["deploy"], root, moto.env()).returncode == 0
    (root / "pyproject.toml").write_text((root / "pyproject.toml").read_text().replace("memory = 256", "memory = 512"))
    mark = moto.recorder.mark()
    done = shim_cli(["deploy", "--plan"], root, moto.env())
    assert done.returncode == 0, done.stdout + done.stderr
    assert "update" in done.stdout and "~ memory         256 MB -> 512 MB" in done.stdout
    assert "~ code" not in done.stdout
    assert changing(moto.recorder.since(mark)) == []
    assert moto.client("lambda").get_function(FunctionName="orders-prod")["Configuration"]["MemorySize"] == 256


def test_the_runtime_layer_is_published_once_and_reused_while_it_is_the_same(moto, make_project, shim_cli):
    tables = "".join(
        """
        [tool.lambda-shim.functions.%s]
        python = "%s"
        arch = "x86_64"
        runtime_layer = true
        role = "%s"
    """
        % (name, PYTHON, ROLE)
        for name in ("first", "second")
    )
    root = make_project(tables, {"first/handler.py": HANDLER % "1", "second/handler.py": HANDLER % "2"})
    done = shim_cli(["deploy", "first"], root, moto.env())
    assert done.returncode == 0, done.stdout + done.stderr
    lam = moto.client("lambda")
    name = "lambda-shim-python%s-x86_64" % PYTHON.replace(".", "")
    versions = lam.list_layer_versions(LayerName=name)["LayerVersions"]
    assert len(versions) == 1 and "published" in done.stdout
    config = lam.get_function(FunctionName="first")["Configuration"]
    assert [layer["Arn"] for layer in config["Layers"]] == [versions[0]["LayerVersionArn"]]
    assert config["Environment"]["Variables"]["AWS_LAMBDA_EXEC_WRAPPER"] == "/opt/bootstrap"
    assert versions[0]["CompatibleArchitectures"] == ["x86_64"]
    assert "python%s" % PYTHON in versions[0]["CompatibleRuntimes"]
    names = zipfile.ZipFile(__import__("io").BytesIO(moto.code("first"))).namelist()
    assert "handler.py" in names and "bootstrap" not in names and not any(n.startswith("shim/") for n in names)

    mark = moto.recorder.mark()
    done = shim_cli(["deploy", "second"], root, moto.env())
    assert done.returncode == 0, done.stdout + done.stderr
    assert "reusing %s" % versions[0]["LayerVersionArn"] in done.stdout
    assert not [call for call in changing(moto.recorder.since(mark)) if "/layers/" in call[1]]
    assert len(lam.list_layer_versions(LayerName=name)["LayerVersions"]) == 1
    assert (
        lam.get_function(FunctionName="second")["Configuration"]["Layers"][0]["Arn"] == versions[0]["LayerVersionArn"]
    )


def test_a_customer_managed_runtime_deploys_runtime_custom_with_its_runtime_config(moto, make_project, shim_cli):
    arn = "arn:aws:lambda:us-east-1:123456789012:runtime/lambda-shim-python%s" % PYTHON.replace(".", "")
    root = make_project(
        """
        [tool.lambda-shim.functions.api]
        python = "%s"
        arch = "x86_64"
        runtime = { arn = "%s", alias = "prod" }
        role = "%s"
    """
        % (PYTHON, arn, ROLE),
        {"api/handler.py": HANDLER % "1"},
    )
    mark = moto.recorder.mark()
    done = shim_cli(["deploy"], root, moto.env())
    assert done.returncode == 0, done.stdout + done.stderr
    creates = [
        json.loads(body)
        for method, path, body in moto.recorder.since(mark)
        if (method, path) == ("POST", "/2015-03-31/functions")
    ]
    assert len(creates) == 1
    # moto keeps Runtime but drops RuntimeConfig: what was sent is checked in the request itself.
    assert creates[0]["Runtime"] == "custom"
    assert creates[0]["RuntimeConfig"] == {"RuntimeArn": arn, "RuntimeAlias": "prod"}
    assert "AWS_LAMBDA_EXEC_WRAPPER" not in creates[0]["Environment"]["Variables"]
    assert moto.client("lambda").get_function(FunctionName="api")["Configuration"]["Runtime"] == "custom"
    names = zipfile.ZipFile(__import__("io").BytesIO(moto.code("api"))).namelist()
    assert "handler.py" in names and "bootstrap" not in names


def test_with_an_s3_bucket_the_zip_goes_through_s3(moto, make_project, shim_cli):
    root = orders(make_project)
    moto.client("s3").create_bucket(Bucket="deploys")
    done = shim_cli(["deploy", "--s3-bucket", "deploys"], root, moto.env())
    assert done.returncode == 0, done.stdout + done.stderr
    keys = [o["Key"] for o in moto.client("s3").list_objects_v2(Bucket="deploys")["Contents"]]
    assert len(keys) == 1 and keys[0].startswith("lambda-shim/orders-prod/")
    body = moto.client("s3").get_object(Bucket="deploys", Key=keys[0])["Body"].read()
    config = moto.client("lambda").get_function(FunctionName="orders-prod")["Configuration"]
    assert (
        config["CodeSha256"] == sha(body)
        and keys[0] == "lambda-shim/orders-prod/%s.zip" % hashlib.sha256(body).hexdigest()
    )


# -- one-line errors -------------------------------------------------------------------------------


def one_line_error(done, expected):
    assert done.returncode == 2, done.stdout + done.stderr
    lines = [line for line in done.stderr.splitlines() if not line.startswith("packed ")]
    assert len(lines) == 1 and expected in lines[0] and "Traceback" not in done.stderr, done.stderr


def test_no_role(moto, make_project, shim_cli):
    root = make_project('[tool.lambda-shim.functions.orders]\narch = "x86_64"\n', {"orders/handler.py": HANDLER % 1})
    one_line_error(shim_cli(["deploy"], root, moto.env()), "no role: set role =")


def test_a_role_lambda_cannot_assume(moto, make_project, shim_cli):
    root = orders(make_project)
    missing = ROLE.replace("shim-test-role", "nobody")
    one_line_error(
        shim_cli(["deploy", "--role", missing], root, moto.env()), "the role %s cannot be assumed by Lambda" % missing
    )


def test_no_credentials(moto, make_project, shim_cli):
    root = orders(make_project)
    env = moto.env()
    del env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]
    one_line_error(shim_cli(["deploy"], root, env), "no AWS credentials")


def test_a_layer_for_another_architecture(moto, make_project, shim_cli, tmp_path):
    layer = tmp_path / "layer.zip"
    with zipfile.ZipFile(layer, "w") as archive:
        archive.writestr("python/x.py", "")
    arn = moto.client("lambda").publish_layer_version(
        LayerName="arm-only", Content={"ZipFile": layer.read_bytes()}, CompatibleArchitectures=["arm64"]
    )["LayerVersionArn"]
    root = make_project(
        '[tool.lambda-shim.functions.orders]\narch = "x86_64"\nrole = "%s"\nlayers = ["%s"]\n' % (ROLE, arn),
        {"orders/handler.py": HANDLER % 1},
    )
    one_line_error(shim_cli(["deploy"], root, moto.env()), "is built for arm64, the function for x86_64")


def test_without_boto3_one_line_names_the_extra(make_project, tmp_path):
    import subprocess
    import sys

    root = orders(make_project)
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; sys.modules['boto3'] = None\nfrom shim.cli import main; sys.exit(main(['deploy', '--plan']))",
        ],
        cwd=str(root),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert (
        done.stderr.strip() == "shim deploy: shim deploy needs boto3: pip install 'lambda-shim[deploy]' "
        "(or pip install boto3)"
    )


@pytest.mark.parametrize("setting", ["timeout = 2.5"])
def test_settings_lambda_would_refuse_are_refused_before_any_call(moto, make_project, shim_cli, setting):
    root = make_project(
        '[tool.lambda-shim.functions.orders]\nrole = "%s"\n%s\n' % (ROLE, setting), {"orders/handler.py": HANDLER % 1}
    )
    mark = moto.recorder.mark()
    one_line_error(shim_cli(["deploy"], root, moto.env()), "Lambda takes whole seconds")
    assert moto.recorder.since(mark) == []
