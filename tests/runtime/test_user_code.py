"""The user's code in-process: loading a handler (loader.load_handler) and answering for it (invoke.run).

Neither does I/O, so these run in the test process on a real function directory imported from a temp dir.
What only a real process shows stays in test_runtime.py, through the real bootstrap: that an init error is
posted once, logged and ends the process; that a panic's process keeps serving; signals; the HTTP side.
"""

import importlib
import json
import os
import sys
import textwrap

import pytest

from shim.runtime import errors, invoke, loader
from shim.runtime.signals import Guard

pytestmark = pytest.mark.usefixtures("trace_env")

HANDLERS = """
import decimal, os, sys

def exit_(event, context):
    sys.exit(event)

def interrupt(event, context):
    raise KeyboardInterrupt

class Custom(BaseException):
    pass

def base(event, context):
    raise Custom("not an Exception")

def recurse(event, context):
    return recurse(event, context)

def memory(event, context):
    raise MemoryError("pretend the heap is full")

def unprintable(event, context):
    class Weird(Exception):
        def __str__(self):
            raise RuntimeError("no str for you")
    raise Weird()

def decimals(event, context):
    return {"price": decimal.Decimal("1.10"), "big": decimal.Decimal("12345678901234567890.123456789"),
            "list": [decimal.Decimal("-0.5"), 2.5], "none": None, "text": "caf\\u00e9"}

def raw_bytes(event, context):
    return b"\\x00raw"

def string(event, context):
    return "plain"

def echo_raw(event, context):
    return {"type": type(event).__name__, "value": event.decode() if isinstance(event, bytes) else event}

def trace(event, context):
    return os.environ.get("_X_AMZN_TRACE_ID")
"""


@pytest.fixture
def task_root(tmp_path, monkeypatch):
    """load(files, spec): write files into a fresh task root on sys.path and load spec from it as the runtime
    does; every module imported from there is forgotten afterwards (the next test may reuse its name)."""
    root = tmp_path / "task"
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))
    before = set(sys.modules)

    def load(files, spec):
        for rel, source in files.items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_text(textwrap.dedent(source))
        importlib.invalidate_caches()
        return loader.load_handler(spec)

    yield load
    ours = []
    for name in set(sys.modules) - before:
        module = sys.modules[name]
        places = [getattr(module, "__file__", None) or ""] + list(getattr(module, "__path__", []))
        if any(place.startswith(str(root)) for place in places):
            ours.append(name)
    for name in ours:  # a namespace package's __path__ needs its parent: all looked at first, then forgotten
        del sys.modules[name]


# -- loading: every init error's type and message (what the runtime posts to /init/error) --------------


@pytest.mark.parametrize(
    "layout,spec,expected",
    [
        ({"handler.py": "def Handle(e, c):\n    return 'file'\n"}, "handler.Handle", "file"),
        ({"app/sub/mod.py": "def Handle(e, c):\n    return 'dir'\n"}, "app/sub/mod.Handle", "dir"),
        (
            {
                "pkg/__init__.py": "",
                "pkg/sub/__init__.py": "",
                "pkg/sub/mod.py": "def Handle(e, c):\n    return 'pkg'\n",
            },
            "pkg.sub.mod.Handle",
            "pkg",
        ),
    ],
    ids=["file", "dir/file", "package"],
)
def test_handler_forms(task_root, layout, spec, expected):
    assert task_root(layout, spec)(None, None) == expected


INIT_ERRORS = [
    ({"handler.py": "def Handle(e, c): pass\n"}, "handler", "Runtime.MalformedHandlerName", "Bad handler 'handler'"),
    ({"handler.py": "def Handle(e, c): pass\n"}, ".Handle", "Runtime.MalformedHandlerName", "Bad handler '.Handle'"),
    ({"handler.py": "def Handle(e, c): pass\n"}, "handler.", "Runtime.MalformedHandlerName", "Bad handler 'handler.'"),
    ({}, "nothere.Handle", "Runtime.ImportModuleError", "Unable to import module 'nothere': No module named 'nothere'"),
    (
        {"handler.py": "import not_installed_dep\n"},
        "handler.Handle",
        "Runtime.ImportModuleError",
        "Unable to import module 'handler': No module named 'not_installed_dep'",
    ),
    (
        {"handler.py": "x = 1\n"},
        "handler.Handle",
        "Runtime.HandlerNotFound",
        "Handler 'Handle' missing on module 'handler'",
    ),
    ({"handler.py": "Handle = 42\n"}, "handler.Handle", "Runtime.HandlerNotFound", "is not callable (it is a int)"),
    (
        {"handler.py": "def Handle(e, c)\n    pass\n"},
        "handler.Handle",
        "Runtime.UserCodeSyntaxError",
        "Syntax error in module 'handler'",
    ),
    ({}, "sys.Handle", "Runtime.BuiltInModuleConflict", "Cannot use built-in module sys as a handler module"),
    ({"handler.py": "raise RuntimeError('config missing')\n"}, "handler.Handle", "RuntimeError", "config missing"),
    (
        {"handler.py": "import sys\nsys.exit(3)\n"},
        "handler.Handle",
        "SystemExit",
        "Module 'handler' called sys.exit(3)",
    ),
]


