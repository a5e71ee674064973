"""The AWS side of `shim deploy`: boto3 clients, one-line errors, waiting, the runtime layer, S3, Function URLs.

boto3 is imported here only, when `shim deploy` runs: it is the `deploy` extra
(`pip install 'lambda-shim[deploy]'`), never in a function's zip. Every failure
the user can fix becomes a UsageError of one line (the CLI prints it without a
traceback); `describe(exc)` turns botocore's exceptions into such a line.
"""

import base64
import hashlib
import os
import time

from shim.pack.errors import UsageError

INSTALL_HINT = "shim deploy needs boto3: pip install 'lambda-shim[deploy]' (or pip install boto3)"
ASSUME_HINT = (
    "the role %s cannot be assumed by Lambda: it must exist, in this account, and its trust policy must "
    "allow lambda.amazonaws.com to sts:AssumeRole (a role made seconds ago may need ten more: run "
    "shim deploy again)"
)
PUBLIC_URL_STATEMENTS = ("FunctionURLAllowPublicAccess", "FunctionURLInvokeAllowPublicAccess")


def boto3_session(region=None, profile=None):
    """A boto3 Session; UsageError when boto3 is missing, the profile is unknown or no region is set."""
    try:
        import boto3
        import botocore.exceptions
    except ImportError:
        raise UsageError(INSTALL_HINT) from None
    region = region or os.environ.get("AWS_REGION") or None  # botocore reads AWS_DEFAULT_REGION itself
    try:
        session = boto3.Session(region_name=region, profile_name=profile)
    except botocore.exceptions.ProfileNotFound as exc:
        raise UsageError(str(exc)) from None
    if not session.region_name:
        raise UsageError("no AWS region: pass --region, or set AWS_REGION (or a region in your AWS profile)")
    if session.get_credentials() is None:
        raise UsageError(
            "no AWS credentials: set AWS_PROFILE (or pass --profile), or AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY, or run `aws configure`"
        )
    return session


def describe(exc, role=None):
    """One line for a botocore error, or None for an exception that is not one of AWS's."""
    try:
        import botocore.exceptions as errors
    except ImportError:  # pragma: no cover - boto3_session() has checked
        return None
    if isinstance(exc, errors.NoCredentialsError):
        return "no AWS credentials: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
    if isinstance(exc, errors.EndpointConnectionError):
        return "cannot reach AWS: %s" % exc
    if isinstance(exc, errors.ClientError):
        error = exc.response.get("Error", {})
        code, message = error.get("Code", "Error"), " ".join(str(error.get("Message", "")).split())
        if "cannot be assumed by Lambda" in message or "role defined for the function" in message:
            return ASSUME_HINT % (role or "given")
        if code in (
            "UnrecognizedClientException",
            "InvalidClientTokenId",
            "ExpiredToken",
            "ExpiredTokenException",
            "InvalidSignatureException",
            "SignatureDoesNotMatch",
        ):
            return "AWS refused the credentials (%s): %s" % (code, message)
        if code in ("AccessDeniedException", "AccessDenied"):
            return "AWS denied %s: %s" % (exc.operation_name, message)
        return "%s failed: %s: %s" % (exc.operation_name, code, message)
    if isinstance(exc, errors.BotoCoreError):  # e.g. ParamValidationError, whose text has several lines
        return " ".join(str(exc).split())
    return None


def code_sha256(path):
    """Lambda's CodeSha256 of a zip: the base64 of its SHA-256."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return base64.b64encode(digest.digest()).decode("ascii")


def not_found(exc):
    code = getattr(exc, "response", {}).get("Error", {}).get("Code")
    return code in ("ResourceNotFoundException", "404")


def supports(client, operation, member):
    """Whether this botocore's model of Lambda knows `member` in `operation`'s input."""
    shape = client.meta.service_model.operation_model(operation).input_shape
    return member in shape.members


def wait_until_ready(client, name, timeout=300.0, interval=1.0, sleep=time.sleep, clock=time.monotonic):
    """Poll until State is Active and LastUpdateStatus is Successful; UsageError on Failed or after `timeout`."""
    deadline = clock() + timeout
    while True:
        config = client.get_function_configuration(FunctionName=name)
        state, update = config.get("State", "Active"), config.get("LastUpdateStatus", "Successful")
        if state == "Failed" or update == "Failed":
            reason = config.get("LastUpdateStatusReason") if update == "Failed" else config.get("StateReason")
            raise UsageError(
                "%s failed to become ready on Lambda (State %s, LastUpdateStatus %s): %s"
                % (name, state, update, reason or "no reason given")
            )
        if state == "Active" and update == "Successful":
            return config
        if clock() >= deadline:
            raise UsageError(
                "%s was not ready after %d s (State %s, LastUpdateStatus %s); it may still finish: "
                "check it with `aws lambda get-function --function-name %s`" % (name, timeout, state, update, name)
            )
        sleep(interval)


def layer_compatible_architectures(client, arn):
    """The CompatibleArchitectures of a layer version ([] when it names none); UsageError if it is not found."""
    try:
        return layer_version(client, arn).get("CompatibleArchitectures") or []
    except Exception as exc:
        if not_found(exc):
            raise UsageError(
                "layer %s not found (layers in the project file must be layer version ARNs)" % arn
            ) from None
        raise


def layer_version(client, arn):
    """GetLayerVersion for a layer version's ARN (by layer ARN and number, which moto serves too)."""
    layer, _, number = arn.rpartition(":")
    if not layer or not number.isdigit():
        raise UsageError("%s is not a layer version ARN (arn:aws:lambda:REGION:ACCOUNT:layer:NAME:VERSION)" % arn)
    return client.get_layer_version(LayerName=layer, VersionNumber=int(number))


