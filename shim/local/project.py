"""The project file: `[tool.lambda-shim]` in a project's pyproject.toml, and the one type for a function's settings.

    [tool.lambda-shim.functions.orders]
    path = "orders"            # the function directory, relative to pyproject.toml
    handler = "handler.Handle"
    python = "3.12"
    arch = "x86_64"
    timeout = 10
    memory = 256
    environment = { TABLE = "orders" }

`FunctionConfig` is every setting a function has, whoever gives it: the file,
a command's flags (`with_overrides`), or the pytest fixture's arguments. The
commands, the pytest plugin, the packer's caller and `shim deploy` all read it,
so a setting is named once.

`find_project(start)` walks up from `start` to the nearest pyproject.toml that
has a `[tool.lambda-shim]` table; `resolve(name_or_dir)` turns what a user typed
into a FunctionConfig: a function's name in the project file wins over a
directory of the same name, and a plain directory works without any file.
"""

import dataclasses
import os
import sys
from typing import Any, Dict, List, Mapping, Optional

from shim.pack.errors import UsageError

FILE = "pyproject.toml"
TABLE = "lambda-shim"  # [tool.lambda-shim]
DEFAULT_HANDLER = "handler.Handle"
ARCHES = ("x86_64", "arm64")
API_FORMATS = ("url", "rest")  # shim serve's HTTP front: Function URL (payload 2.0) or API Gateway REST (1.0)
URL_AUTH_TYPES = ("AWS_IAM", "NONE")  # a Function URL's AuthType: signed requests only (default), or public


@dataclasses.dataclass
class FunctionConfig:
    """One function's settings. Times in seconds, memory in MB, paths absolute once resolved."""

    name: str = "function"  # the key in the project file (or the directory's for a bare one)
    path: Optional[str] = None  # the function directory
    handler: str = DEFAULT_HANDLER
    python: Optional[str] = None  # "3.12": the target CPython (default: the running one's)
    arch: Optional[str] = None  # "x86_64" | "arm64" (default: this machine's)
    timeout: float = 3.0
    memory: int = 128
    environment: Dict[str, str] = dataclasses.field(default_factory=dict)
    env_file: Optional[str] = None  # dotenv, or SAM's JSON ({"orders": {...}, "Parameters": {...}})
    requirements: Optional[str] = None  # default: <path>/requirements.txt when present
    exclude: List[str] = dataclasses.field(default_factory=list)
    layers: List[str] = dataclasses.field(default_factory=list)  # layer zips (local) or ARNs (deploy)
    runtime_layer: bool = False  # pack without the runtime and use lambda-shim's layer
    with_boto3: bool = False  # the managed runtimes' boto3 is importable
    function_url: bool = False
    streaming: bool = False  # the Function URL streams (InvokeMode RESPONSE_STREAM)
    function_url_auth: str = "AWS_IAM"  # the Function URL's AuthType (URL_AUTH_TYPES), for shim deploy
    api: str = "url"  # shim serve's HTTP front (API_FORMATS)
    max_concurrency: Optional[int] = None  # Lambda Managed Instances
    snapstart: bool = False
    function_name: Optional[str] = None  # the Lambda function's name (default: name)
    role: Optional[str] = None  # the execution role's ARN, for shim deploy
    runtime: Optional[Dict[str, str]] = None  # a customer-managed runtime: {"arn": ..., "alias": ...}
    description: Optional[str] = None

    @property
    def lambda_name(self) -> str:
        """The Lambda function's name: function_name, else the project file's key."""
        return self.function_name or self.name

    def with_overrides(self, **changes: Any) -> "FunctionConfig":
        """A copy with the given settings replaced (None leaves a setting as it is); environment merges."""
        changes = {key: value for key, value in changes.items() if value is not None}
        unknown = set(changes) - {field.name for field in dataclasses.fields(self)}
        if unknown:
            raise TypeError("unknown function settings: %s" % ", ".join(sorted(unknown)))
        if "environment" in changes:
            changes["environment"] = dict(self.environment, **changes["environment"])
        return validate(dataclasses.replace(self, **changes))


@dataclasses.dataclass
class Project:
    """A pyproject.toml with a [tool.lambda-shim] table: its directory and its functions, in file order."""

    root: str
    functions: Dict[str, FunctionConfig]
    settings: Dict[str, Any] = dataclasses.field(default_factory=dict)  # the table less `functions`

    @property
    def file(self) -> str:
        return os.path.join(self.root, FILE)

    def function(self, name: str) -> FunctionConfig:
        try:
            return self.functions[name]
        except KeyError:
            known = ", ".join(self.functions) or "none"
            raise UsageError("no function %r in %s (its functions: %s)" % (name, self.file, known)) from None


def _load_toml(path: str) -> Dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - the tomli backport, a dependency on 3.9 and 3.10
        import tomli as tomllib
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError("%s is not valid TOML: %s" % (path, exc)) from None


def find_project(start: str = ".") -> Optional[Project]:
    """The nearest project at or above `start` (a pyproject.toml with [tool.lambda-shim]), or None."""
    here = os.path.abspath(start)
    while True:
        candidate = os.path.join(here, FILE)
        if os.path.isfile(candidate):
            data = _load_toml(candidate)
            if TABLE in data.get("tool", {}):
                return load(candidate, data)
        parent = os.path.dirname(here)
        if parent == here:
            return None
        here = parent


