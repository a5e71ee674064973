"""`shim deploy`: the project file's functions, packed by the packer and created or updated on Lambda.

For each function: pack it (a reproducible zip, so an unchanged function has the
CodeSha256 Lambda already holds), read what Lambda has, work out the changes,
and (unless plan_only) make them, then wait until the function is Active and its
last update Successful. Three ways to run, from the project file:

- default: the managed runtime `python3.X` with the zip's bootstrap as its exec
  wrapper (AWS_LAMBDA_EXEC_WRAPPER=/var/task/bootstrap), the runtime in the zip;
- runtime_layer = true: the zip without the runtime, lambda-shim's layer
  (published once per content: an identical version is reused), the wrapper
  /opt/bootstrap;
- runtime = { arn, alias }: a customer-managed runtime (`Runtime: custom` and
  RuntimeConfig); the zip holds only the function's code.

`provided.al2023` is not a default: it has no Python, so it needs a Python layer
the user provides (README, deploying way 2). The AWS calls live in deploy_aws.
"""
import dataclasses
import os
import sys
import tempfile
from typing import Any, Dict, List, Optional

from shim import __version__

from shim.pack.errors import UsageError
from shim.local import deploy_aws as aws
from shim.local.project import FunctionConfig

EXEC_WRAPPER = {"zip": "/var/task/bootstrap", "layer": "/opt/bootstrap"}
AMAZON_LINUX_2 = ("3.9", "3.10", "3.11")   # the managed runtimes on Amazon Linux 2 (glibc 2.26)
SETTINGS = ("Runtime", "Handler", "Role", "MemorySize", "Timeout", "Description", "Environment", "Layers",
            "RuntimeConfig", "SnapStart")
LABELS = {"MemorySize": "memory", "Timeout": "timeout", "Environment": "environment", "Layers": "layers",
          "Runtime": "runtime", "Handler": "handler", "Role": "role", "Description": "description",
          "RuntimeConfig": "runtime config", "SnapStart": "snapstart", "Architectures": "architecture",
          "Code": "code", "Url": "function url"}


@dataclasses.dataclass
class Target:
    """What one function should be on Lambda."""

    config: FunctionConfig
    kind: str                       # "zip" | "layer" | "custom"
    arch: str
    python: str
    settings: Dict[str, Any]        # CreateFunction's configuration keys (not Code, not Architectures)
    zip_path: str = ""
    sha256: str = ""
    zipped_bytes: int = 0

    @property
    def name(self) -> str:
        return self.config.lambda_name


def deploy(configs: List[FunctionConfig], *, role: Optional[str] = None, plan_only: bool = False,
           s3_bucket: Optional[str] = None, region: Optional[str] = None, profile: Optional[str] = None,
           out=print, log=None, wait_timeout: float = 300.0) -> int:
    """Deploy (or with plan_only, describe the changes to) each function; returns the exit code (0)."""
    log = log or (lambda line: print(line, file=sys.stderr, flush=True))
    session = aws.boto3_session(region, profile)
    client = session.client("lambda")
    s3 = session.client("s3") if s3_bucket else None
    layers = {}  # type: dict  # (python, arch) -> the runtime layer's ARN (or a placeholder in a plan)
    if plan_only:
        out("Plan: what shim deploy would change (nothing is changed)")
    with tempfile.TemporaryDirectory(prefix="shim-deploy-") as scratch:
        for config in configs:
            target = make_target(config, role, client)
            try:
                one(client, s3, target, scratch, layers, plan_only, s3_bucket, out, log, wait_timeout)
            except UsageError:
                raise
            except Exception as exc:
                line = aws.describe(exc, role=target.settings.get("Role"))
                if line is None:
                    raise
                raise UsageError("%s: %s" % (target.name, line)) from None
    return 0


def make_target(config: FunctionConfig, role: Optional[str], client) -> Target:
    """The function's desired settings from its config; UsageError for what Lambda would refuse."""
    from shim.pack import checks
    if not config.path or not os.path.isdir(config.path):
        raise UsageError("%s: its directory %s does not exist" % (config.name, config.path))
    arch = config.arch or checks.default_arch()
    python = checks.check_python_version(config.python or "%d.%d" % sys.version_info[:2])
    if float(config.timeout) != int(config.timeout):
        raise UsageError("%s: timeout = %s: Lambda takes whole seconds" % (config.name, config.timeout))
    kind = "custom" if config.runtime else "layer" if config.runtime_layer else "zip"
    environment = dict(config.environment)
    settings: Dict[str, Any] = {"Handler": config.handler, "MemorySize": int(config.memory),
                                "Timeout": int(config.timeout), "Description": config.description or ""}
    if kind == "custom":
        if not aws.supports(client, "CreateFunction", "RuntimeConfig"):
            import botocore
            raise UsageError("%s: runtime = {...} needs a botocore that knows Lambda's RuntimeConfig "
                             "(customer-managed runtimes, Lambda Core API 2026-10-01); botocore %s does not: "
                             "pip install -U boto3" % (config.name, botocore.__version__))
        runtime = config.runtime or {}
        settings["Runtime"] = "custom"
        settings["RuntimeConfig"] = {"RuntimeArn": runtime["arn"]}
        if runtime.get("alias"):
            settings["RuntimeConfig"]["RuntimeAlias"] = runtime["alias"]
    else:
        settings["Runtime"] = "python%s" % python
        environment["AWS_LAMBDA_EXEC_WRAPPER"] = EXEC_WRAPPER[kind]
    settings["Environment"] = {"Variables": environment}
    for layer in config.layers:
        if not layer.startswith("arn:"):
            raise UsageError("%s: layers: %s is a file; shim deploy takes layer version ARNs "
                             "(publish the zip with `aws lambda publish-layer-version`)" % (config.name, layer))
    settings["Layers"] = list(config.layers)
    settings["SnapStart"] = {"ApplyOn": "PublishedVersions" if config.snapstart else "None"}
    chosen_role = role or config.role
    if chosen_role:
        settings["Role"] = chosen_role
    return Target(config=config, kind=kind, arch=arch, python=python, settings=settings)


