"""`shim pack` finds runtime plugins among what the zip holds and writes their manifest; `shim plugins` says so."""

import json
import os
import sys
import zipfile

import pytest

from shim import cli
from shim.pack.errors import UsageError
from shim.pack import plugins as discovery
from shim.pack.packer import extract, pack, summary
from shim.runtime import errors, plugins

HANDLER = {"handler.py": "def Handle(event, context):\n    return 'ok'\n"}
VERSION = "%d.%d" % sys.version_info[:2]


def manifest_of(zip_path):
    with zipfile.ZipFile(str(zip_path)) as archive:
        if plugins.MANIFEST not in archive.namelist():
            return None
        return json.loads(archive.read(plugins.MANIFEST))


def test_without_plugins_there_is_no_manifest(make_function, tmp_path):
    result = pack(make_function(HANDLER), tmp_path / "out.zip")
    assert result.plugins == []
    assert manifest_of(result.path) is None
    assert "  plugins   " not in summary(result)


def test_a_vendored_plugin_is_listed_in_the_zips_manifest(make_function, make_plugin, tmp_path):
    root = make_function(HANDLER)
    make_plugin(
        root,
        "acme-metrics",
        {"acme": "acme_metrics:plugin"},
        {"acme_metrics/__init__.py": "plugin = 1\n"},
        version="2.1",
    )
    lines = []
    result = pack(root, tmp_path / "out.zip", log=lines.append)
    assert manifest_of(result.path) == {
        "format": 1,
        "group": "lambda_shim.plugins",
        "order": "by distribution name, then entry point name",
        "plugins": [{"name": "acme", "value": "acme_metrics:plugin", "distribution": "acme-metrics", "version": "2.1"}],
    }
    assert [(e.name, e.origin) for e in result.plugins] == [("acme", "the function directory")]
    assert (
        "  1 plugin (by distribution name, then entry point name): acme, written to lambda_shim_plugins.json" in lines
    )
    assert "plugins   acme from acme-metrics 2.1" in summary(result)
    assert result.warnings == []


def test_two_plugins_in_distribution_then_entry_point_order(make_function, make_plugin, tmp_path):
    root = make_function(HANDLER)
    # Normalized names order the distributions (Alpha_Tracing -> alpha-tracing < zeta-metrics), whatever
    # the entry points are called; within one distribution, its entry points by name.
    make_plugin(root, "zeta-metrics", {"aaa": "zeta_metrics"}, {"zeta_metrics.py": ""})
    make_plugin(
        root,
        "Alpha_Tracing",
        {"spans": "alpha_tracing:spans", "logs": "alpha_tracing:logs"},
        {"alpha_tracing.py": "spans = logs = None\n"},
    )
    result = pack(root, tmp_path / "out.zip")
    listed = manifest_of(result.path)["plugins"]
    assert [(p["distribution"], p["name"]) for p in listed] == [
        ("Alpha_Tracing", "logs"),
        ("Alpha_Tracing", "spans"),
        ("zeta-metrics", "aaa"),
    ]
    # The same inputs, the same bytes (the zip is reproducible with its manifest in it).
    again = pack(root, tmp_path / "again.zip")
    assert again.sha256 == result.sha256


def test_a_plugin_pip_installed_from_the_requirements_is_found(fp, make_function, tmp_path, monkeypatch):
    monkeypatch.setenv("SHIM_INSTALLER", "pip")  # the pip fallback, faked
    root = make_function(dict(HANDLER, **{"requirements.txt": "fake-plugin==1.0\n"}))

    def install(process):
        target = process.args[process.args.index("--target") + 1]
        for rel, text in (
            ("fake_plugin.py", "def wrap(h):\n    return h\n"),
            ("fake_plugin-1.0.dist-info/METADATA", "Name: fake-plugin\nVersion: 1.0\n"),
            ("fake_plugin-1.0.dist-info/entry_points.txt", "[lambda_shim.plugins]\nfake = fake_plugin\n"),
            ("fake_plugin-1.0.dist-info/RECORD", ""),
        ):
            os.makedirs(os.path.dirname(os.path.join(target, rel)) or target, exist_ok=True)
            with open(os.path.join(target, rel), "w") as handle:
                handle.write(text)

    fp.register([sys.executable, "-m", "pip", "install", fp.any()], callback=install)
    fp.pass_command([sys.executable, "-S", fp.any()], occurrences=50)  # bytecode workers, for real
    result = pack(root, tmp_path / "out.zip")
    assert [(e.name, e.distribution, e.origin) for e in result.plugins] == [("fake", "fake-plugin", "the requirements")]
    assert manifest_of(result.path)["plugins"][0]["value"] == "fake_plugin"