@pytest.mark.parametrize("files,spec,error_type,message", INIT_ERRORS, ids=[e[2] + ":" + e[1] for e in INIT_ERRORS])
def test_init_errors_have_the_official_types(task_root, files, spec, error_type, message):
    with pytest.raises(errors.Fault) as caught:
        task_root(files, spec)
    fault = caught.value
    assert fault.error_type == error_type and message in fault.message
    body = errors.payload(fault.error_type, fault.message, fault.stack_trace)  # as main posts it
    assert set(body) == {"errorMessage", "errorType", "requestId", "stackTrace"} and body["requestId"] == ""


@pytest.mark.parametrize("spec", ["a..b", "a/.b", "a.", ".b", "a/..b", "dir//a.b"])
def test_an_empty_part_is_a_malformed_handler_name(task_root, spec):
    """`a..b` and `a/.b` once ran `b` from module `a`: here module `a` exists and has `b`, so only the name fails."""
    with pytest.raises(errors.Fault) as caught:
        task_root({"a.py": "def b(event, context):\n    return 'ran'\n", "dir/a.py": "def b(e, c):\n    pass\n"}, spec)
    assert caught.value.error_type == "Runtime.MalformedHandlerName"
    assert caught.value.message.startswith("Bad handler '%s'" % spec)


def test_syntax_error_names_file_and_line(task_root):
    with pytest.raises(errors.Fault) as caught:
        task_root({"handler.py": "a = 1\ndef Handle(e, c)\n    pass\n"}, "handler.Handle")
    assert "line 2" in caught.value.message
    trace = caught.value.stack_trace
    assert trace[0].startswith('  File "') and "handler.py" in trace[0]


def test_import_error_inside_user_code_keeps_the_frames(task_root):
    with pytest.raises(errors.Fault) as caught:
        task_root({"handler.py": "import lib\n", "lib.py": "import missing_thing\n"}, "handler.Handle")
    trace = caught.value.stack_trace
    # Starts at the user's module: no runtime or importlib frames before it.
    assert 'handler.py", line 1' in trace[0], trace
    assert "lib.py" in "".join(trace) and "importlib" not in "".join(trace) and "shim" + os.sep not in "".join(trace)


# -- answering: what invoke.run makes of each handler's result or panic ------------------------------


@pytest.fixture
def answer(task_root, make_invocation):
    """answer(name, event=None, **headers) -> the invoke.Answer for handler.<name> of HANDLERS."""

    def run(name, body=b"null", **headers):
        handler = task_root({"handler.py": HANDLERS}, "handler." + name)
        guard = Guard()
        guard.where = guard.RUNTIME
        result = invoke.run(handler, make_invocation(body=body, **headers), guard)
        assert guard.where == guard.RUNTIME
        return result

    return run


PANICS = [
    ("exit_", b"3", "SystemExit", "Handler called sys.exit(3)"),
    ("exit_", b"null", "SystemExit", "Handler called sys.exit()"),
    ("interrupt", b"null", "KeyboardInterrupt", "Handler was interrupted (KeyboardInterrupt)"),
    ("base", b"null", "Custom", "not an Exception"),
    ("recurse", b"null", "RecursionError", "maximum recursion depth exceeded"),
    ("memory", b"null", "MemoryError", "pretend the heap is full"),
    ("unprintable", b"null", "Weird", "<unprintable Weird object>"),
]


@pytest.mark.parametrize("name,event,error_type,message", PANICS, ids=[p[2] + ":" + p[1].decode() for p in PANICS])
def test_panics_are_answered(answer, name, event, error_type, message):
    result = answer(name, event)
    assert not result.ok and result.error_type == result.error["errorType"] == error_type
    assert message in result.error["errorMessage"] and result.error["requestId"] == "req-1"
    assert json.loads(result.body) == result.error
    # The trace is the user's: handler.py's frames, no runtime frame.
    trace = result.error["stackTrace"]
    assert 'handler.py", line' in trace[0] and not [line for line in trace if "shim" + os.sep in line], trace


def test_recursion_error_trace_is_collapsed(answer):
    trace = answer("recurse").error["stackTrace"]
    assert any("Previous line repeated" in line for line in trace)
    assert len(trace) < 50


def test_unmarshal_error_message(answer):
    result = answer("echo_raw", b"{not json")
    assert result.error_type == "Runtime.UnmarshalError"
    assert result.error["errorMessage"].startswith("Unable to unmarshal input: ")


def test_non_json_content_type_passes_raw_bytes(answer):
    result = answer("echo_raw", b"<xml/>", content_type="application/xml")
    assert json.loads(result.body) == {"type": "bytes", "value": "<xml/>"}
    as_json = answer("echo_raw", b'{"k": 1}', content_type="application/json; charset=utf-8")
    assert json.loads(as_json.body) == {"type": "dict", "value": {"k": 1}}


def test_decimal_keeps_digits_and_utf8_output(answer):
    body = answer("decimals").body
    assert b'"price": 1.10' in body
    assert b'"big": 12345678901234567890.123456789' in body
    assert b'"list": [-0.5, 2.5]' in body and b'"none": null' in body
    assert "café".encode() in body


def test_bytes_and_str_returns(answer):
    raw = answer("raw_bytes")
    assert raw.body == b"\x00raw" and raw.content_type == "application/unknown"
    text = answer("string")
    assert text.body == b'"plain"' and text.content_type == "application/json"


def test_trace_id_is_exported_and_removed(answer):
    assert answer("trace", trace_id="Root=1-abc;Sampled=1").body == b'"Root=1-abc;Sampled=1"'
    assert answer("trace").body == b"null"
