"""moto in server mode on 127.0.0.1, for `shim deploy` driven in a subprocess.

The server runs in this test process (moto's own WSGI app behind werkzeug, as
ThreadedMotoServer does), wrapped by a recorder that keeps every request the CLI
makes: method, path and body. That record is how the tests see which calls a run
made (a plan must make no call that changes anything), and moto's in-process
backends are how they read back what Lambda "holds": moto does not serve the
Code.Location URL it returns, so the deployed zip's bytes come from its backend.
"""

import subprocess
import sys
import textwrap
import threading

import pytest

from moto_support import Moto, Recorder


@pytest.fixture(scope="session")
def moto_service():
    # Imported here, not at collection (which every pytest-xdist worker does): moto, flask and boto3 take a while.
    moto_server = pytest.importorskip("moto.moto_server.werkzeug_app")
    from werkzeug.serving import make_server

    app = Recorder(moto_server.DomainDispatcherApplication(moto_server.create_backend_app))
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=moto_server.MotoRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield Moto(app, "http://127.0.0.1:%d" % server.server_address[1])
    server.shutdown()
    thread.join(10)


@pytest.fixture
def moto(moto_service):
    moto_service.reset()
    return moto_service


@pytest.fixture
def shim_cli():
    """Run `shim ARGS` in a subprocess in cwd, with env; returns the CompletedProcess (text)."""

    def run(args, cwd, env, stdin=None, timeout=180):
        return subprocess.run(
            [sys.executable, "-m", "shim.cli"] + list(args),
            cwd=str(cwd),
            env=env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    return run


@pytest.fixture
def make_project(tmp_path):
    """A project: pyproject.toml with the given function tables (TOML text) and handler files."""

    def make(tables, files):
        root = tmp_path / "project"
        root.mkdir(exist_ok=True)
        (root / "pyproject.toml").write_text('[project]\nname = "demo"\nversion = "0"\n\n' + textwrap.dedent(tables))
        for rel, text in files.items():
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(text))
        return root

    return make
