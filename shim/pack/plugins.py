"""Runtime plugins among a function's dependencies: found when the zip is built, listed in its manifest.

The runtime (shim.runtime.plugins) never scans for entry points: that needs
importlib-metadata and a walk of every installed distribution, ~40-50 ms of a cold
start. So the scan happens here, with importlib-metadata (the packer's dependency),
over what the zip will hold: the function directory itself (distributions vendored
into it) and the site pip installed requirements.txt into. The result goes into the
zip as `lambda_shim_plugins.json`, and the runtime imports exactly what it lists.

Order: by distribution name (normalized: lower case, runs of -_. as one -), then by
entry point name. Deterministic, so the same inputs give the same zip; SHIM_PLUGINS
reorders or turns them off at deploy time. A second entry point with a name already
taken is left out, with a warning: names are what SHIM_PLUGINS selects.
"""

import json
import os
import site
import sys

from shim.pack import vendor
from shim.runtime.plugins import FORMAT, GROUP, MANIFEST, MANIFEST_VARIABLE, Entry

ORDER = "by distribution name, then entry point name"


def discover(paths, shipped=None, warn=None):
    """The plugins of the distributions found in `paths`, in manifest order.

    paths: directories, or (directory, label) pairs; an entry's .origin is the label
    (or the directory) it was found in. The first distribution of a name wins, in path
    order, as on sys.path. With `shipped` (the zip's entry names), a distribution whose
    metadata directory is not shipped (left out by an exclusion) does not count.
    """
    warn = warn or (lambda message: None)
    metadata = vendor._metadata()
    seen, found = set(), []
    for item in paths:
        directory, label = item if isinstance(item, tuple) else (item, item)
        if not os.path.isdir(str(directory)):
            continue
        for dist in metadata.distributions(path=[str(directory)]):
            try:
                name = dist.metadata["Name"] or ""
                points = list(dist.entry_points.select(group=GROUP))
                version = dist.version
            except Exception as exc:  # noqa: BLE001 - e.g. an empty METADATA: that one is broken, not the pack
                warn(
                    "cannot read the metadata of %s (%s: %s): it is not checked for plugins"
                    % (_metadata_dir(dist) or directory, type(exc).__name__, exc)
                )
                continue
            key = vendor.normalize(name)
            if not key or key in seen:
                continue
            seen.add(key)
            if shipped is not None and not _metadata_shipped(dist, shipped):
                continue
            found.extend(Entry(point.name, point.value, name, version, str(label)) for point in points)
    found.sort(key=lambda entry: (vendor.normalize(entry.distribution), entry.name))
    listed, by_name = [], {}
    for entry in found:
        if entry.name in by_name:
            warn(
                "plugin %s has the name of plugin %s, which comes first: it is left out (rename one of them)"
                % (entry.describe(), by_name[entry.name].describe())
            )
            continue
        by_name[entry.name] = entry
        listed.append(entry)
    return listed


def _metadata_dir(dist):
    return os.path.basename(str(getattr(dist, "_path", "")).rstrip("/\\"))


def _metadata_shipped(dist, shipped):
    directory = _metadata_dir(dist)
    return not directory or any(name.startswith(directory + "/") for name in shipped)


def manifest(entries):
    """The manifest's bytes: stable, so the same plugins give the same zip."""
    document = {"format": FORMAT, "group": GROUP, "order": ORDER, "plugins": [e.as_dict() for e in entries]}
    return (json.dumps(document, indent=1) + "\n").encode("utf-8")


def module_shipped(entry, names):
    """Whether the top-level module of the plugin's 'module:attr' is among the zip's entries."""
    top = entry.value.split(":", 1)[0].strip().split(".")[0]
    return any(
        name == top + ".py"
        or name.startswith(top + "/")
        or (name.startswith(top + ".") and name.endswith(".so") and "/" not in name)
        for name in names
    )


def add_manifest(entries, function_dir, site_dir, say, warn):
    """Discover the plugins of what the zip holds and add its manifest to `entries` if there are any."""
    paths = [(function_dir, "the function directory"), (site_dir, "the requirements")]
    found = discover(paths, shipped=set(entries), warn=warn)
    if not found:
        return []
    for entry in found:
        if not module_shipped(entry, entries):
            warn(
                "plugin %s names a module that is not in the zip: the runtime will stop at init with "
                "Runtime.PluginError" % entry.describe()
            )
    entries[MANIFEST] = (manifest(found), False)
    say(
        "  %d plugin%s (%s): %s, written to %s"
        % (len(found), "" if len(found) == 1 else "s", ORDER, ", ".join(e.name for e in found), MANIFEST)
    )
    return found


# -- running a function directory in place (--no-pack) ---------------------------------------------


def in_place_paths(function_dir, environ=None, python=None):
    """Where the runtime finds distributions when it runs function_dir in place with this interpreter:
    the directory, PYTHONPATH, then the interpreter's site-packages (as on its sys.path)."""
    environ = os.environ if environ is None else environ
    paths = [os.path.abspath(str(function_dir))]
    paths += [p for p in (environ.get("PYTHONPATH") or "").split(os.pathsep) if p]
    if python in (None, sys.executable):
        paths += site.getsitepackages()
        if site.ENABLE_USER_SITE:
            paths.append(site.getusersitepackages())
    return paths


def write_in_place_manifest(function_dir, directory, environ=None):
    """Discover as pack does, but for a run in place; write the manifest into `directory`.

    Returns (the environment variables that point the runtime at it, the entries). With
    no plugins, as pack, it writes nothing: the runtime then runs exactly as without plugins.
    """
    if os.path.exists(os.path.join(str(function_dir), MANIFEST)):
        raise ValueError(
            "%s in the function directory would replace the runtime's own plugin manifest: rename it" % MANIFEST
        )
    found = discover(in_place_paths(function_dir, environ))
    if not found:
        return {}, []
    path = os.path.join(str(directory), MANIFEST)
    with open(path, "wb") as handle:
        handle.write(manifest(found))
    return {MANIFEST_VARIABLE: path}, found
