"""The context object handed to the handler, and the Invocation it is made from (one event as /next gave it).

Attribute names, types and None defaults match awslambdaric's LambdaContext
(tests/test_compat.py checks them against the installed client): for example
memory_limit_in_mb is the *string* from the environment, identity is always an
object whose fields may be None, and client_context is None without the header.
"""

import os
import sys
import time

from shim.runtime import errors, http1, protocol

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (the cold start)
if TYPE_CHECKING:
    from typing import Any

    from shim.runtime.http1 import Headers

_W3C_FIELDS = ("traceparent", "tracestate", "baggage")


class Invocation:
    """One event from /next, with the headers the runtime cares about (decoded only here)."""

    __slots__ = (
        "request_id",
        "deadline_raw",
        "function_arn",
        "trace_id",
        "client_context",
        "cognito_identity",
        "tenant_id",
        "invocation_id",
        "content_type",
        "body",
        "headers",
    )

    def __init__(self, headers: "Headers", body: "bytes") -> None:
        self.headers = headers
        self.body = body
        fields = headers.fields or headers.split()
        get = fields.get
        try:  # the common case, inline: the values present, ASCII or UTF-8
            self.request_id = get(_REQUEST_ID).strip().decode()  # type: ignore[union-attr]  # (caught below)
            value = get(_FUNCTION_ARN)
            self.function_arn = value.strip().decode() if value is not None else None
            value = get(_TRACE_ID)
            self.trace_id = value.strip().decode() if value is not None else None
            value = get(_CONTENT_TYPE)
            self.content_type = value.strip().decode() if value is not None else None
        except (AttributeError, UnicodeDecodeError):  # no request id, or a value that is not UTF-8
            self.request_id, self.function_arn, self.trace_id, self.content_type = map(
                _text, map(headers.get, (_REQUEST_ID, _FUNCTION_ARN, _TRACE_ID, _CONTENT_TYPE))
            )
        self.deadline_raw = get(_DEADLINE_MS)  # parsed when asked for (deadline_ms)
        # Usually absent: one dict lookup each, the decoding only when present.
        self.client_context = _text(headers.get(_CLIENT_CONTEXT)) if _CLIENT_CONTEXT in fields else None
        self.cognito_identity = _text(headers.get(_COGNITO_IDENTITY)) if _COGNITO_IDENTITY in fields else None
        self.tenant_id = _text(headers.get(_TENANT_ID)) if _TENANT_ID in fields else None
        self.invocation_id = _text(headers.get(_INVOCATION_ID)) if _INVOCATION_ID in fields else None

    @property
    def deadline_ms(self) -> "int | None":
        return deadline_ms(self.deadline_raw)


def deadline_ms(raw: "bytes | None") -> "int | None":
    """Lambda-Runtime-Deadline-Ms as an int, or None when it is missing or not a number."""
    if raw is None:
        return None
    raw = raw.strip()
    return int(raw) if raw.isdigit() else None


(
    _REQUEST_ID,
    _DEADLINE_MS,
    _FUNCTION_ARN,
    _TRACE_ID,
    _CLIENT_CONTEXT,
    _COGNITO_IDENTITY,
    _TENANT_ID,
    _INVOCATION_ID,
    _CONTENT_TYPE,
) = map(
    http1.key,
    (
        protocol.REQUEST_ID,
        protocol.DEADLINE_MS,
        protocol.FUNCTION_ARN,
        protocol.TRACE_ID,
        protocol.CLIENT_CONTEXT,
        protocol.COGNITO_IDENTITY,
        protocol.TENANT_ID,
        protocol.INVOCATION_ID,
        "Content-Type",
    ),
)


def _text(raw: "bytes | None") -> "str | None":
    # Ids are ASCII; Client-Context is JSON and may carry UTF-8.
    if raw is None:
        return None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


class CognitoIdentity:
    __slots__ = ("cognito_identity_id", "cognito_identity_pool_id")
    cognito_identity_id: "str | None"
    cognito_identity_pool_id: "str | None"

    def __init__(self, identity_id: "str | None" = None, pool_id: "str | None" = None) -> None:
        self.cognito_identity_id = identity_id
        self.cognito_identity_pool_id = pool_id

    def __repr__(self) -> "str":
        return "CognitoIdentity([cognito_identity_id=%s,cognito_identity_pool_id=%s])" % (
            self.cognito_identity_id,
            self.cognito_identity_pool_id,
        )


class Client:
    __slots__ = ("installation_id", "app_title", "app_version_name", "app_version_code", "app_package_name")
    installation_id: "str | None"
    app_title: "str | None"
    app_version_name: "str | None"
    app_version_code: "str | None"
    app_package_name: "str | None"

    def __init__(self, fields: "dict[str, Any]") -> None:
        for name in self.__slots__:
            setattr(self, name, fields.get(name))

    def __repr__(self) -> "str":
        return "Client([%s])" % ",".join("%s=%s" % (n, getattr(self, n)) for n in self.__slots__)


