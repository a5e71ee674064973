"""The handler loader in-process: parsing _HANDLER and the task root's place on sys.path."""

import pytest

from shim.runtime import errors, loader


@pytest.mark.parametrize(
    "spec,expected",
    [
        ("handler.Handle", ("handler", "Handle")),
        ("dir/sub/file.Handle", ("dir.sub.file", "Handle")),
        ("pkg.sub.file.Handle", ("pkg.sub.file", "Handle")),
        (" handler.Handle ", ("handler", "Handle")),
    ],
)
def test_split_handler(spec, expected):
    assert loader.split_handler(spec) == expected


@pytest.mark.parametrize("spec", ["", "handler", ".Handle", "handler.", "a..b.Handle", None])
def test_split_handler_rejects_malformed(spec):
    with pytest.raises(errors.Fault) as caught:
        loader.split_handler(spec)
    assert caught.value.error_type == "Runtime.MalformedHandlerName"
    assert "expected MODULE.FUNCTION" in caught.value.message


def test_python_path_puts_task_root_first(tmp_path):
    assert loader.python_path(str(tmp_path))[0] == str(tmp_path)
