"""Deployment packages: what the user points at (a directory, packed or not, or a zip) as a task root.

`prepare()` turns it into a directory to run the function from, the way Lambda
unpacks a deployment package: a zip read-only in a temporary directory, a
directory packed into a zip first (or run in place with pack=False).
"""

import os
import shutil
import tempfile


class TaskRoot:
    """A directory to run a function from; remove() deletes it if we made it.

    env: variables the runtime needs to run it as deployed (for a directory run in
    place, where to find the plugin manifest that pack would have put in the zip).
    """

    def __init__(self, path, temporary=None, pack_result=None, env=None):
        self.path = path
        self.temporary = temporary
        self.pack_result = pack_result
        self.env = dict(env or {})
        self.target = {}  # what the zip was packed for (shim.pack.ziputil.read_target): arch, python, ...
        self.opt = None  # the stand-in /opt of its layers (shim.local.layers.Opt), if any
        self.bootstrap = None  # /opt/bootstrap when a layer has one and the task root has none
        self.skipped_layers = []  # layer ARNs: only Lambda can fetch them
        self.warnings = []  # one line each, for the user before the run (e.g. a target this machine cannot run)
        self.held = []  # closed at remove(): the cache entries (requirements, unpacked tree) it uses

    @property
    def has_runtime(self):
        return os.path.exists(os.path.join(self.path, "bootstrap"))

    def remove(self):
        for item in self.held:
            item.close()
        self.held = []
        if self.temporary:
            remove_tree(self.temporary)
            self.temporary = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


def prepare(
    function_dir=None,
    zip_path=None,
    pack=True,
    handler="handler.Handle",
    quiet=True,
    layers=(),
    python_version=None,
    refresh=False,
    **pack_options,
):
    """A TaskRoot for a function directory (packed into a zip first unless pack=False) or a zip.

    A zip is unpacked read-only, as Lambda mounts the package (writing anywhere but /tmp
    fails there too), once: the tree is kept in the cache by the zip's digest
    (shim.local.taskroots) and held until remove(). Raises ValueError with a one-line
    message for a missing or unusable source. The requirements, packed or in place, come
    from the cache (refresh=True installs them again), for python_version and arch
    (default: this interpreter's and this machine's). layers: zips merged into a stand-in
    /opt (shim.local.layers); ARNs among them are skipped (skipped_layers). pack_options
    go to shim.pack.packer.pack (arch, requirements, exclude, runtime, ...).
    """
    if zip_path is not None:
        if not os.path.isfile(zip_path):
            raise ValueError("no such zip file: %s" % zip_path)
    elif not os.path.isdir(function_dir or ""):
        raise ValueError("no such function directory: %s" % function_dir)
    if zip_path is None and is_unpacked_package(function_dir):
        task_root = TaskRoot(os.path.abspath(function_dir))  # e.g. sam build's artifact: it runs as it is
    elif zip_path is None and not pack:
        task_root = _in_place(function_dir, refresh, python_version, pack_options.get("arch"), quiet)
    else:
        task_root = _unpacked(
            function_dir, zip_path, handler, quiet, python_version, dict(pack_options, refresh=refresh)
        )
    try:
        _add_layers(task_root, layers, python_version or task_root.target.get("python"))
    except BaseException:
        task_root.remove()
        raise
    return task_root


def is_unpacked_package(directory):
    """A deployment zip's contents (bootstrap and the runtime at the root), as `sam build` leaves them."""
    return os.path.isfile(os.path.join(directory, "bootstrap")) and os.path.isdir(
        os.path.join(directory, "shim", "runtime")
    )


def prepare_config(config, zip_path=None, pack=True, quiet=True, log=None, refresh=False):
    """prepare() for a shim.local.project.FunctionConfig: its code, handler, target, requirements and layers."""
    options = {"arch": config.arch}
    if zip_path is None and pack:
        options.update(
            {"requirements": config.requirements, "exclude": config.exclude, "runtime": not config.runtime_layer}
        )
        if log is not None:
            options["log"] = log
    return prepare(
        config.path,
        zip_path,
        pack=pack,
        handler=config.handler,
        quiet=quiet,
        layers=config.layers,
        python_version=config.python,
        refresh=refresh,
        **options,
    )