def one(client, s3, target, scratch, layers, plan_only, s3_bucket, out, log, wait_timeout):
    config = target.config
    if config.max_concurrency is not None:
        log("warning: %s: max_concurrency is not deployed: Lambda Managed Instances needs a capacity provider, "
            "which shim deploy does not set up" % target.name)
    current = function_configuration(client, target.name)
    if current is None and "Role" not in target.settings:
        raise UsageError("%s: no role: set role = \"arn:aws:iam::ACCOUNT:role/NAME\" in [tool.lambda-shim.functions."
                         "%s] or pass --role ARN" % (target.name, config.name))
    for arn in target.settings["Layers"]:
        compatible = aws.layer_compatible_architectures(client, arn)
        if compatible and target.arch not in compatible:
            raise UsageError("%s: the layer %s is built for %s, the function for %s: use a layer version for %s "
                             "or set arch" % (target.name, arn, "/".join(compatible), target.arch, target.arch))
    pack_function(target, scratch, log)
    if target.kind == "layer":
        arn = runtime_layer(client, s3, target, scratch, layers, plan_only, s3_bucket, out, log)
        target.settings["Layers"] = [arn] + target.settings["Layers"]

    changes = diff(current, target)
    url_change = url_changes(client, target, current)
    header = "%s%s (%s, %s)" % (config.name, "" if target.name == config.name else " -> " + target.name,
                                target.settings["Runtime"], target.arch)
    if current is None:
        out("%s: create" % header)
    else:
        out("%s: %s" % (header, "update" if changes or url_change else "no changes"))
    for line in describe_changes(changes + url_change, current is None):
        out("  " + line)
    if plan_only:
        return
    if current is None:
        answer = client.create_function(FunctionName=target.name, PackageType="Zip", Architectures=[target.arch],
                                        Code=code(s3, s3_bucket, target), **target.settings)
        arn = answer["FunctionArn"]
        aws.wait_until_ready(client, target.name, wait_timeout)
    else:
        arn = current["FunctionArn"]
        changed = {field for field, _, _ in changes}
        if changed & {"Code", "Architectures"}:
            client.update_function_code(FunctionName=target.name, Architectures=[target.arch],
                                        **code(s3, s3_bucket, target))
            aws.wait_until_ready(client, target.name, wait_timeout)
        if changed - {"Code", "Architectures"}:
            client.update_function_configuration(FunctionName=target.name, **{
                key: value for key, value in target.settings.items() if key in changed or key in ("Role",)})
            aws.wait_until_ready(client, target.name, wait_timeout)
    out("  arn  %s" % arn)
    if config.function_url:
        url = aws.ensure_url(client, target.name, config.function_url_auth, invoke_mode(config))
        out("  url  %s (AuthType %s)" % (url, config.function_url_auth))


def pack_function(target, scratch, log):
    """Pack the function into scratch with the packer: the runtime in the zip only for kind "zip"."""
    from shim.pack import packer
    config = target.config
    path = os.path.join(scratch, "%s.zip" % config.name)

    def progress(line):
        if line.startswith("warning: "):
            log("%s: %s" % (config.name, line))
    result = packer.pack(config.path, path, handler=config.handler, arch=target.arch, python_version=target.python,
                         glibc=glibc(target.python), requirements=config.requirements, exclude=config.exclude,
                         runtime=target.kind == "zip", log=progress)
    target.zip_path, target.zipped_bytes = result.path, result.zipped_bytes
    target.sha256 = aws.code_sha256(result.path)
    log("packed %s: %s, CodeSha256 %s" % (config.name, packer.size(result.zipped_bytes), target.sha256))


def glibc(python):
    from shim.pack import pipinstall
    return "2.26" if python in AMAZON_LINUX_2 else pipinstall.LAMBDA_GLIBC


def layer_name(python, arch):
    return "lambda-shim-python%s-%s" % (python.replace(".", ""), arch)


