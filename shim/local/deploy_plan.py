"""`shim deploy`'s plan: what each function should be on Lambda, and how that differs from what Lambda has.

make_target() reads a function's config into a Target (its runtime, handler, role,
memory, environment with the exec wrapper, layers, SnapStart; UsageError for what
Lambda would refuse); once packed (shim.local.deploy) it has its CodeSha256 too.
diff() compares it with what Lambda has (function_configuration(); every setting
for a new function), url_changes() does the same for its Function URL, and
describe_changes() writes the lines `shim deploy --plan` prints.
"""

import dataclasses
import os
import sys
from typing import Any, Dict, Optional

from shim.pack.errors import UsageError
from shim.local import deploy_aws as aws
from shim.local.project import FunctionConfig

EXEC_WRAPPER = {"zip": "/var/task/bootstrap", "layer": "/opt/bootstrap"}
AMAZON_LINUX_2 = ("3.9", "3.10", "3.11")  # the managed runtimes on Amazon Linux 2 (glibc 2.26)
SETTINGS = (
    "Runtime",
    "Handler",
    "Role",
    "MemorySize",
    "Timeout",
    "Description",
    "Environment",
    "Layers",
    "RuntimeConfig",
    "SnapStart",
)
LABELS = {
    "MemorySize": "memory",
    "Timeout": "timeout",
    "Environment": "environment",
    "Layers": "layers",
    "Runtime": "runtime",
    "Handler": "handler",
    "Role": "role",
    "Description": "description",
    "RuntimeConfig": "runtime config",
    "SnapStart": "snapstart",
    "Architectures": "architecture",
    "Code": "code",
    "Url": "function url",
}


@dataclasses.dataclass
class Target:
    """What one function should be on Lambda."""

    config: FunctionConfig
    kind: str  # "zip" | "layer" | "custom"
    arch: str
    python: str
    settings: Dict[str, Any]  # CreateFunction's configuration keys (not Code, not Architectures)
    zip_path: str = ""
    sha256: str = ""
    zipped_bytes: int = 0

    @property
    def name(self) -> str:
        return self.config.lambda_name


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
    settings: Dict[str, Any] = {
        "Handler": config.handler,
        "MemorySize": int(config.memory),
        "Timeout": int(config.timeout),
        "Description": config.description or "",
    }
    if kind == "custom":
        if not aws.supports(client, "CreateFunction", "RuntimeConfig"):
            import botocore

            raise UsageError(
                "%s: runtime = {...} needs a botocore that knows Lambda's RuntimeConfig "
                "(customer-managed runtimes, Lambda Core API 2026-10-01); botocore %s does not: "
                "pip install -U boto3" % (config.name, botocore.__version__)
            )
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
            raise UsageError(
                "%s: layers: %s is a file; shim deploy takes layer version ARNs "
                "(publish the zip with `aws lambda publish-layer-version`)" % (config.name, layer)
            )
    settings["Layers"] = list(config.layers)
    settings["SnapStart"] = {"ApplyOn": "PublishedVersions" if config.snapstart else "None"}
    chosen_role = role or config.role
    if chosen_role:
        settings["Role"] = chosen_role
    return Target(config=config, kind=kind, arch=arch, python=python, settings=settings)


def glibc(python):
    """The glibc of the managed runtime for CPython `python`: the one its wheels are installed for."""
    from shim.pack import pipinstall

    return "2.26" if python in AMAZON_LINUX_2 else pipinstall.LAMBDA_GLIBC


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
        return [
            (field, None, value)
            for field, value in desired.items()
            if not (field == "SnapStart" and value["ApplyOn"] == "None") and value not in ("", [])
        ]
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
