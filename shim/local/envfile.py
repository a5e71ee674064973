"""`--env-file` and the project file's `env_file`: a function's environment variables from a file.

Two formats, told apart by the first character that is not white space:

- a dotenv file (read with python-dotenv: `KEY=value` lines, `export KEY=value`,
  quotes, comments, `${OTHER}` expanded from the file and then this shell);
- SAM's JSON (`sam local invoke --env-vars`): `{"Parameters": {...}, "orders": {...}}`.
  `Parameters` applies to every function; a function's own object (by its name in
  the project file, else its Lambda function name) wins over it. Values are strings,
  numbers or booleans (true -> "true"), as SAM turns them into strings.

What comes from a file has the lowest precedence: the project's `environment`
overrides it, and `--env` flags override both (see docs/guides/env-files.md).
"""

import io
import json
from typing import Dict, Iterable

from shim.pack.errors import UsageError

PARAMETERS = "Parameters"  # SAM's key for what every function gets


def load(path: str, names: Iterable[str] = ()) -> Dict[str, str]:
    """The variables `path` gives the function known by `names` (first found wins); UsageError, one line,
    for a file that is missing or malformed."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as exc:
        raise UsageError("cannot read the env file %s: %s" % (path, exc.strerror or exc)) from None
    except UnicodeDecodeError as exc:
        raise UsageError("the env file %s is not UTF-8 text: %s" % (path, exc)) from None
    if text.lstrip().startswith("{"):
        return _from_json(path, text, list(names))
    return _from_dotenv(path, text)


def _from_json(path, text, names):
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise UsageError("the env file %s is not valid JSON: %s" % (path, exc)) from None
    for key, value in data.items():
        if not isinstance(value, dict):
            raise UsageError(
                'the env file %s: %r must be an object of variables ({"KEY": "value"}), as in SAM\'s '
                "--env-vars format, got %s" % (path, key, type(value).__name__)
            )
    variables = _strings(path, PARAMETERS, data.get(PARAMETERS, {}))
    for name in names:
        if name in data:
            variables.update(_strings(path, name, data[name]))
            break
    return variables


def _strings(path, table, values):
    out = {}
    for key, value in values.items():
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, (int, float, str)):
            value = str(value)
        else:
            raise UsageError(
                "the env file %s: %s.%s must be a string, number or boolean, got %s"
                % (path, table, key, type(value).__name__)
            )
        out[str(key)] = value
    return out


def _from_dotenv(path, text):
    from dotenv import dotenv_values
    from dotenv.parser import parse_stream

    for binding in parse_stream(io.StringIO(text)):
        if binding.error:
            line = binding.original.string.strip()
            raise UsageError(
                "the env file %s, line %d: %r is not KEY=VALUE (a dotenv file, or SAM's JSON format)"
                % (path, binding.original.line, line[:60])
            )
    values = dotenv_values(stream=io.StringIO(text))
    return {key: value for key, value in values.items() if value is not None}  # a bare `KEY` sets nothing
