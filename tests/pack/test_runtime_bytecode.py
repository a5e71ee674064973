"""The runtime's bytecode in a zip leaves out what only type checkers read (the functions' annotations, the
`if TYPE_CHECKING:` blocks); the function's own code keeps all of it."""

import ast
import os
import sys
import textwrap
import zipfile

from shim.pack import bytecode, ziputil
from shim.pack.packer import extract, pack
from shim.runtime import signals

BASE_PYTHON = getattr(sys, "_base_executable", None) or sys.executable
APP = """
import shim.runtime.signals


def Handle(event: "dict", context) -> "dict":
    return {"ours": Handle.__annotations__,
            "runtime": shim.runtime.signals.Guard.wakeup_fd.__annotations__,
            "runtime_module": sorted(vars(shim.runtime.signals))}
"""


def test_the_zip_runs_the_runtime_without_annotations_and_the_function_with_its_own(make_function, tmp_path, start):
    assert signals.Guard.wakeup_fd.__annotations__  # annotated in the source (or this test proves nothing)
    function = make_function({"app.py": APP})
    result = pack(function, tmp_path / "f.zip", handler="app.Handle")
    with zipfile.ZipFile(str(result.path)) as archive:
        assert "shim/runtime/__pycache__/signals.%s.pyc" % sys.implementation.cache_tag in archive.namelist()
    task = extract(str(result.path), str(tmp_path / "task"))
    try:
        env = start(task, "app.Handle", bootstrap=os.path.join(task, "bootstrap"), python=BASE_PYTHON)
        answer = env.invoke({}, timeout=10)
    finally:
        ziputil.make_writable(task)
    assert answer.kind == "response", env.output()
    assert answer.payload["ours"] == {"event": "dict", "return": "dict"}
    assert answer.payload["runtime"] == {}
    assert "Guard" in answer.payload["runtime_module"]


def _strip(source):
    return bytecode._strip_annotations(ast.parse(textwrap.dedent(source)))


def test_strip_drops_signatures_and_type_checking_blocks_keeping_else_branches_and_class_fields():
    tree = _strip("""
        TYPE_CHECKING = False
        if TYPE_CHECKING:
            import typing
        else:
            fallback = 1

        class Settings:
            name: "str"
            size: "int" = 3

        def f(a: "int", /, b: "str" = "", *args: "int", c: "bytes", **kw: "float") -> "None":
            if TYPE_CHECKING:
                from typing import Any
            return None

        async def g(x: "int") -> "int":
            return x
        """)
    namespace = {}
    exec(compile(tree, "<stripped>", "exec"), namespace)
    assert "typing" not in namespace and namespace["fallback"] == 1
    assert namespace["f"].__annotations__ == {} and namespace["g"].__annotations__ == {}
    assert namespace["Settings"].__annotations__ == {"name": "str", "size": "int"}
    assert namespace["f"](1, c=b"") is None  # a body left with nothing but the block still has a statement
    assert not any(isinstance(node, ast.Import) for node in ast.walk(tree))


def test_strip_keeps_line_numbers():
    tree = _strip("""
        TYPE_CHECKING = False
        if TYPE_CHECKING:
            from typing import Any


        def fails(x: "Any") -> "None":
            raise ValueError(x)
        """)
    namespace = {}
    exec(compile(tree, "<stripped>", "exec"), namespace)
    try:
        namespace["fails"](1)
    except ValueError as exc:
        assert exc.__traceback__.tb_next.tb_lineno == 8
    else:
        raise AssertionError("fails() did not raise")
