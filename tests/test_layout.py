"""The package's shape: three parts with the CLI on top, and the import rules between them.

Read from the source with ast, every import counted (also those inside functions,
which the code uses to keep start-up cheap), so a lazy import cannot hide a cycle.
Only the imports under `if TYPE_CHECKING:` are left out: they never run.
"""

import ast
import functools
import os

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHIM = os.path.join(REPO, "shim")


def modules():
    """{dotted module name: path} for every module of the shim package."""
    found = {}
    for directory, dirs, files in os.walk(SHIM):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        package = os.path.relpath(directory, REPO).replace(os.sep, ".")
        for name in files:
            if name.endswith(".py"):
                found[package if name == "__init__.py" else package + "." + name[:-3]] = os.path.join(directory, name)
    return found


MODULES = modules()


def imports_of(name):
    """The shim modules that `name` imports, anywhere in its source."""
    path = MODULES[name]
    package = name if path.endswith("__init__.py") else name.rpartition(".")[0]
    with open(path) as handle:
        tree = ast.parse(handle.read())
    for_type_checkers = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"
        for statement in node.body
        for inner in ast.walk(statement)
    }
    found = set()
    for node in ast.walk(tree):
        if id(node) in for_type_checkers:
            continue
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(
                    package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else [])
                )
            targets = [base + "." + alias.name if base + "." + alias.name in MODULES else base for alias in node.names]
        else:
            continue
        found.update(t for t in targets if t == "shim" or t.startswith("shim."))
    found.discard(name)
    return found


@functools.cache
def graph():
    """{module: the shim modules it imports}, read once, when a test first asks (not at collection, which every
    pytest-xdist worker does)."""
    return {name: imports_of(name) for name in MODULES}


def part(name):
    return name.split(".")[1] if name.count(".") >= 1 else "shim"


def test_ls_shim_shows_three_parts_and_the_cli():
    entries = sorted(e for e in os.listdir(SHIM) if not e.startswith("__pycache__"))
    assert entries == ["__init__.py", "__main__.py", "cli", "local", "pack", "py.typed", "runtime"]


def test_the_runtime_imports_nothing_from_the_other_parts():
    for name in MODULES:
        if part(name) == "runtime":
            outside = {m for m in graph()[name] if m != "shim" and part(m) != "runtime"}
            assert outside == set(), name


def test_the_packer_imports_only_the_runtime_pieces_it_needs():
    # plugins: the manifest the packer writes is the one the runtime reads (name, format, group).
    allowed = {"shim", "shim.runtime", "shim.runtime.errors", "shim.runtime.loader", "shim.runtime.plugins"}
    for name in MODULES:
        if part(name) == "pack":
            other = {m for m in graph()[name] if part(m) != "pack"}
            assert other <= allowed, (name, other - allowed)


def test_the_local_tools_never_import_the_cli():
    for name in MODULES:
        if part(name) == "local":
            assert not {m for m in graph()[name] if part(m) == "cli"}, name


def test_no_import_cycles():
    state, path = {}, []

    def visit(name):
        state[name] = "open"
        path.append(name)
        for target in sorted(graph().get(name, ())):
            if state.get(target) == "open":
                pytest.fail("import cycle: %s" % " -> ".join(path[path.index(target) :] + [target]))
            if target not in state:
                visit(target)
        path.pop()
        state[name] = "done"

    for name in sorted(MODULES):
        if name not in state:
            visit(name)


def test_the_rules_are_checked_against_real_imports():
    # The graph is not empty by accident: known edges are there.
    assert "shim.runtime.logs" in graph()["shim.runtime.logbridge"]
    assert "shim.runtime.logbridge" not in graph()["shim.runtime.logs"]
    assert "shim.pack.vendor" in graph()["shim.pack.packer"]
    assert "shim.local.emulator" in graph()["shim.local.environment"]
    assert "shim.runtime.client" in graph()["shim.runtime.main"]  # a real import beside a TYPE_CHECKING one
    assert "shim.runtime.fallbacks" in graph()["shim.runtime.client"]  # imports inside functions count
