"""build/Dockerfile, read (Docker does not run here): it needs no clone, and what it calls exists."""
import ast
import importlib
import importlib.util
import os
import re

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def instructions():
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    with open(os.path.join(REPO, "build", "Dockerfile")) as handle:
        text = re.sub(r"\\\n\s*", " ", "".join(line for line in handle if not line.lstrip().startswith("#")))
    return [tuple(line.strip().split(None, 1)) for line in text.splitlines() if line.strip()]


def test_it_copies_only_the_build_context_and_installs_the_package_with_pip():
    steps = instructions()
    copies = [args for op, args in steps if op == "COPY"]
    assert copies == [". .", "--from=pack /out/ /var/task/"]      # the function, then the unpacked zip
    runs = " ".join(args for op, args in steps if op == "RUN")
    assert 'pip install --no-cache-dir --disable-pip-version-check "${SHIM}"' in runs
    assert ("ARG", "SHIM=lambda-shim") in steps


def test_every_build_argument_it_uses_is_declared_in_its_stage():
    declared, used = set(), []
    for op, args in instructions():
        if op == "FROM":
            used += [(name, declared | {"PYTHON_VERSION"}) for name in re.findall(r"\$\{(\w+)\}", args)]
            declared = set()
        elif op == "ARG":
            declared.add(args.split("=")[0])
        else:
            used += [(name, set(declared)) for name in re.findall(r"\$\{(\w+)\}", args)]
    assert used and all(name in known for name, known in used), used


def test_the_python_it_runs_names_modules_that_exist():
    runs = " ".join(args for op, args in instructions() if op == "RUN")
    for module in re.findall(r"python3 -m ([\w.]+)", runs):
        if module != "pip":
            assert importlib.util.find_spec(module) is not None, module
    snippets = re.findall(r'python3 -c "([^"]+)"', runs)
    assert snippets
    for snippet in snippets:
        for node in ast.walk(ast.parse(snippet)):
            if isinstance(node, ast.ImportFrom):
                module = importlib.import_module(node.module)
                assert all(hasattr(module, alias.name) for alias in node.names), snippet
    assert "shim.pack.ziputil import extract" in runs