class ClientContext:
    __slots__ = ("custom", "env", "client")
    custom: "dict[str, Any] | None"
    env: "dict[str, Any] | None"
    client: "Client | Any"  # a Client when the header's "client" is an object, else what it holds

    def __init__(self, fields: "dict[str, Any]") -> None:
        self.custom = fields.get("custom")
        self.env = fields.get("env")
        client = fields.get("client")
        self.client = Client(client) if isinstance(client, dict) else client

    def __repr__(self) -> "str":
        return "ClientContext([custom=%s,env=%s,client=%s])" % (self.custom, self.env, self.client)


def _parse_header(raw: "str", name: "str") -> "object":
    import json  # only for an invoke that carries a client context or a Cognito identity

    try:
        return json.loads(raw)
    except ValueError as exc:
        raise errors.Fault(errors.CONTEXT_UNMARSHAL_ERROR, "Unable to parse %s JSON: %s" % (name, exc)) from None


_SETTINGS = (
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
)
_settings: "tuple[str | None, ...] | None" = None


def function_settings() -> "tuple[str | None, ...]":
    """Lambda sets these once per execution environment: read them once, not five os.environ lookups an invoke."""
    global _settings
    if _settings is None:
        _settings = tuple(os.environ.get(name) for name in _SETTINGS)
    return _settings


def forget_settings() -> None:
    """After a SnapStart restore: the environment's variables may have changed (log stream, ...)."""
    global _settings
    _settings = None


_NO_W3C: "dict[str, str]" = {}  # shared by every context without one: w3c() hands out copies, and nothing writes to it


class LambdaContext:
    """The handler's second argument: the invoke's and the function's details, as awslambdaric gives them."""

    aws_request_id: str
    invoked_function_arn: "str | None"
    tenant_id: "str | None"
    function_name: "str | None"  # the settings Lambda sets in the environment (None when unset)
    function_version: "str | None"
    memory_limit_in_mb: "str | None"  # a string, as the official client gives it
    log_group_name: "str | None"
    log_stream_name: "str | None"
    client_context: "ClientContext | None"
    identity: CognitoIdentity

    def __init__(self, invocation: "Invocation") -> None:  # made by the runtime for each invoke
        self.aws_request_id = invocation.request_id
        (
            self.log_group_name,
            self.log_stream_name,
            self.function_name,
            self.memory_limit_in_mb,
            self.function_version,
        ) = _settings or function_settings()
        self.invoked_function_arn = invocation.function_arn
        self.tenant_id = invocation.tenant_id
        self._deadline = invocation.deadline_raw  # parsed when the time left is asked for
        if invocation.client_context or invocation.cognito_identity:
            self._from_json_headers(invocation)
        else:  # most invokes: neither header, nothing to parse
            self._w3c: "dict[str, str]" = _NO_W3C
            self.client_context = None
            self.identity = CognitoIdentity()

    def _from_json_headers(self, invocation: "Invocation") -> None:
        client_context = None
        if invocation.client_context:
            client_context = _parse_header(invocation.client_context, "Client Context")
        w3c = client_context.pop("w3c", None) if isinstance(client_context, dict) else None
        self._w3c = {k: w3c[k] for k in _W3C_FIELDS if isinstance(w3c, dict) and isinstance(w3c.get(k), str)}
        self.client_context = ClientContext(client_context) if isinstance(client_context, dict) else None

        self.identity = CognitoIdentity()
        if invocation.cognito_identity:
            identity = _parse_header(invocation.cognito_identity, "Cognito Identity")
            if isinstance(identity, dict):
                self.identity = CognitoIdentity(
                    identity.get("cognitoIdentityId"), identity.get("cognitoIdentityPoolId")
                )

    def get_remaining_time_in_millis(self) -> int:
        # Without a deadline header (a non-conforming API) there is no time left to promise.
        deadline: "int | None" = deadline_ms(self._deadline)
        if deadline is None:
            return 0
        return max(deadline - int(time.time() * 1000), 0)

    def w3c(self) -> "dict[str, str]":
        return dict(self._w3c)

    def log(self, msg: object) -> None:
        sys.stdout.write(str(msg))

    def __repr__(self) -> "str":
        return (
            "LambdaContext([aws_request_id=%s,log_group_name=%s,log_stream_name=%s,function_name=%s,"
            "memory_limit_in_mb=%s,function_version=%s,invoked_function_arn=%s,client_context=%s,"
            "identity=%s,tenant_id=%s])"
            % (
                self.aws_request_id,
                self.log_group_name,
                self.log_stream_name,
                self.function_name,
                self.memory_limit_in_mb,
                self.function_version,
                self.invoked_function_arn,
                self.client_context,
                self.identity,
                self.tenant_id,
            )
        )