def _unpacked(function_dir, zip_path, handler, quiet, python_version, pack_options):
    from shim.pack import packer as packing  # only when packing: it is the heavier import
    from shim.pack import ziputil

    temporary = tempfile.mkdtemp(prefix="shim-task-")
    try:
        result = None
        if zip_path is None:
            zip_path = os.path.join(temporary, "function.zip")
            if "log" in pack_options:
                quiet = None
            result = packing.pack(
                function_dir, zip_path, handler=handler, quiet=quiet, python_version=python_version, **pack_options
            )
        else:
            pack_options.pop("arch", None)
        from shim.local import taskroots  # unpacked once per zip, kept in the cache

        entry = taskroots.unpacked(zip_path, result.sha256 if result else None, log=_stderr)
        task_root = TaskRoot(entry.site, temporary, result)
        task_root.held.append(entry)
        task_root.target = ziputil.read_target(zip_path)
        if result is not None and result.installer:
            from shim.local import inplace

            warning = inplace.target_warning(result.python_version, result.arch)
            task_root.warnings += [warning] if warning else []
        return task_root
    except BaseException:
        remove_tree(temporary)
        raise


def _add_layers(task_root, layers, python_version):
    from shim.local import layers as opt

    zips, task_root.skipped_layers = opt.local_and_remote(list(layers or ()))
    if not zips:
        return
    if task_root.temporary is None:
        task_root.temporary = tempfile.mkdtemp(prefix="shim-task-")
    task_root.opt = opt.stand_in_opt(zips, task_root.temporary, python_version)
    before = task_root.env.get("PYTHONPATH")  # a run in place's requirements: before /opt, as in the zip
    task_root.env.update(task_root.opt.env)
    if before and task_root.env.get("PYTHONPATH") != before:
        task_root.env["PYTHONPATH"] = os.pathsep.join(p for p in (before, task_root.opt.env.get("PYTHONPATH")) if p)
    if task_root.opt.bootstrap and not task_root.has_runtime:
        task_root.bootstrap = task_root.opt.bootstrap


def _in_place(function_dir, refresh=False, python_version=None, arch=None, quiet=True):
    """The directory as it is, with its requirements from the cache on PYTHONPATH (shim.local.inplace),
    and the plugins pack would find in it (and in this interpreter's site)."""
    from shim.local import inplace
    from shim.pack import plugins  # importlib-metadata: paid only by runs in place

    entry, site = inplace.requirements_site(
        function_dir, python_version, arch, refresh=refresh, log=None if quiet else _stderr
    )
    temporary = tempfile.mkdtemp(prefix="shim-plugins-")
    try:
        environ = dict(os.environ, PYTHONPATH=site) if site else None
        env, found = plugins.write_in_place_manifest(function_dir, temporary, environ)
    except BaseException:
        remove_tree(temporary)
        if entry is not None:
            entry.close()
        raise
    if not found:
        remove_tree(temporary)
        temporary = None
    if site:
        env["PYTHONPATH"] = site  # after the function's folder, as the zip has them beside its files
    task_root = TaskRoot(os.path.abspath(function_dir), temporary, env=env)
    task_root.held += [entry] if entry is not None else []
    warning = inplace.target_warning(python_version, arch) if site else None
    task_root.warnings += [warning] if warning else []
    return task_root


def _stderr(line):
    import sys

    print(line, file=sys.stderr, flush=True)


def remove_tree(path):
    """rmtree for a tree made read-only by extract()."""
    from shim.pack.ziputil import make_writable

    try:
        make_writable(path)
    except OSError:
        pass
    shutil.rmtree(path, ignore_errors=True)
