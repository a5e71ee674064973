"""The function image's Dockerfile (shim dockerfile; shim/local/templates/docker/), read (Docker does not run
here): it needs no clone, and what it calls exists."""

import ast
import importlib
import importlib.util
import os
import re

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def instructions():
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    with open(os.path.join(REPO, "shim", "local", "templates", "docker", "Dockerfile")) as handle:
        text = re.sub(r"\\\n\s*", " ", "".join(line for line in handle if not line.lstrip().startswith("#")))
    return [tuple(line.strip().split(None, 1)) for line in text.splitlines() if line.strip()]


def test_it_copies_only_the_build_context_and_installs_the_package_with_pip():
    steps = instructions()
    copies = [args for op, args in steps if op == "COPY"]
    assert copies == [". .", "--from=pack /out/ /var/task/"]  # the function, then the unpacked zip
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


def _final_stage():
    steps = instructions()
    last = max(i for i, (op, _) in enumerate(steps) if op == "FROM")
    return steps[last:]


def test_the_handler_build_argument_is_the_images_default_and_a_run_time_handler_wins(tmp_path):
    import json
    import subprocess

    stage = _final_stage()
    assert ("ARG", "HANDLER=handler") in stage
    env_line = next(args for op, args in stage if op == "ENV" and "SHIM_DEFAULT_HANDLER" in args)
    template = re.search(r"SHIM_DEFAULT_HANDLER=(\S+)", env_line).group(1)
    entrypoint = json.loads(next(args for op, args in stage if op == "ENTRYPOINT"))
    assert json.loads(next(args for op, args in stage if op == "CMD")) == []
    # The base image's entrypoint takes exactly one argument, the handler: a stand-in records it.
    fake = tmp_path / "lambda-entrypoint.sh"
    fake.write_text('#!/bin/sh\necho "$# $*"\n')
    fake.chmod(0o755)
    command = [part.replace("/lambda-entrypoint.sh", str(fake)) for part in entrypoint]

    def run(build_arg, *cmd):
        env = {"PATH": "/usr/bin:/bin", "SHIM_DEFAULT_HANDLER": template.replace("${HANDLER}", build_arg)}
        return subprocess.run(command + list(cmd), env=env, capture_output=True, text=True, timeout=10).stdout.strip()

    assert run("api") == "1 api.Handle"  # --build-arg HANDLER=api
    assert run("handler") == "1 handler.Handle"  # the default
    assert run("api", "orders.Handle") == "1 orders.Handle"  # docker run IMAGE orders.Handle, ImageConfig Command


def test_pip_gets_the_images_own_glibc():
    # python3.9-3.11 images are Amazon Linux 2 (glibc 2.26); pack's default (2.34) would pick wheels they cannot load.
    runs = " ".join(args for op, args in instructions() if op == "RUN")
    assert '--glibc "$(python3 -c "import platform; print(platform.libc_ver()[1])")"' in runs
