"""`_HANDLER` with an empty part is Runtime.MalformedHandlerName, through the real bootstrap.

`a..b` and `a/.b` once ran `b` from module `a`: a function that would import something else
on Lambda, or not at all. Here module `a` exists and has `b`, so only the name can fail it."""

import json

import pytest


# Every form: test_user_code.py, in-process; here the one that once ran, through the real process.
@pytest.mark.parametrize("spec", ["a..b"])
def test_an_empty_part_is_a_malformed_handler_name(start, make_function, spec):
    function = make_function(
        {"a.py": "def b(event, context):\n    return 'ran'\n", "dir/a.py": "def b(e, c):\n    pass\n"}
    )
    env = start(function, spec, ready=False)
    assert env.process.wait(15) == 1
    [post] = [r for r in env.api.requests if r.path == "/2018-06-01/runtime/init/error"]
    assert post.headers["lambda-runtime-function-error-type"] == "Runtime.MalformedHandlerName"
    assert json.loads(post.body)["errorMessage"].startswith("Bad handler '%s'" % spec)
    assert not [r for r in env.api.requests if r.path.endswith("/next")]


def test_well_formed_names_still_run(start, make_function):
    function = make_function(
        {
            "a.py": "def b(event, context):\n    return 'ran'\n",
            "dir/sub/a.py": "def b(event, context):\n    return 'deep'\n",
        }
    )
    assert start(function, "a.b").invoke({}, timeout=10).payload == "ran"
    assert start(function, "dir/sub/a.b").invoke({}, timeout=10).payload == "deep"