def load(path: str, data: Optional[Mapping[str, Any]] = None) -> Project:
    """The project in the pyproject.toml at `path`; UsageError naming the key for a bad setting."""
    data = _load_toml(path) if data is None else data
    table = dict(data.get("tool", {}).get(TABLE, {}))
    root = os.path.dirname(os.path.abspath(path))
    raw = table.pop("functions", {})
    if not isinstance(raw, dict):
        raise UsageError("%s: [tool.lambda-shim.functions] must be a table of functions" % path)
    functions = {}
    for name, settings in raw.items():
        if not isinstance(settings, dict):
            raise UsageError("%s: [tool.lambda-shim.functions.%s] must be a table" % (path, name))
        functions[name] = from_table(name, settings, root, where="%s: [tool.lambda-shim.functions.%s]" % (path, name))
    return Project(root=root, functions=functions, settings=table)


_FIELDS = {field.name: field for field in dataclasses.fields(FunctionConfig)}
_TYPES: Dict[str, Any] = {
    "timeout": (int, float),
    "memory": int,
    "max_concurrency": int,
    "environment": dict,
    "exclude": list,
    "layers": list,
    "runtime_layer": bool,
    "with_boto3": bool,
    "function_url": bool,
    "streaming": bool,
    "snapstart": bool,
    "runtime": dict,
}
_PATHS = ("path", "env_file", "requirements")


def from_table(name: str, settings: Mapping[str, Any], root: str, where: str = "") -> FunctionConfig:
    """A FunctionConfig from one function's table; relative paths are taken from `root`."""
    values: Dict[str, Any] = {"name": name, "path": name}
    for key, value in settings.items():
        if key not in _FIELDS or key == "name":
            raise UsageError(
                "%s: unknown setting %r (known: %s)" % (where, key, ", ".join(sorted(set(_FIELDS) - {"name"})))
            )
        expected = _TYPES.get(key, str)
        if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            raise UsageError("%s: %s = %r is not a %s" % (where, key, value, getattr(expected, "__name__", "number")))
        values[key] = value
    for key in _PATHS:
        if values.get(key) is not None:
            values[key] = os.path.normpath(os.path.join(root, values[key]))
    if values.get("layers"):
        values["layers"] = [
            layer if layer.startswith("arn:") else os.path.normpath(os.path.join(root, layer))
            for layer in values["layers"]
        ]
    if "environment" in values:
        values["environment"] = {str(k): str(v) for k, v in values["environment"].items()}
    return validate(FunctionConfig(**values), where)


def validate(config: FunctionConfig, where: str = "") -> FunctionConfig:
    """The config, or UsageError on a value Lambda would refuse."""
    prefix = (where + ": ") if where else ""
    if not 0 < float(config.timeout) <= 900:
        raise UsageError("%stimeout must be more than 0 and at most 900 seconds, got %s" % (prefix, config.timeout))
    if not 128 <= int(config.memory) <= 10240:
        raise UsageError("%smemory must be between 128 and 10240 MB, as in Lambda, got %s" % (prefix, config.memory))
    if config.arch is not None and config.arch not in ARCHES:
        raise UsageError("%sarch must be one of %s, got %r" % (prefix, ", ".join(ARCHES), config.arch))
    if config.api not in API_FORMATS:
        raise UsageError("%sapi must be one of %s, got %r" % (prefix, ", ".join(API_FORMATS), config.api))
    if config.function_url_auth not in URL_AUTH_TYPES:
        raise UsageError(
            "%sfunction_url_auth must be one of %s, got %r"
            % (prefix, ", ".join(URL_AUTH_TYPES), config.function_url_auth)
        )
    if config.max_concurrency is not None and config.snapstart:
        raise UsageError(
            "%ssnapstart and max_concurrency do not combine: Lambda offers SnapStart for on-demand "
            "functions, not on Managed Instances" % prefix
        )
    if config.runtime is not None and not {"arn", "alias"} >= set(config.runtime) >= {"arn"}:
        raise UsageError('%sruntime takes { arn = "...", alias = "..." }, got %r' % (prefix, config.runtime))
    return config


def resolve(target: Optional[str], start: str = ".") -> FunctionConfig:
    """What the user typed (a function's name, a directory, or nothing) as a FunctionConfig.

    A name in the project file wins over a directory of the same name. With no
    target: the project's function whose directory holds `start`, else its only
    function, else `start` itself if it looks like a function directory.
    """
    project = find_project(start)
    if target is not None and project is not None and target in project.functions:
        return project.functions[target]
    if target is not None:
        if os.path.isdir(target):
            here = os.path.abspath(target)
            if project is not None:  # a directory that the project file describes: its settings
                for config in project.functions.values():
                    if config.path == here:
                        return config
            return FunctionConfig(name=os.path.basename(here) or "function", path=here)
        known = (" (the project's functions: %s)" % ", ".join(project.functions)) if project else ""
        if os.sep in target or target.startswith("."):  # a path, not a name
            raise UsageError("no such function directory: %s%s" % (target, known))
        raise UsageError("no function or directory named %r%s" % (target, known))
    here = os.path.abspath(start)
    if project is not None:
        for config in project.functions.values():
            if config.path == here:
                return config
        if len(project.functions) == 1:
            return next(iter(project.functions.values()))
        if project.functions:
            raise UsageError("which function? %s has %s" % (project.file, ", ".join(project.functions)))
    if os.path.isfile(os.path.join(here, "handler.py")) or _has_python(here):
        return FunctionConfig(name=os.path.basename(here) or "function", path=here)
    raise UsageError(
        "no function here: %s has no .py files and no %s with [tool.lambda-shim] above it; "
        "give a function's name or directory, or create one with `shim new DIR`" % (here, FILE)
    )


def _has_python(directory: str) -> bool:
    try:
        return any(name.endswith(".py") for name in os.listdir(directory))
    except OSError:
        return False
