"""`shim pack`: deployable, reproducible Lambda zips, in three kinds.

- pack(FUNCTION_DIR): the function zip. `bootstrap` (executable) at the root, the
  shim's runtime part and its dependencies, the user's files and their
  requirements.txt installed for Lambda's platform.
- pack(FUNCTION_DIR, runtime=False): the same without the runtime (no bootstrap,
  no shim/, nothing vendored), for functions that take it from the layer.
- pack_layer(): the runtime layer. `bootstrap` at the layer's root (Lambda runs
  /opt/bootstrap when the function's zip has none), the runtime part and its
  dependencies under python/ (/opt/python is where a layer's Python code goes).

Every .py gets bytecode for the target interpreter beside it, with the path it
will have on Lambda. The steps live in their own modules: checks (the target,
the handler, the runtime's reserved names), functiondir (what of the user's files
goes in), entries (the requirements, installed by dependencies and pipinstall, the
vendored runtime from vendor, the launcher), compiling and bytecode (the .pyc
files), ziputil (the zip itself).
"""

import contextlib
import os
import sys
import tempfile
import time

from shim import __version__

from shim.pack import bytecode, durable_check, functiondir, objects, pipinstall, plugins, vendor, ziputil
from shim.pack.checks import (
    ARCHES,
    check_handler,
    check_python_version,
    check_reserved,
    default_arch,
    handler_found,
    module_files,
)
from shim.pack.compiling import compile_into
from shim.pack.entries import check_launcher, file_entries, install_requirements, launcher, runtime_entries
from shim.pack.errors import UsageError
from shim.pack.summary import (
    UNZIPPED_LIMIT,
    ZIPPED_LIMIT,
    _display,
    _left_out_text,  # noqa: F401 - its API
    size,
    summary,  # noqa: F401 - its API
)
from shim.pack.ziputil import extract  # noqa: F401 - part of this module's API: pack, then extract like Lambda

LAYER_PYTHON = "python/"  # a layer's Python code: /opt/python is on sys.path on Lambda


class PackResult:
    def __init__(self, **fields):
        self.path = None
        self.files = 0
        self.zipped_bytes = 0
        self.unzipped_bytes = 0
        self.sha256 = ""
        self.names = []  # every entry, sorted
        self.handler = ""
        self.arch = ""
        self.python_version = ""
        self.glibc = ""
        self.compiled = 0  # .pyc files in the zip
        self.compiled_with = None  # interpreter that wrote them; None: no bytecode
        self.vendored = []  # (name, version) copied from this environment
        self.plugins = []  # shim.runtime.plugins.Entry, in the manifest's order
        self.left_out = []  # (path in FUNCTION_DIR, rule)
        self.notes = []
        self.warnings = []
        self.seconds = 0.0
        self.function_dir = ""
        self.installer = None  # what installed the requirements ('uv' or 'pip'); None: nothing to install
        self.cache = None  # 'hit' or 'miss' for the installed requirements (shim.pack.depcache)
        self.runtime = True  # the zip carries the runtime (bootstrap, shim/, its dependencies)
        self.layer = False  # the zip is the runtime layer, not a function
        self.__dict__.update(fields)