def find_layer_version(client, layer_name, sha256):
    """The ARN of a version of `layer_name` whose content has CodeSha256 `sha256`, or None."""
    marker = None
    while True:
        try:
            page = client.list_layer_versions(LayerName=layer_name, **({"Marker": marker} if marker else {}))
        except Exception as exc:
            if not_found(exc):
                return None
            raise
        for version in page.get("LayerVersions", []):
            arn = version["LayerVersionArn"]
            content = layer_version(client, arn).get("Content", {})
            if content.get("CodeSha256") == sha256:
                return arn
        marker = page.get("NextMarker")
        if not marker:
            return None


def publish_layer(client, layer_name, zip_path, arch, python_version, description, s3=None):
    """Publish the runtime layer's zip; returns the new version's ARN."""
    content = s3 or {"ZipFile": _read(zip_path)}
    answer = client.publish_layer_version(
        LayerName=layer_name,
        Description=description,
        Content=content,
        CompatibleArchitectures=[arch],
        CompatibleRuntimes=["python%s" % python_version, "provided.al2023"],
        LicenseInfo="Apache-2.0",
    )
    return answer["LayerVersionArn"]


def upload(s3_client, bucket, key, zip_path):
    """Put the zip in S3 (skipped when an object of that key is there: the key holds the zip's hash)."""
    try:
        s3_client.head_object(Bucket=bucket, Key=key)
        return {"S3Bucket": bucket, "S3Key": key}
    except Exception as exc:
        if getattr(exc, "response", {}).get("Error", {}).get("Code") not in ("404", "NoSuchKey", "NotFound"):
            raise
    with open(zip_path, "rb") as handle:
        s3_client.put_object(Bucket=bucket, Key=key, Body=handle)
    return {"S3Bucket": bucket, "S3Key": key}


def url_config(client, name):
    """The function's Function URL config, or None."""
    try:
        return client.get_function_url_config(FunctionName=name)
    except Exception as exc:
        if not_found(exc):
            return None
        raise


def ensure_url(client, name, auth_type, invoke_mode):
    """Create or update the Function URL; a public one (AuthType NONE) gets the permissions it needs."""
    current = url_config(client, name)
    if current is None:
        answer = client.create_function_url_config(FunctionName=name, AuthType=auth_type, InvokeMode=invoke_mode)
    elif (current.get("AuthType"), normal_invoke_mode(current.get("InvokeMode"))) != (auth_type, invoke_mode):
        answer = client.update_function_url_config(FunctionName=name, AuthType=auth_type, InvokeMode=invoke_mode)
    else:
        answer = current
    if auth_type == "NONE":
        _allow_public(client, name)
    return answer["FunctionUrl"]


def normal_invoke_mode(mode):
    return (mode or "BUFFERED").upper()


def _allow_public(client, name):
    """The resource policy a public Function URL needs: lambda:InvokeFunctionUrl (and, where this botocore
    knows the condition, lambda:InvokeFunction through the URL only), for anyone."""
    statements = [
        dict(
            StatementId=PUBLIC_URL_STATEMENTS[0],
            Action="lambda:InvokeFunctionUrl",
            Principal="*",
            FunctionUrlAuthType="NONE",
        )
    ]
    if supports(client, "AddPermission", "InvokedViaFunctionUrl"):
        statements.append(
            dict(
                StatementId=PUBLIC_URL_STATEMENTS[1],
                Action="lambda:InvokeFunction",
                Principal="*",
                InvokedViaFunctionUrl=True,
            )
        )
    for statement in statements:
        try:
            client.add_permission(FunctionName=name, **statement)
        except Exception as exc:
            if getattr(exc, "response", {}).get("Error", {}).get("Code") != "ResourceConflictException":
                raise  # a conflict: the statement is there from an earlier deploy


def _read(path):
    with open(path, "rb") as handle:
        return handle.read()