def runtime_layer(client, s3, target, scratch, layers, plan_only, s3_bucket, out, log):
    """lambda-shim's layer for the target's Python and architecture: an identical version, or a new one."""
    key = (target.python, target.arch)
    if key in layers:
        return layers[key]
    from shim.pack import packer
    path = os.path.join(scratch, "shim-layer-%s-%s.zip" % key)
    packer.pack_layer(path, arch=target.arch, python_version=target.python, glibc=glibc(target.python))
    sha = aws.code_sha256(path)
    name = layer_name(*key)
    arn = aws.find_layer_version(client, name, sha)
    if arn:
        out("layer %s: unchanged, reusing %s" % (name, arn))
    elif plan_only:
        out("layer %s: would publish a new version (CodeSha256 %s)" % (name, sha))
        arn = "(a new version of %s)" % name
    else:
        content = aws.upload(s3, s3_bucket, "lambda-shim/layers/%s/%s.zip" % (name, _hex(sha)), path) \
            if s3_bucket else None
        arn = aws.publish_layer(client, name, path, target.arch, target.python,
                                "lambda-shim %s runtime for CPython %s, %s" % (__version__, target.python,
                                                                               target.arch), s3=content)
        out("layer %s: published %s" % (name, arn))
    layers[key] = arn
    return arn


def code(s3, s3_bucket, target):
    """The Code argument: the zip itself, or (with an S3 bucket) its S3 object; UsageError when too big."""
    from shim.pack.packer import ZIPPED_LIMIT, size
    if s3_bucket:
        return aws.upload(s3, s3_bucket, "lambda-shim/%s/%s.zip" % (target.name, _hex(target.sha256)),
                          target.zip_path)
    if target.zipped_bytes > ZIPPED_LIMIT:
        raise UsageError("%s: the zip is %s, above Lambda's %s limit for direct upload: pass --s3-bucket BUCKET"
                         % (target.name, size(target.zipped_bytes), size(ZIPPED_LIMIT)))
    with open(target.zip_path, "rb") as handle:
        return {"ZipFile": handle.read()}


def _hex(sha256_b64):
    import base64
    return base64.b64decode(sha256_b64).hex()


def function_configuration(client, name):
    try:
        return client.get_function(FunctionName=name)["Configuration"]
    except Exception as exc:
        if aws.not_found(exc):
            return None
        raise


def current_value(current, field):
    if field == "Environment":
        return {"Variables": (current.get("Environment") or {}).get("Variables") or {}}
    if field == "Layers":
        return [layer["Arn"] for layer in current.get("Layers") or []]
    if field == "SnapStart":
        return {"ApplyOn": (current.get("SnapStart") or {}).get("ApplyOn", "None")}
    if field == "RuntimeConfig":
        config = current.get("RuntimeConfig") or {}
        return {key: config[key] for key in ("RuntimeArn", "RuntimeAlias") if config.get(key)} or None
    if field == "Description":
        return current.get("Description") or ""
    return current.get(field)


def diff(current, target):
    """[(field, before, after)]: every setting for a new function, else those that differ."""
    desired = dict(target.settings, Architectures=[target.arch], Code=target.sha256)
    if current is None:
        return [(field, None, value) for field, value in desired.items()
                if not (field == "SnapStart" and value["ApplyOn"] == "None") and value not in ("", [])]
    have = {field: current_value(current, field) for field in SETTINGS}
    have.update(Architectures=current.get("Architectures") or ["x86_64"], Code=current.get("CodeSha256"))
    return [(field, have.get(field), value) for field, value in desired.items() if have.get(field) != value]


def invoke_mode(config):
    return "RESPONSE_STREAM" if config.streaming else "BUFFERED"


def url_changes(client, target, current):
    """[("Url", before, after)] when the Function URL is to be made or changed; [] otherwise."""
    config = target.config
    if not config.function_url:
        return []
    have = aws.url_config(client, target.name) if current is not None else None
    want = "AuthType %s, InvokeMode %s" % (config.function_url_auth, invoke_mode(config))
    if have is None:
        return [("Url", None, want)]
    before = "AuthType %s, InvokeMode %s" % (have.get("AuthType"), aws.normal_invoke_mode(have.get("InvokeMode")))
    return [] if before == want else [("Url", before, want)]


def describe_changes(changes, new):
    for field, before, after in changes:
        label = LABELS.get(field, field)
        if new or before is None:
            yield "+ %-14s %s" % (label, show(field, after))
        else:
            yield "~ %-14s %s -> %s" % (label, show(field, before), show(field, after))


def show(field, value):
    if field == "Environment":
        return ", ".join("%s=%s" % item for item in sorted(value["Variables"].items())) or "(none)"
    if field in ("Layers", "Architectures"):
        return ", ".join(value) or "(none)"
    if field == "RuntimeConfig":
        return "(none)" if not value else " ".join("%s %s" % item for item in sorted(value.items()))
    if field == "SnapStart":
        return value["ApplyOn"]
    if field == "MemorySize":
        return "%s MB" % value
    if field == "Timeout":
        return "%s s" % value
    if field == "Code":
        return "CodeSha256 %s" % value
    return str(value)