def test_what_does_not_ship_does_not_count_and_a_missing_module_is_a_warning(make_function, make_plugin, tmp_path):
    root = make_function(dict(HANDLER, **{".shimignore": "left_out-1.0.dist-info/\n"}))
    make_plugin(root, "left-out", {"gone": "left_out"}, {"left_out.py": ""})
    make_plugin(root, "no-module", {"ghost": "ghost_module:plugin"}, {})
    result = pack(root, tmp_path / "out.zip")
    assert [e.name for e in result.plugins] == ["ghost"]
    assert result.warnings == [
        "plugin 'ghost' (ghost_module:plugin from no-module 1.0) names a module that is not in "
        "the zip: the runtime will stop at init with Runtime.PluginError"
    ]


def test_a_second_plugin_with_a_taken_name_is_left_out_with_a_warning(make_function, make_plugin, tmp_path):
    root = make_function(HANDLER)
    make_plugin(root, "first-dist", {"metrics": "first_mod"}, {"first_mod.py": ""})
    make_plugin(root, "second-dist", {"metrics": "second_mod"}, {"second_mod.py": ""})
    result = pack(root, tmp_path / "out.zip")
    assert [(e.name, e.distribution) for e in result.plugins] == [("metrics", "first-dist")]
    assert (
        len(result.warnings) == 1
        and "has the name of plugin 'metrics' (first_mod from first-dist 1.0)" in result.warnings[0]
    )


def test_a_manifest_of_the_users_own_is_refused(make_function, tmp_path):
    root = make_function(dict(HANDLER, **{plugins.MANIFEST: "{}"}))
    with pytest.raises(
        UsageError,
        match="lambda_shim_plugins.json in the function directory would replace the runtime's own plugin manifest",
    ):
        pack(root, tmp_path / "out.zip")


def test_the_packed_zip_runs_its_plugins(make_function, make_plugin, tmp_path, start):
    root = make_function({"handler.py": "def Handle(event, context):\n    return {'handled': True}\n"})
    make_plugin(
        root,
        "stamp",
        {"stamp": "stamp_plugin"},
        {"stamp_plugin.py": "def wrap(handler):\n    return lambda e, c: dict(handler(e, c), stamped=True)\n"},
    )
    result = pack(root, tmp_path / "out.zip")
    task = tmp_path / "task"
    extract(result.path, str(task), read_only=True)
    try:
        env = start(task)
        assert env.invoke({}, timeout=10).payload == {"handled": True, "stamped": True}
    finally:
        from shim.pack.ziputil import make_writable

        make_writable(str(task))


# -- the override, as the runtime reads it -----------------------------------------------------------

ENTRIES = [plugins.Entry("a", "a_mod"), plugins.Entry("b", "b_mod"), plugins.Entry("c", "c_mod")]


@pytest.mark.parametrize(
    "selection,expected",
    [
        (None, ["a", "b", "c"]),
        ("", []),
        ("  ", []),
        ("none", []),
        ("c,a", ["c", "a"]),
        ("b,b", ["b"]),
        ("a,,c,", ["a", "c"]),
    ],
)
def test_shim_plugins_selects_in_its_own_order(selection, expected):
    assert [e.name for e in plugins.select(ENTRIES, selection)] == expected


def test_shim_plugins_naming_an_unknown_plugin_is_a_fault():
    with pytest.raises(errors.Fault) as caught:
        plugins.select(ENTRIES, "a,typo")
    assert caught.value.error_type == "Runtime.PluginError"
    assert "names 'typo', which is not one of this function's plugins (a, b, c)" in caught.value.message


# -- shim plugins ---------------------------------------------------------------------------------------


@pytest.fixture
def plugins_cli(monkeypatch):
    monkeypatch.setattr(cli, "COMMANDS", {"plugins": cli.COMMANDS["plugins"], "pack": cli.COMMANDS["pack"]})
    monkeypatch.delenv(plugins.SELECTION_VARIABLE, raising=False)
    return cli.main


@pytest.fixture
def two(make_function, make_plugin):
    root = make_function(HANDLER)
    make_plugin(root, "bbb-dist", {"first": "first_mod:hooks"}, {"first_mod.py": "hooks = None\n"}, version="3.0")
    make_plugin(root, "aaa-dist", {"second": "second_mod"}, {"second_mod.py": ""})
    return root


