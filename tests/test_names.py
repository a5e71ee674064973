"""Every name the prose gives exists: in docstrings (every .py file of the repository) and in the Markdown docs.

- a dotted `shim.…` name is an importable module or an attribute of one;
- a path `shim/…` is a file or folder of the checkout;
- an environment variable `SHIM_…` or `AWS_LAMBDA_…` is named in the code (shim/ with its launcher, plugins/);
- a flag in `shim COMMAND … --flag` is one of that command's options (shim.cli.build_parser).

The files are found by walking the tree, so new docs are checked as they come. README.md is left out:
it is being replaced by the docs site under docs/ (its own stale names are for that rewrite).
"""

import argparse
import ast
import functools
import importlib
import os
import re

import pytest

from shim import cli

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SKIP_DIRS = {".git", ".venv", "venv", "build", "dist", ".setuptools-build", ".bench", "__pycache__", "node_modules"}
SKIP_FILES = {"README.md"}

DOTTED = re.compile(r"(?<![\w./-])shim(?:\.[A-Za-z_]\w*)+(?![\w*])")  # not a pattern (shim.register_*)
PATH = re.compile(r"(?<![\w./-])shim(?:/[\w.-]+)+/?(?![\w<*{])")
VARIABLE = re.compile(r"(?<![\w])((?:SHIM|AWS_LAMBDA)_[A-Z0-9_]*[A-Z0-9])(?![\w*])")
COMMAND = re.compile(r"(?<![\w/.-])shim((?: +[^\s|;&`]+)+)")


def _files(suffix):
    for directory, dirs, files in os.walk(REPO):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.endswith(".egg-info"))
        for name in sorted(files):
            if name.endswith(suffix) and name not in SKIP_FILES:
                yield os.path.join(directory, name)


def _docstrings(path):
    with open(path, encoding="utf-8") as handle:
        tree = ast.parse(handle.read(), path)
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            text = ast.get_docstring(node, clean=False)
            if text:
                yield text


@functools.cache
def prose():
    """(where, text) for every docstring and every Markdown file (walked once, when a test first asks: not at
    collection, which every pytest-xdist worker does)."""
    found = []
    for path in _files(".py"):
        found += [(os.path.relpath(path, REPO), text) for text in _docstrings(path)]
    for path in _files(".md"):
        with open(path, encoding="utf-8") as handle:
            found.append((os.path.relpath(path, REPO), handle.read()))
    return found


# -- the checks, each on a piece of text: a list of what it names that does not exist ---------------


def missing_dotted(text):
    return sorted({name for name in DOTTED.findall(text) if not _resolves(name)})


def _resolves(dotted):
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        try:
            for attr in parts[cut:]:
                obj = getattr(obj, attr)
        except AttributeError:
            return False
        return True
    return False


def missing_paths(text):
    return sorted(
        {
            path
            for path in (p.rstrip(".") for p in PATH.findall(text))
            if not os.path.exists(os.path.join(REPO, *path.rstrip("/").split("/")))
        }
    )


@functools.cache
def _code_strings():
    """Every string constant in the code of shim/, plugins/ and tests/ (docstrings aside; a variable the tests
    read, such as the path of a tool they need, counts), and the launcher's text."""
    strings = []
    for path in _files(".py"):
        where = os.path.relpath(path, REPO)
        if not where.startswith(("shim" + os.sep, "plugins" + os.sep, "tests" + os.sep)) or where == os.path.join(
            "tests", "test_names.py"
        ):  # its planted names are not read anywhere
            continue
        with open(path, encoding="utf-8") as handle:
            tree = ast.parse(handle.read(), path)
        docstrings = {
            id(node.body[0].value)
            for node in ast.walk(tree)
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
            and node.body
            and isinstance(node.body[0], ast.Expr)
            and isinstance(node.body[0].value, ast.Constant)
        }
        strings += [
            node.value
            for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
        ]
    with open(os.path.join(REPO, "shim", "runtime", "bootstrap"), encoding="utf-8") as handle:
        strings.append(handle.read())
    return "\n".join(strings)


def missing_variables(text, code=None):
    code = _code_strings() if code is None else code
    return sorted(
        {
            name
            for name in VARIABLE.findall(text)
            if not re.search(r"(?<![A-Z0-9_])%s(?![A-Z0-9_])" % re.escape(name), code)
        }
    )


def _all_options(parser):
    """A parser's option strings and its subcommands' (`shim durable callback --result`)."""
    found = set(parser._option_string_actions)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                found |= _all_options(child)
    return found


@functools.cache
def _options():
    """{command: its option strings}, and None: the top level's."""
    options = {}
    for command in cli.COMMANDS:
        parser = cli.build_parser([command])
        [sub] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        options[command] = _all_options(sub.choices[command])
    options[None] = set(cli.build_parser([])._option_string_actions)
    return options


def missing_flags(text, options=None):
    options = _options() if options is None else options
    missing = set()
    for line in text.splitlines():
        for match in COMMAND.finditer(line):
            words = match.group(1).split()
            command = words[0] if words[0] in options else None
            if command is None and not words[0].startswith("-"):
                continue  # prose ("shim ships ..."), not a command line
            for word in words[1 if command else 0 :]:
                flag = word.split("=", 1)[0].rstrip(".,:)'\"")
                if re.match(r"^--?[A-Za-z]", flag) and flag not in options[command]:
                    missing.add("shim %s%s" % (command + " " if command else "", flag))
    return sorted(missing)


# -- the tests ----------------------------------------------------------------------------------------

CHECKS = [missing_dotted, missing_paths, missing_variables, missing_flags]


@pytest.mark.parametrize("check", CHECKS, ids=[c.__name__ for c in CHECKS])
def test_every_name_in_the_prose_exists(check):
    stale = ["%s: %s" % (where, name) for where, text in prose() for name in check(text)]
    assert stale == []


def test_the_prose_is_found():
    """The walk is not empty by accident: known docstrings and what they name are there."""
    found = prose()
    wheres = {where for where, _ in found}
    assert os.path.join("shim", "runtime", "plugins.py") in wheres and os.path.join("tests", "test_names.py") in wheres
    text = "\n".join(t for _, t in found)
    assert DOTTED.search(text) and PATH.search(text) and VARIABLE.search(text) and "shim invoke" in text


def test_each_check_finds_a_stale_name():
    """A planted stale name of each kind is reported, and the live one beside it is not."""
    assert missing_dotted(
        "see shim.runtime.stream.HttpResponse and shim.frontend, or shim.local.function.Nope; "
        "shim.register_* are patterns"
    ) == ["shim.frontend", "shim.local.function.Nope"]
    assert missing_paths("in shim/runtime/bootstrap, shim/runtime/, shim/logs.py and shim/cli/cmd_<name>.py.") == [
        "shim/logs.py"
    ]
    assert missing_variables("SHIM_PIPELINE=0, SHIM_NO_SUCH_SETTING=1, AWS_LAMBDA_RUNTIME_API, SHIM_*") == [
        "SHIM_NO_SUCH_SETTING"
    ]
    assert missing_flags(
        "`shim invoke fn --timeout 30 --with-boto3 --no-such-flag | jq --raw-output`\n"
        "`shim --version`, `shim --nope`; the shim ships --anything in prose"
    ) == ["shim --nope", "shim invoke --no-such-flag"]