def pack(
    function_dir,
    output,
    handler="handler.Handle",
    arch=None,
    python_version=None,
    *,
    glibc=pipinstall.LAMBDA_GLIBC,
    requirements=None,
    exclude=(),
    compile_python=None,
    bootstrap=None,
    runtime=True,
    log=None,
    quiet=None,
    refresh=False,
    optimize=0,
):
    """Pack function_dir into the zip `output`; returns a PackResult.

    optimize=2 writes the bytecode as `python -OO` would: no docstrings, no asserts (opt-in:
    some libraries read docstrings); 1 leaves out the asserts only.

    runtime=False leaves the runtime out (the function then needs the layer, see
    pack_layer). log(line) receives progress and warnings (prefixed 'warning: ').
    Without a log it is quiet, unless quiet=False: then the lines go to stderr.
    Warnings are also in the result. requirements: a requirements file; None means
    FUNCTION_DIR/requirements.txt when present. refresh=True installs them again
    instead of taking them from the cache (shim.pack.depcache).
    """
    build = _Build(output, arch, python_version, glibc, log, quiet)
    check_handler(handler)
    if not os.path.isdir(str(function_dir)):
        raise UsageError("function directory %s does not exist or is not a directory" % function_dir)
    bootstrap = check_launcher(bootstrap) if runtime else None
    result = build.result
    result.handler, result.function_dir, result.runtime = handler, str(function_dir), runtime

    build.say(
        "Packing %s for Lambda%s: CPython %s, %s, glibc %s"
        % (
            function_dir,
            "" if runtime else " without the runtime (for the lambda-shim layer)",
            result.python_version,
            result.arch,
            glibc,
        )
    )
    walk = functiondir.Walk(function_dir, exclude, skip=[build.output])
    result.left_out = walk.left_out
    check_reserved(walk.files, "the function directory")
    build.say("  %d of your files%s" % (len(walk.files), _left_out_text(walk.left_out)))

    plan = build.plan() if runtime else vendor.Plan()
    if requirements is None:
        requirements = os.path.join(walk.root, "requirements.txt")
    elif not os.path.isfile(requirements):
        raise UsageError("requirements file %s does not exist" % requirements)

    with tempfile.TemporaryDirectory(prefix="shim-pack-") as scratch, contextlib.ExitStack() as held:
        installed, site = install_requirements(requirements, plan, walk.root, scratch, result, build.say, held, refresh)
        entries = {}
        if runtime:
            entries.update(runtime_entries(plan, installed, walk.files, bootstrap, result, build.say))
        overridden = sorted(set(installed) & set(walk.files))
        if overridden:
            result.notes.append(
                "%d of your files replace files from the requirements (%s ...)" % (len(overridden), overridden[0])
            )
        entries.update(file_entries(installed))
        entries.update(file_entries(walk.files))
        durable_check.check(entries, build.say, build.warn)  # the durable SDK needs a boto3 with its APIs
        if runtime:
            entries.update(file_entries(vendor.shim_files(), executable=False))
            entries["bootstrap"] = (launcher(bootstrap), True)
        result.plugins = plugins.add_manifest(
            entries, walk.root, site or os.path.join(scratch, "site"), build.say, build.warn
        )
        if not handler_found(handler, entries):
            build.warn(
                "the handler module of %s is not in the zip (no %s)" % (handler, " or ".join(module_files(handler)))
            )
        build.prefetch(entries)
        compile_into(
            entries,
            scratch,
            result.python_version,
            compile_python,
            result,
            build.say,
            build.warn,
            store=build.store,
            optimize=optimize,
        )
        if optimize:
            result.notes.append(
                "bytecode written as by python -%s: %s"
                % ("O" * optimize, "asserts and docstrings left out" if optimize > 1 else "asserts left out")
            )
        build.write(entries)
    return build.finish()


