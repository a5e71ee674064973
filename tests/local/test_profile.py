"""`shim profile`, `shim invoke --profile` and the fixture's profile=True: the real cold start, broken down.

The function imports a small local package that is heavy at import (it builds a large table),
one that is imported and never used, and a light module. No timing assertions: only the
ranking, that the tree's figures add up, and where things are (and are not) written.
"""

import json
import os
import subprocess
import sys

import pytest

from shim.local import importtime, profile_run
from tests.support import snapshot

SHIM = [sys.executable, "-c", "import sys; from shim.cli import main; sys.exit(main())"]

HANDLER = """\
import heavypkg
import idlepkg
import lightmod


def Handle(event, context):
    return {"size": heavypkg.size(), "light": lightmod.hello()}
"""
FILES = {
    "handler.py": HANDLER,
    "heavypkg/__init__.py": "from heavypkg.table import size\n",
    # Far heavier than anything else the handler imports, whatever the machine's load.
    "heavypkg/table.py": "TABLE = {i: str(i) * 4 for i in range(400000)}\n\n\ndef size():\n    return len(TABLE)\n",
    "idlepkg/__init__.py": "from idlepkg import parts\n\n\ndef never():\n    return parts.DATA\n",
    "idlepkg/parts.py": "DATA = [i * 2 for i in range(2000)]\n\n\ndef unused():\n    return DATA\n",
    "lightmod.py": "def hello():\n    return 'hi'\n",
}


@pytest.fixture(scope="module")
def function_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("profiled")
    for rel, text in FILES.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def shim(*args, cwd, env=None):
    return subprocess.run(
        SHIM + list(args),
        capture_output=True,
        text=True,
        timeout=180,
        cwd=str(cwd),
        env=dict(os.environ, **(env or {})),
    )


def check_adds_up(node):
    inside = sum(child["total_ms"] for child in node["children"])
    assert node["self_ms"] >= -0.002, node["name"]
    assert abs(node["self_ms"] + inside - node["total_ms"]) < 0.002 * (len(node["children"]) + 2), node["name"]
    for child in node["children"]:
        check_adds_up(child)


@pytest.fixture(scope="module")
def profiled(function_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("profile-out")
    (out / "events.json").write_text('[{"n": 1}, {"n": 2}]')
    before = snapshot(str(function_dir))
    done = shim(
        "profile",
        str(function_dir),
        "--events",
        str(out / "events.json"),
        "--runs",
        "1",
        "--output",
        str(out / "chart.html"),
        "--json",
        str(out / "tree.json"),
        cwd=out,
        env={"XDG_CACHE_HOME": str(out / "cache")},
    )
    assert done.returncode == 0, done.stderr
    assert snapshot(str(function_dir)) == before  # nothing written into the function's folder
    return done, out


def test_the_summary_ranks_the_heavy_import_first(profiled):
    done, _ = profiled
    lines = done.stdout.splitlines()
    heading = next(i for i, line in enumerate(lines) if line.startswith("heaviest imports of handler"))
    assert lines[heading + 1].strip().startswith("heavypkg "), done.stdout
    assert "heavypkg.table" in lines[heading + 1]
    for phase in ("Python start", "lambda-shim runtime", "imports of handler", "handler's own code", "first invoke"):
        assert phase in done.stdout
    assert "without profiling, init took" in done.stdout


def test_the_tree_has_every_phase_and_adds_up(profiled):
    _, out = profiled
    data = json.loads((out / "tree.json").read_text())
    tree = data["tree"]
    assert [phase["kind"] for phase in tree["children"]] == ["python", "runtime", "handler", "invoke"]
    check_adds_up(tree)
    handler = tree["children"][2]
    assert handler["name"] == "handler"
    assert {child["name"] for child in handler["children"]} >= {"heavypkg", "idlepkg", "lightmod"}
    heavy = next(child for child in handler["children"] if child["name"] == "heavypkg")
    assert heavy["children"][0]["name"] == "heavypkg.table"
    runtime = tree["children"][1]
    assert any(node["name"] == "shim.runtime.main" for node in runtime["children"])


def test_the_chart_is_one_self_contained_file(profiled):
    _, out = profiled
    page = (out / "chart.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and "<svg" in page and "heavypkg.table" in page
    assert "http://" not in page and "https://" not in page
    assert "<script src" not in page and "<link" not in page and "@import" not in page and "url(" not in page


def test_events_list_the_module_no_invoke_used(profiled):
    done, _ = profiled
    text = done.stdout[done.stdout.index("imported at init, none of their Python code ran") :]
    listed = [line.split()[0] for line in text.splitlines()[1:] if line.startswith("  ")]
    assert "idlepkg" in listed
    assert "heavypkg" not in listed and "heavypkg.table" not in listed and "lightmod" not in listed


def test_the_chart_goes_to_the_cache_by_default_and_never_into_the_function(function_dir, tmp_path):
    before = snapshot(str(function_dir))
    done = shim("profile", ".", "--runs", "0", "--no-pack", cwd=function_dir, env={"XDG_CACHE_HOME": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    chart = done.stdout.split("chart: ", 1)[1].strip()
    assert chart.startswith(str(tmp_path / "lambda-shim" / "profiles")) and os.path.isfile(chart)
    assert snapshot(str(function_dir)) == before


def test_invoke_profile_keeps_the_import_timer_out_of_the_logs(function_dir, tmp_path):
    done = shim("invoke", str(function_dir), "--profile", cwd=tmp_path, env={"XDG_CACHE_HOME": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["light"] == "hi"  # stdout: the payload alone
    assert "import time:" not in done.stderr
    assert "REPORT RequestId:" in done.stderr and "heaviest imports of handler" in done.stderr


def test_the_fixture_profiles_and_the_records_stay_clean(lambda_function, function_dir, tmp_path):
    fn = lambda_function(str(function_dir), profile=True)
    result = fn.invoke({})
    assert result.ok, result.error
    assert "import time:" not in result.init_logs + result.logs
    profile = fn.profiler.profile
    assert profile.heaviest()[0][0].name == "heavypkg"
    assert os.path.isfile(fn.profiler.write_chart(output=str(tmp_path / "c.html")))


def test_importtime_lines_parse_into_a_tree():
    lines = [
        "import time: self [us] | cumulative | imported package\n",
        "import time:       100 |        100 |     c\n",
        "import time:        50 |        150 |   b\n",
        "import time:        10 |        160 | a\n",
        "import time:         5 |          5 | d\n",
    ]
    roots = importtime.parse(lines)
    assert [r.name for r in roots] == ["a", "d"]
    assert roots[0].children[0].name == "b" and roots[0].children[0].children[0].name == "c"
    assert roots[0].total_ms == pytest.approx(0.16) and roots[0].self_ms == pytest.approx(0.01)
    assert importtime.split("x\nimport time: 1 | 1 | e\ny\n") == (["import time: 1 | 1 | e\n"], "x\ny\n")


def test_unused_packages_are_listed_whole_and_used_ones_not():
    modules = {name: "/x/%s.py" % name for name in ("p", "p.a", "p.b", "q", "q.a", "r")}
    timer = ["import time: 1000 | 1000 |   p.a\n", "import time: 500 | 500 |   json\n", "import time: 10 | 1510 | p\n"]
    items = profile_run.unused(modules, ["q.a"], importtime.parse(timer))
    assert [(u.name, u.modules) for u in items] == [("p", 3), ("r", 1)]
    assert items[0].import_ms == pytest.approx(1.01)  # p's and p.a's own time, not json's that p pulled in