def test_shim_plugins_lists_what_pack_would_and_why(plugins_cli, two, capsys):
    assert plugins_cli(["plugins", str(two)]) == 0
    out = capsys.readouterr().out
    assert "%s: what `shim pack` lists in the zip (packed to find out)" % two in out
    assert "2 plugins, in the manifest's order (by distribution name, then entry point name):" in out
    assert "  1. second  second_mod  (entry point of aaa-dist 1.0, found in the function directory)" in out
    assert "  2. first   first_mod:hooks  (entry point of bbb-dist 3.0, found in the function directory)" in out
    assert "SHIM_PLUGINS is not set: all of them load, in this order" in out


def test_shim_plugins_explains_the_override(plugins_cli, two, capsys, monkeypatch):
    assert plugins_cli(["plugins", str(two), "--no-pack", "--env", "SHIM_PLUGINS=first"]) == 0
    out = capsys.readouterr().out
    assert "run in place" in out and "found in %s" % two in out
    assert "SHIM_PLUGINS=first (from --env): loads first, in this order; not loaded: second." in out
    monkeypatch.setenv("SHIM_PLUGINS", "")
    assert plugins_cli(["plugins", str(two), "--no-pack"]) == 0
    assert "SHIM_PLUGINS= (from this environment): none load." in capsys.readouterr().out
    assert plugins_cli(["plugins", str(two), "--no-pack", "--env", "SHIM_PLUGINS=nope"]) == 1
    assert (
        "names 'nope', which is not one of this function's plugins (first, second): the runtime would stop at "
        "init with Runtime.PluginError" in capsys.readouterr().out
    )


def test_shim_plugins_reads_a_built_zip(plugins_cli, two, make_function, tmp_path, capsys):
    zip_path = tmp_path / "built.zip"
    pack(two, zip_path)
    assert plugins_cli(["plugins", "--zip", str(zip_path)]) == 0
    out = capsys.readouterr().out
    assert "the zip's lambda_shim_plugins.json" in out and "1. second" in out and "2. first" in out
    empty = tmp_path / "empty.zip"
    pack(make_function(HANDLER, root=tmp_path / "plain"), empty)
    assert plugins_cli(["plugins", "--zip", str(empty)]) == 0
    assert "no plugins: nothing declares an entry point in the group lambda_shim.plugins" in capsys.readouterr().out


def test_shim_plugins_bad_input_is_one_line(plugins_cli, tmp_path, capsys):
    assert plugins_cli(["plugins", str(tmp_path / "missing")]) == 2
    assert plugins_cli(["plugins", str(tmp_path), "--zip", "x.zip"]) == 2
    assert plugins_cli(["plugins", "--zip", str(tmp_path / "missing.zip")]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 3 and all(line.startswith("shim plugins: ") for line in err), err


def test_in_place_discovery_covers_the_directory_pythonpath_and_site(tmp_path, make_plugin):
    extra = tmp_path / "extra"
    make_plugin(extra, "on-path", {"onpath": "on_path"}, {"on_path.py": ""})
    paths = discovery.in_place_paths(tmp_path / "fn", {"PYTHONPATH": str(extra)})
    assert paths[:2] == [str(tmp_path / "fn"), str(extra)]
    assert any(p.endswith("site-packages") for p in paths[2:])
    assert [e.name for e in discovery.discover(paths)] == ["onpath"]


def test_a_distribution_with_unreadable_metadata_is_a_warning_not_a_failure(make_function, make_plugin, tmp_path):
    root = make_function(HANDLER)
    make_plugin(root, "good-plugin", {"good": "good_plugin"}, {"good_plugin.py": ""})
    (root / "broken-1.0.dist-info").mkdir()
    (root / "broken-1.0.dist-info" / "METADATA").write_text("")
    result = pack(root, tmp_path / "out.zip")
    assert [e.name for e in result.plugins] == ["good"]
    assert [w for w in result.warnings if w.startswith("cannot read the metadata of broken-1.0.dist-info")], (
        result.warnings
    )


def test_a_zip_without_the_runtime_carries_its_manifest_for_the_layers_runtime(make_function, make_plugin, tmp_path):
    root = make_function(HANDLER)
    make_plugin(root, "acme-metrics", {"acme": "acme_metrics"}, {"acme_metrics.py": ""})
    result = pack(root, tmp_path / "out.zip", runtime=False)
    assert "bootstrap" not in result.names and plugins.MANIFEST in result.names
    assert [p["name"] for p in manifest_of(result.path)["plugins"]] == ["acme"]
