"""`shim new DIR`: a function folder that packs, invokes and passes its test as written.

    DIR/handler.py              Handle(event, context), the Handler setting handler.Handle
    DIR/requirements.txt        empty: what the function needs from PyPI goes here
    DIR/tests/test_handler.py   the function through its real bootstrap, with the pytest plugin
    DIR/README.md               the three commands: invoke, test, pack

Nothing is overwritten: if any of these files exists, nothing is written. The
templates name the folder by its basename (@NAME@); commands are written to be
run from the folder that holds it, which is where `shim new` was run.
"""
import os

from shim import UsageError

HANDLER = '''\
"""@NAME@: a Lambda function. Its Handler setting is handler.Handle.

Work done at import time (clients, configuration) runs once per execution
environment, at the cold start; warm invokes reuse it.
"""


def Handle(event, context):
    """One invoke: `event` is the decoded JSON event, `context` Lambda's context object."""
    name = event.get("name", "world") if isinstance(event, dict) else "world"
    return {"message": "Hello, %s!" % name}
'''

TEST = '''\
"""handler.Handle through its real cold-start path.

lambda-shim's pytest plugin (the `lambda_function` fixture) starts the function's
bootstrap as a subprocess against a local Lambda Runtime API, as Lambda would.
"""
import os

# The function's folder, found from this file: the tests pass from whatever folder pytest runs in.
FUNCTION_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_greets_by_name(lambda_function):
    fn = lambda_function(FUNCTION_DIR, "handler.Handle")
    result = fn.invoke({"name": "Ada"})
    assert result.ok, result.error
    assert result.payload == {"message": "Hello, Ada!"}


def test_the_deployment_package_works(lambda_function):
    # Packed as `shim pack` packs it (requirements.txt installed for Lambda), unpacked read-only, started from there.
    fn = lambda_function(FUNCTION_DIR, "handler.Handle", pack=True)
    result = fn.invoke({})
    assert result.ok, result.error
    assert result.payload == {"message": "Hello, world!"}
'''

README = '''\
# @NAME@

A Python function for AWS Lambda, run by lambda-shim. The code is in `handler.py`
(Handler setting: `handler.Handle`); what it needs from PyPI goes in `requirements.txt`.

From the folder that holds `@NAME@/`:

```sh
# One invoke through the real bootstrap: the result on stdout, the logs and the REPORT line on stderr.
echo '{"name": "Ada"}' | shim invoke @NAME@ --event -
# The tests in tests/, with lambda-shim's pytest plugin.
pytest @NAME@
# The deployment zip (tests/ is left out); the output says how to deploy it.
shim pack @NAME@ --output @NAME@.zip
```
'''

FILES = (
    ("handler.py", HANDLER),
    ("requirements.txt", ""),
    ("tests/test_handler.py", TEST),
    ("README.md", README),
)


def function_name(directory):
    """The folder's own name, which the README and the suggested zip name use."""
    return os.path.basename(os.path.abspath(str(directory)))


def create(directory):
    """Write the function folder (made if missing); the paths written, in order.

    UsageError, with nothing written, when DIR is a file or any of the files exists.
    """
    directory = str(directory)
    if os.path.exists(directory) and not os.path.isdir(directory):
        raise UsageError("%s exists and is not a directory" % directory)
    name = function_name(directory)
    paths = [(os.path.join(directory, *rel.split("/")), text.replace("@NAME@", name)) for rel, text in FILES]
    for path, _ in paths:
        if os.path.lexists(path):
            raise UsageError("%s already exists: shim new writes only new files, so nothing was written" % path)
    written = []
    try:
        for path, text in paths:
            os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
            with open(path, "x", encoding="utf-8") as handle:   # "x": never replace a file made meanwhile
                handle.write(text)
            written.append(path)
    except OSError as exc:
        raise UsageError("cannot write %s: %s" % (exc.filename or directory, exc.strerror or exc)) from None
    return written
