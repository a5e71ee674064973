"""`shim new DIR [--template NAME]`: a function folder that packs, invokes and passes its test as written.

    DIR/handler.py              Handle(event, context), the Handler setting handler.Handle
    DIR/requirements.txt        what the function needs from PyPI (empty, but for the durable template)
    DIR/tests/test_NAME.py      the function through its real bootstrap, with the pytest plugin (NAME: DIR's
                                basename, so that the functions of one project have test modules of their own)
    DIR/tests/event.json        a sample event for it (every template but hello)
    DIR/README.md               the three commands: invoke, test, pack

The templates are the example handlers that ship in the package (shim/local/templates/):
hello (the default), api, structured, failing, stream, http-stream, sqs and durable.

Nothing is overwritten: if any of these files exists, nothing is written. The
templates name the folder by its basename (@NAME@); commands are written to be
run from the folder that holds it, which is where `shim new` was run.
"""

import os
import re

from shim.pack.errors import UsageError

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

README = """\
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
"""

FILES = (
    ("handler.py", HANDLER),
    ("requirements.txt", ""),
    ("tests/test_handler.py", TEST),
    ("README.md", README),
)

TEMPLATE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "templates")
# name -> (its handler module in templates/, what its test checks of the sample event's result)
TEMPLATES = {
    "hello": (None, None),
    "api": ("handlers/api.py", 'assert result.ok, result.error\n    assert result.payload["statusCode"] == 200'),
    "structured": ("handlers/structured.py", "assert result.ok, result.error"),
    "failing": ("handlers/failing.py", 'assert result.error_type == "OrderRejected", result.error'),
    "stream": ("handlers/stream.py", "assert result.ok, result.error\n    assert result.streamed and result.chunks"),
    "http-stream": ("handlers/http_stream.py", "assert result.ok, result.error\n    assert result.streamed"),
    "sqs": (
        "handlers/sqs.py",
        'assert result.ok, result.error\n    assert result.payload == {"batchItemFailures": []}',
    ),
    "durable": ("durable/handler.py", None),
}

TEMPLATE_TEST = '''\
"""handler.Handle through its real cold-start path, with the sample event in tests/event.json.

lambda-shim's pytest plugin (the `lambda_function` fixture) starts the function's
bootstrap as a subprocess against a local Lambda Runtime API, as Lambda would.
"""
import json
import os

# The function's folder, found from this file: the tests pass from whatever folder pytest runs in.
FUNCTION_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
with open(os.path.join(FUNCTION_DIR, "tests", "event.json"), encoding="utf-8") as handle:
    EVENT = json.load(handle)


def test_the_sample_event(lambda_function):
    result = lambda_function(FUNCTION_DIR, "handler.Handle").invoke(EVENT)
    @CHECK@


def test_the_deployment_package_works(lambda_function):
    # Packed as `shim pack` packs it, unpacked read-only, started from there.
    result = lambda_function(FUNCTION_DIR, "handler.Handle", pack=True).invoke(EVENT)
    @CHECK@
'''

DURABLE_TEST = '''\
"""The durable execution through the real bootstrap: lambda-shim's durable_execution fixture invokes the
function again after each wait, as Lambda does (waits are skipped in time)."""
import json
import os

import pytest

pytest.importorskip("aws_durable_execution_sdk_python", reason="pip install 'lambda-shim[durable]' (Python 3.11+)")
FUNCTION_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
with open(os.path.join(FUNCTION_DIR, "tests", "event.json"), encoding="utf-8") as handle:
    EVENT = json.load(handle)


def test_the_execution_succeeds(durable_execution):
    result = durable_execution(FUNCTION_DIR, "handler.Handle", timeout=30).run(EVENT)
    assert result.status == "SUCCEEDED", result.error
'''


def template_files(template):
    """(relative path, text) of the files the template writes; UsageError for an unknown one."""
    if template not in TEMPLATES:
        raise UsageError("no template %r (templates: %s)" % (template, ", ".join(TEMPLATES)))
    source, check = TEMPLATES[template]
    if source is None:
        return FILES
    directory = os.path.dirname(source)
    requirements = ""
    if os.path.isfile(os.path.join(TEMPLATE_DIR, directory, "requirements.txt")):
        requirements = _read(os.path.join(directory, "requirements.txt"))
    test = DURABLE_TEST if check is None else TEMPLATE_TEST.replace("@CHECK@", check)
    readme = README.replace(
        """echo '{"name": "Ada"}' | shim invoke @NAME@ --event -""",
        "shim invoke @NAME@ --event @NAME@/tests/event.json" + (" --durable" if check is None else ""),
    )
    return (
        ("handler.py", _read(source)),
        ("requirements.txt", requirements),
        ("tests/test_handler.py", test),
        ("tests/event.json", sample_event(template)),
        ("README.md", readme),
    )


def sample_event(template):
    """The template's sample event, as JSON text."""
    import json

    if template == "durable":
        return _read("durable/tests/event.json")
    if template == "sqs":
        from shim.local import events

        event = events.build("sqs", body='{"order": "A-17"}', records=2)
    else:
        from shim.local.demo import SAMPLE_EVENTS

        event = SAMPLE_EVENTS[os.path.basename(TEMPLATES[template][0])[:-3]]
    return json.dumps(event, indent=2) + "\n"


def _read(relative):
    with open(os.path.join(TEMPLATE_DIR, relative), encoding="utf-8") as handle:
        return handle.read()


def function_name(directory):
    """The folder's own name, which the README and the suggested zip name use."""
    return os.path.basename(os.path.abspath(str(directory)))


def create(directory, template="hello"):
    """Write the function folder (made if missing) from a template; the paths written, in order.

    UsageError, with nothing written, when DIR is a file or any of the files exists.
    """
    directory = str(directory)
    if os.path.exists(directory) and not os.path.isdir(directory):
        raise UsageError("%s exists and is not a directory" % directory)
    name = function_name(directory)
    module = "test_%s.py" % re.sub(r"\W", "_", name)  # one module name per function: pytest needs them unique
    paths = [
        (
            os.path.join(directory, *rel.replace("tests/test_handler.py", "tests/" + module).split("/")),
            text.replace("@NAME@", name),
        )
        for rel, text in template_files(template)
    ]
    for path, _ in paths:
        if os.path.lexists(path):
            raise UsageError("%s already exists: shim new writes only new files, so nothing was written" % path)
    written = []
    try:
        for path, text in paths:
            os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
            with open(path, "x", encoding="utf-8") as handle:  # "x": never replace a file made meanwhile
                handle.write(text)
            written.append(path)
    except OSError as exc:
        raise UsageError("cannot write %s: %s" % (exc.filename or directory, exc.strerror or exc)) from None
    return written
