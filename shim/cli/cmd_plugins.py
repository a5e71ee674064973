"""`shim plugins [FUNCTION_DIR]`: which runtime plugins a function would load, in which order, and why.

    shim plugins handlers                 # what `shim pack` would list in the zip (it packs to find out)
    shim plugins handlers --no-pack       # what a run in place (`shim invoke --no-pack`) loads
    shim plugins --zip dist/handler.zip   # what a built zip lists
    shim plugins handlers --env SHIM_PLUGINS=emf

For each plugin: its entry point name (what SHIM_PLUGINS selects), the object it
names, the distribution that declares it and where that was found. Then what
SHIM_PLUGINS (from --env, else this shell's environment, as the local tools pass
it on) makes of them. The plugins themselves are not imported.
"""

import os
import sys
import tempfile
import zipfile

from shim.pack.errors import UsageError


def configure(parser):
    parser.add_argument(
        "function_dir",
        nargs="?",
        metavar="FUNCTION",
        help="a function's name in the project file, or its directory (default: the function "
        "whose directory you are in, or the current directory)",
    )
    parser.add_argument("--zip", metavar="PATH", help="read the plugin manifest of a built zip instead")
    parser.add_argument(
        "--no-pack",
        action="store_true",
        help="what a run in place loads: the directory and this interpreter's site-packages, "
        "without installing requirements.txt",
    )
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="K=V",
        help="an environment variable for the function, e.g. SHIM_PLUGINS=a,b (repeatable)",
    )


def main(args):
    from shim.runtime import errors, plugins

    env = _env(args.env)
    config, flagged = None, plugins.SELECTION_VARIABLE in env
    if not args.zip or args.function_dir:
        config = _config(args.function_dir)
        env = dict(_project_env(config), **env)
    if args.zip and args.function_dir:
        raise UsageError("give a FUNCTION_DIR or --zip, not both")
    if args.zip and args.no_pack:
        raise UsageError("--no-pack is for a FUNCTION_DIR; a --zip lists what it was packed with")
    if args.zip:
        where, how, entries = args.zip, "the zip's %s" % plugins.MANIFEST, _from_zip(args.zip)
    else:
        function_dir = config.path
        if not os.path.isdir(function_dir):
            raise UsageError("function directory %s does not exist or is not a directory" % function_dir)
        where = args.function_dir or "."
        if args.no_pack:
            from shim.pack.plugins import discover, in_place_paths

            how, entries = (
                "run in place: the directory, PYTHONPATH and this interpreter's site-packages",
                discover(in_place_paths(function_dir)),
            )
        else:
            how, entries = "what `shim pack` lists in the zip (packed to find out)", _from_pack(function_dir)
    print("%s: %s" % (where, how))
    if not entries:
        print("  no plugins: nothing declares an entry point in the group %s, so nothing is loaded" % plugins.GROUP)
        return 0
    from shim.pack.plugins import ORDER

    print("  %d plugin%s, in the manifest's order (%s):" % (len(entries), "" if len(entries) == 1 else "s", ORDER))
    width = max(len(entry.name) for entry in entries)
    for number, entry in enumerate(entries, 1):
        origin = ", found in %s" % entry.origin if entry.origin else ""
        print(
            "  %d. %-*s  %s  (entry point of %s %s%s)"
            % (number, width, entry.name, entry.value, entry.distribution, entry.version, origin)
        )
    selection, source = (
        (env[plugins.SELECTION_VARIABLE], "--env" if flagged else "the project file")
        if plugins.SELECTION_VARIABLE in env
        else (os.environ.get(plugins.SELECTION_VARIABLE), "this environment")
    )
    try:
        chosen = plugins.select(entries, selection)
    except errors.Fault as fault:
        print("%s: the runtime would stop at init with %s" % (fault.message, fault.error_type))
        return 1
    if selection is None:
        print(
            "%s is not set: all of them load, in this order (the first wraps the others)." % plugins.SELECTION_VARIABLE
        )
        return 0
    left_out = [entry.name for entry in entries if entry not in chosen]
    print(
        "%s=%s (from %s): %s%s."
        % (
            plugins.SELECTION_VARIABLE,
            selection,
            source,
            "loads %s, in this order" % ", ".join(entry.name for entry in chosen) if chosen else "none load",
            "; not loaded: %s" % ", ".join(left_out) if left_out and chosen else "",
        )
    )
    return 0


def _config(target):
    """The function's settings: a name in the project file or a directory (as shim invoke takes it)."""
    from shim.local import project

    try:
        return project.resolve(target)
    except UsageError:
        if target is None:
            return project.FunctionConfig(path=os.path.abspath("."))
        if os.sep in target or not os.path.exists(target):
            raise UsageError("function directory %s does not exist or is not a directory" % target) from None
        raise


def _project_env(config):
    """What the project gives the function's environment (env file, then environment): SHIM_PLUGINS may be there."""
    from shim.local.runconfig import environment_of

    return environment_of(config)


def _env(items):
    env = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError("--env takes KEY=VALUE, got %r" % item)
        env[key] = value
    return env


def _from_zip(path):
    from shim.runtime import errors, plugins

    try:
        with zipfile.ZipFile(path) as archive:
            try:
                data = archive.read(plugins.MANIFEST)
            except KeyError:
                return []
    except (OSError, zipfile.BadZipFile) as exc:
        raise UsageError("cannot read the zip %s: %s" % (path, getattr(exc, "strerror", None) or exc)) from None
    try:
        return plugins.parse_manifest(data, "%s in %s" % (plugins.MANIFEST, path))
    except errors.Fault as fault:
        raise UsageError(fault.message) from None


def _from_pack(function_dir):
    from shim.pack.packer import pack

    with tempfile.TemporaryDirectory(prefix="shim-plugins-") as scratch:
        result = pack(
            function_dir,
            os.path.join(scratch, "function.zip"),
            log=lambda line: print(line, file=sys.stderr) if line.startswith("warning: ") else None,
        )
    return result.plugins
