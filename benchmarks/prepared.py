"""The runtimes `make bench` compares, made ready in a scratch directory: the benchmark function packed by
`shim pack` and unzipped read-only for ours (and its variants: with orjson, with an empty plugin manifest,
packed with one no-op plugin), a precompiled copy of it for awslambdaric."""

import os
import shutil
import subprocess

from bench import HERE, OURS, OURS_EMPTY_MANIFEST, OURS_ONE_PLUGIN, OURS_ORJSON, THEIRS, BenchmarkError, Runtime

# A plugin that does nothing, declared by a distribution vendored into the function as pip would install it.
NOOP_PLUGIN = {
    "bench_noop_plugin.py": "def init(handler, settings):\n    pass\n\n\n"
    "def wrap(handler):\n    def passed_through(event, context):\n"
    "        return handler(event, context)\n    return passed_through\n",
    "bench_noop_plugin-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: bench-noop-plugin\nVersion: 1.0\n",
    "bench_noop_plugin-1.0.dist-info/entry_points.txt": "[lambda_shim.plugins]\nnoop = bench_noop_plugin\n",
}


def prepare(workdir, python, theirs_python):
    """Pack the benchmark function for us; a precompiled copy of it for awslambdaric.
    And the same zip with orjson added, as a requirements.txt listing it would (copied from
    this environment: same machine, so the same wheel pip would pick, and no network)."""
    from shim.pack.packer import extract, pack
    from shim.pack.ziputil import make_read_only

    zip_path = os.path.join(workdir, "function.zip")
    pack(os.path.join(HERE, "function"), zip_path, handler="trivial.Handle", quiet=True)
    ours = os.path.join(workdir, "ours")
    extract(zip_path, ours, read_only=True)
    theirs = os.path.join(workdir, "theirs")
    shutil.copytree(os.path.join(HERE, "function"), theirs)
    subprocess.run([python, "-m", "compileall", "-q", theirs], check=True)
    runtimes = {
        OURS: Runtime(OURS, ours, lambda handler: [os.path.join(ours, "bootstrap")]),
        THEIRS: Runtime(THEIRS, theirs, lambda handler: [theirs_python, "-m", "awslambdaric", handler]),
    }
    runtimes.update(plugin_variants(workdir, zip_path))
    try:
        import orjson
    except ImportError:
        return runtimes, None
    with_orjson = os.path.join(workdir, "ours-orjson")
    extract(zip_path, with_orjson, read_only=False)
    shutil.copytree(os.path.dirname(orjson.__file__), os.path.join(with_orjson, "orjson"))
    make_read_only(with_orjson)
    return runtimes, Runtime(
        OURS_ORJSON, with_orjson, lambda handler: [os.path.join(with_orjson, "bootstrap")], {"SHIM_JSON": "orjson"}
    )


def plugin_variants(workdir, zip_path):
    """Ours with an empty plugin manifest (the zip, plus the file), and ours packed with one no-op plugin."""
    from shim.pack.packer import extract, pack
    from shim.pack.plugins import manifest
    from shim.pack.ziputil import make_read_only
    from shim.runtime.plugins import MANIFEST

    empty = os.path.join(workdir, "ours-empty-manifest")
    extract(zip_path, empty, read_only=False)
    with open(os.path.join(empty, MANIFEST), "wb") as handle:
        handle.write(manifest([]))
    make_read_only(empty)
    source = os.path.join(workdir, "function-with-plugin")
    shutil.copytree(os.path.join(HERE, "function"), source, ignore=shutil.ignore_patterns("__pycache__"))
    for rel, text in NOOP_PLUGIN.items():
        os.makedirs(os.path.dirname(os.path.join(source, rel)), exist_ok=True)
        with open(os.path.join(source, rel), "w") as handle:
            handle.write(text)
    plugin_zip = os.path.join(workdir, "function-with-plugin.zip")
    if [e.name for e in pack(source, plugin_zip, handler="trivial.Handle", quiet=True).plugins] != ["noop"]:
        raise BenchmarkError("pack did not find the no-op plugin")
    one = os.path.join(workdir, "ours-one-plugin")
    extract(plugin_zip, one, read_only=True)
    return {
        OURS_EMPTY_MANIFEST: Runtime(OURS_EMPTY_MANIFEST, empty, lambda handler: [os.path.join(empty, "bootstrap")]),
        OURS_ONE_PLUGIN: Runtime(OURS_ONE_PLUGIN, one, lambda handler: [os.path.join(one, "bootstrap")]),
    }
