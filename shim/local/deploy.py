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
the user provides (README, deploying way 2). The plan (each function's Target and
its changes) is worked out in deploy_plan; the AWS calls live in deploy_aws.
"""

import os
import sys
import tempfile
from typing import List, Optional

from shim import __version__

from shim.pack.errors import UsageError
from shim.local import deploy_aws as aws
from shim.local.deploy_plan import (
    describe_changes,
    diff,
    function_configuration,
    glibc,
    invoke_mode,
    make_target,
    url_changes,
)
from shim.local.project import FunctionConfig


def deploy(
    configs: List[FunctionConfig],
    *,
    role: Optional[str] = None,
    plan_only: bool = False,
    s3_bucket: Optional[str] = None,
    region: Optional[str] = None,
    profile: Optional[str] = None,
    out=print,
    log=None,
    wait_timeout: float = 300.0,
) -> int:
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


def one(client, s3, target, scratch, layers, plan_only, s3_bucket, out, log, wait_timeout):
    config = target.config
    if config.max_concurrency is not None:
        log(
            "warning: %s: max_concurrency is not deployed: Lambda Managed Instances needs a capacity provider, "
            "which shim deploy does not set up" % target.name
        )
    current = function_configuration(client, target.name)
    if current is None and "Role" not in target.settings:
        raise UsageError(
            '%s: no role: set role = "arn:aws:iam::ACCOUNT:role/NAME" in [tool.lambda-shim.functions.'
            "%s] or pass --role ARN" % (target.name, config.name)
        )
    for arn in target.settings["Layers"]:
        compatible = aws.layer_compatible_architectures(client, arn)
        if compatible and target.arch not in compatible:
            raise UsageError(
                "%s: the layer %s is built for %s, the function for %s: use a layer version for %s "
                "or set arch" % (target.name, arn, "/".join(compatible), target.arch, target.arch)
            )
    pack_function(target, scratch, log)
    if target.kind == "layer":
        arn = runtime_layer(client, s3, target, scratch, layers, plan_only, s3_bucket, out, log)
        target.settings["Layers"] = [arn] + target.settings["Layers"]

    changes = diff(current, target)
    url_change = url_changes(client, target, current)
    header = "%s%s (%s, %s)" % (
        config.name,
        "" if target.name == config.name else " -> " + target.name,
        target.settings["Runtime"],
        target.arch,
    )
    if current is None:
        out("%s: create" % header)
    else:
        out("%s: %s" % (header, "update" if changes or url_change else "no changes"))
    for line in describe_changes(changes + url_change, current is None):
        out("  " + line)
    if plan_only:
        return
    if current is None:
        answer = client.create_function(
            FunctionName=target.name,
            PackageType="Zip",
            Architectures=[target.arch],
            Code=code(s3, s3_bucket, target),
            **target.settings,
        )
        arn = answer["FunctionArn"]
        aws.wait_until_ready(client, target.name, wait_timeout)
    else:
        arn = current["FunctionArn"]
        changed = {field for field, _, _ in changes}
        if changed & {"Code", "Architectures"}:
            client.update_function_code(
                FunctionName=target.name, Architectures=[target.arch], **code(s3, s3_bucket, target)
            )
            aws.wait_until_ready(client, target.name, wait_timeout)
        if changed - {"Code", "Architectures"}:
            client.update_function_configuration(
                FunctionName=target.name,
                **{key: value for key, value in target.settings.items() if key in changed or key in ("Role",)},
            )
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

    result = packer.pack(
        config.path,
        path,
        handler=config.handler,
        arch=target.arch,
        python_version=target.python,
        glibc=glibc(target.python),
        requirements=config.requirements,
        exclude=config.exclude,
        runtime=target.kind == "zip",
        log=progress,
    )
    target.zip_path, target.zipped_bytes = result.path, result.zipped_bytes
    target.sha256 = aws.code_sha256(result.path)
    log("packed %s: %s, CodeSha256 %s" % (config.name, packer.size(result.zipped_bytes), target.sha256))


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
        content = (
            aws.upload(s3, s3_bucket, "lambda-shim/layers/%s/%s.zip" % (name, _hex(sha)), path) if s3_bucket else None
        )
        arn = aws.publish_layer(
            client,
            name,
            path,
            target.arch,
            target.python,
            "lambda-shim %s runtime for CPython %s, %s" % (__version__, target.python, target.arch),
            s3=content,
        )
        out("layer %s: published %s" % (name, arn))
    layers[key] = arn
    return arn


def code(s3, s3_bucket, target):
    """The Code argument: the zip itself, or (with an S3 bucket) its S3 object; UsageError when too big."""
    from shim.pack.packer import ZIPPED_LIMIT, size

    if s3_bucket:
        return aws.upload(s3, s3_bucket, "lambda-shim/%s/%s.zip" % (target.name, _hex(target.sha256)), target.zip_path)
    if target.zipped_bytes > ZIPPED_LIMIT:
        raise UsageError(
            "%s: the zip is %s, above Lambda's %s limit for direct upload: pass --s3-bucket BUCKET"
            % (target.name, size(target.zipped_bytes), size(ZIPPED_LIMIT))
        )
    with open(target.zip_path, "rb") as handle:
        return {"ZipFile": handle.read()}


def _hex(sha256_b64):
    import base64

    return base64.b64decode(sha256_b64).hex()
