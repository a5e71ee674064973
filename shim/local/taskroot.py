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
        self.target = {}          # what the zip was packed for (shim.pack.ziputil.read_target): arch, python, ...
        self.opt = None           # the stand-in /opt of its layers (shim.local.layers.Opt), if any
        self.bootstrap = None     # /opt/bootstrap when a layer has one and the task root has none
        self.skipped_layers = []  # layer ARNs: only Lambda can fetch them

    @property
    def has_runtime(self):
        return os.path.exists(os.path.join(self.path, "bootstrap"))

    def remove(self):
        if self.temporary:
            remove_tree(self.temporary)
            self.temporary = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


def prepare(function_dir=None, zip_path=None, pack=True, handler="handler.Handle", quiet=True, layers=(),
            python_version=None, **pack_options):
    """A TaskRoot for a function directory (packed into a zip first unless pack=False) or a zip.

    A zip is unpacked read-only into a temporary directory, as Lambda mounts the
    package: writing anywhere but /tmp fails there too. Raises ValueError with
    a one-line message for a missing or unusable source. layers: zips merged into a
    stand-in /opt (shim.local.layers); ARNs among them are skipped (skipped_layers).
    pack_options go to shim.pack.packer.pack (arch, requirements, exclude, runtime, ...).
    """
    if zip_path is not None:
        if not os.path.isfile(zip_path):
            raise ValueError("no such zip file: %s" % zip_path)
    elif not os.path.isdir(function_dir or ""):
        raise ValueError("no such function directory: %s" % function_dir)
    if zip_path is None and is_unpacked_package(function_dir):
        task_root = TaskRoot(os.path.abspath(function_dir))   # e.g. sam build's artifact: it runs as it is
    elif zip_path is None and not pack:
        task_root = _in_place(function_dir)
    else:
        task_root = _unpacked(function_dir, zip_path, handler, quiet, python_version, pack_options)
    try:
        _add_layers(task_root, layers, python_version or task_root.target.get("python"))
    except BaseException:
        task_root.remove()
        raise
    return task_root


def is_unpacked_package(directory):
    """A deployment zip's contents (bootstrap and the runtime at the root), as `sam build` leaves them."""
    return os.path.isfile(os.path.join(directory, "bootstrap")) and \
        os.path.isdir(os.path.join(directory, "shim", "runtime"))


def prepare_config(config, zip_path=None, pack=True, quiet=True, log=None):
    """prepare() for a shim.local.project.FunctionConfig: its code, handler, target, requirements and layers."""
    options = {}
    if zip_path is None and pack:
        options = {"arch": config.arch, "requirements": config.requirements, "exclude": config.exclude,
                   "runtime": not config.runtime_layer}
        if log is not None:
            options["log"] = log
    return prepare(config.path, zip_path, pack=pack, handler=config.handler, quiet=quiet, layers=config.layers,
                   python_version=config.python, **options)


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
            result = packing.pack(function_dir, zip_path, handler=handler, quiet=quiet,
                                  python_version=python_version, **pack_options)
        path = os.path.join(temporary, "task")
        packing.extract(zip_path, path, read_only=True)
        task_root = TaskRoot(path, temporary, result)
        task_root.target = ziputil.read_target(zip_path)
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
    task_root.env.update(task_root.opt.env)
    if task_root.opt.bootstrap and not task_root.has_runtime:
        task_root.bootstrap = task_root.opt.bootstrap


def _in_place(function_dir):
    """The directory as it is, with the plugins pack would find in it (and in this interpreter's site)."""
    from shim.pack import plugins  # importlib-metadata: paid only by runs in place
    temporary = tempfile.mkdtemp(prefix="shim-plugins-")
    try:
        env, found = plugins.write_in_place_manifest(function_dir, temporary)
    except BaseException:
        remove_tree(temporary)
        raise
    if not found:
        remove_tree(temporary)
        temporary = None
    return TaskRoot(os.path.abspath(function_dir), temporary, env=env)


def remove_tree(path):
    """rmtree for a tree made read-only by extract()."""
    from shim.pack.ziputil import make_writable
    try:
        make_writable(path)
    except OSError:
        pass
    shutil.rmtree(path, ignore_errors=True)