def pack_layer(
    output,
    arch=None,
    python_version=None,
    *,
    glibc=pipinstall.LAMBDA_GLIBC,
    compile_python=None,
    bootstrap=None,
    log=None,
    quiet=None,
    refresh=False,
    root=bytecode.LAYER_ROOT,
):
    """The runtime layer: `bootstrap` at its root, the runtime and its dependencies under python/.

    Functions packed with runtime=False use it: Lambda extracts layers into /opt and
    runs /opt/bootstrap when the function's zip has none (provided.al2023), or a
    managed runtime starts it as AWS_LAMBDA_EXEC_WRAPPER. The bytecode is written
    with the /opt/python/... paths (`root` instead of /opt: where the zip's contents will be, as in a
    customer-managed runtime's image, see shim.local.runtime_image). Returns a PackResult with layer=True.
    """
    build = _Build(output, arch, python_version, glibc, log, quiet)
    bootstrap = check_launcher(bootstrap)
    result = build.result
    result.layer, result.handler = True, ""
    build.say(
        "Packing the lambda-shim runtime layer: CPython %s, %s, glibc %s" % (result.python_version, result.arch, glibc)
    )
    plan = build.plan()
    with tempfile.TemporaryDirectory(prefix="shim-pack-") as scratch, contextlib.ExitStack() as held:
        installed, _ = install_requirements(None, plan, scratch, scratch, result, build.say, held, refresh)
        entries = runtime_entries(plan, installed, {}, bootstrap, result, build.say)
        entries.update(file_entries(installed))
        entries.update(file_entries(vendor.shim_files(), executable=False))
        entries = {LAYER_PYTHON + name: entry for name, entry in entries.items()}
        entries["bootstrap"] = (launcher(bootstrap), True)
        build.prefetch(entries)
        compile_into(
            entries,
            scratch,
            result.python_version,
            compile_python,
            result,
            build.say,
            build.warn,
            root=root,
            store=build.store,
        )
        build.write(entries)
    return build.finish()


class _Build:
    """What pack() and pack_layer() share: the checked target, the result, progress, writing the zip."""

    def __init__(self, output, arch, python_version, glibc, log, quiet):
        self.started = time.monotonic()
        if log is None and quiet is False:
            log = lambda line: print(line, file=sys.stderr, flush=True)  # noqa: E731
        self.say = log or (lambda line: None)
        arch = ARCHES.get(arch or default_arch())
        if arch is None:
            raise UsageError("--arch must be x86_64 or arm64")
        python_version = check_python_version(python_version or "%d.%d" % sys.version_info[:2])
        pipinstall.parse_glibc(glibc)
        self.output = os.path.abspath(str(output))
        self.store = objects.Store()  # bytecode and deflate streams of earlier packs (shim.pack.objects)
        self.result = PackResult(path=self.output, arch=arch, python_version=python_version, glibc=glibc)

    def warn(self, message):
        self.result.warnings.append(message)
        self.say("warning: " + message)

    def plan(self):
        return vendor.plan(vendor.target_environment(self.result.python_version, pipinstall.MACHINES[self.result.arch]))

    def write(self, entries):
        self.say("  writing %s" % _display(self.output))
        result = self.result
        comment = ziputil.target_comment(
            arch=result.arch,
            python=result.python_version,
            glibc=result.glibc,
            kind="layer" if result.layer else "function",
            runtime="yes" if result.runtime else "no",
            version=__version__,
        )
        try:
            self.result.files, self.result.unzipped_bytes = ziputil.write(
                self.output, entries, comment=comment, deflate=self.store.deflated
            )
        finally:
            self.store.close()
        self.result.names = sorted(entries)

    def prefetch(self, entries):
        """Deflate what is known of the zip while the bytecode is compiled (one core is often idle then)."""
        self.store.prefetch(
            [source for source, _ in entries.values() if not isinstance(source, bytes)],
            ziputil.COMPRESS_LEVEL,
            ziputil.PRECOMPRESS_MIN,
            ziputil.PRECOMPRESS_MAX,
        )

    def finish(self):
        result = self.result
        result.zipped_bytes = os.path.getsize(self.output)
        result.sha256 = ziputil.sha256_of(self.output)
        if result.zipped_bytes > ZIPPED_LIMIT:
            self.warn(
                "the zip is %s, above Lambda's %s limit for direct upload: upload it to S3 and deploy from there"
                % (size(result.zipped_bytes), size(ZIPPED_LIMIT))
            )
        if result.unzipped_bytes > UNZIPPED_LIMIT:
            self.warn(
                "unzipped it is %s, above Lambda's %s limit (function and layers together): Lambda will "
                "refuse it" % (size(result.unzipped_bytes), size(UNZIPPED_LIMIT))
            )
        result.seconds = time.monotonic() - self.started
        return result
