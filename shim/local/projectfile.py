"""`shim new DIR` adds its function to the project file: a table appended, nothing else touched.

    [tool.lambda-shim.functions.orders]
    path = "orders"
    handler = "handler.Handle"

Which file: the project's (the nearest pyproject.toml with [tool.lambda-shim] above
DIR); without one, pyproject.toml in the current folder when DIR is inside it,
else in DIR's parent folder. It is created if missing, and appended to if it
exists: its other content is never rewritten. The new text is parsed before
anything is written, so a file whose functions are an inline table (which a new
table cannot extend), or one that has the name already, is refused, unchanged.
"""

import json
import os
import re
import sys

from shim.pack.errors import UsageError
from shim.local import project

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


class Addition:
    """A function's table to append to `file` (created if missing): checked by plan(), written by write()."""

    def __init__(self, file, name, text, create):
        self.file, self.name, self.text, self.create = file, name, text, create

    def write(self):
        try:
            with open(self.file, "x" if self.create else "a", encoding="utf-8") as handle:
                handle.write(self.text)
        except OSError as exc:
            raise UsageError("cannot write %s: %s" % (self.file, exc.strerror or exc)) from None


def plan(directory, handler=project.DEFAULT_HANDLER):
    """The Addition for the function in `directory`; UsageError (nothing written) if it cannot be added."""
    here = os.path.abspath(str(directory))
    name = os.path.basename(here)
    parent = os.path.dirname(here)
    found = project.find_project(parent)
    if found is not None:
        file = found.file
        if name in found.functions:
            raise UsageError(
                "%s already has a function %r (path %s): pick another folder name, or remove that "
                "table first; nothing was written" % (file, name, found.functions[name].path)
            )
    else:
        cwd = os.getcwd()
        folder = cwd if here.startswith(cwd.rstrip(os.sep) + os.sep) else parent
        file = os.path.join(folder, project.FILE)
    existing = ""
    if os.path.exists(file):
        with open(file, encoding="utf-8") as handle:
            existing = handle.read()
    table = _table(name, os.path.relpath(here, os.path.dirname(file)).replace(os.sep, "/"), handler)
    text = ("" if not existing or existing.endswith("\n\n") else "\n" if existing.endswith("\n") else "\n\n") + table
    _check(file, existing + text, name)
    return Addition(file, name, text, create=not os.path.exists(file))


def _table(name, path, handler):
    key = name if _BARE_KEY.match(name) else json.dumps(name)
    return "[tool.%s.functions.%s]\npath = %s\nhandler = %s\n" % (
        project.TABLE,
        key,
        json.dumps(path),
        json.dumps(handler),
    )


def _check(file, text, name):
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - the tomli backport on 3.9 and 3.10
        import tomli as tomllib
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(
            "cannot add [tool.lambda-shim.functions.%s] to %s: the file would not be valid TOML (%s), "
            "so nothing was written; add the function by hand" % (name, file, exc)
        ) from None
    functions = data.get("tool", {}).get(project.TABLE, {}).get("functions", {})
    if name not in functions:  # pragma: no cover - the parse above refuses every case known
        raise UsageError("cannot add the function %r to %s; add it by hand" % (name, file))
