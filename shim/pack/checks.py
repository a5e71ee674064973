"""What the packer checks in what it is given, each failure a UsageError of one line.

The target (default_arch, check_python_version: also what `shim deploy`, the SAM
scaffold, the runtime image and a function run in place take the target from), the
handler's name (check_handler) and whether its module is in the zip (handler_found:
a warning, not a failure), and the names reserved to the runtime (check_reserved).
"""

import platform
import re

from shim.pack.errors import UsageError
from shim.runtime import PLUGIN_MANIFEST as MANIFEST, errors, loader  # MANIFEST: shim.runtime.plugins.MANIFEST

ARCHES = {"x86_64": "x86_64", "amd64": "x86_64", "arm64": "arm64", "aarch64": "arm64"}
RESERVED = ("bootstrap", "shim/", MANIFEST)  # the runtime's own entries; user files may not replace them


def default_arch():
    machine = platform.machine()
    if machine not in ARCHES:
        raise UsageError(
            "cannot tell the Lambda architecture from this machine (%s): pass --arch x86_64 or arm64" % machine
        )
    return ARCHES[machine]


def check_python_version(text):
    match = re.match(r"^3\.(\d+)$", str(text).strip())
    if not match or int(match.group(1)) < 9:
        raise UsageError("--python-version must be 3.9 or newer, as MAJOR.MINOR (e.g. 3.12), got %r" % text)
    return "3.%s" % match.group(1)


def check_reserved(files, where):
    for name in sorted(files):
        if name == "bootstrap" or name.startswith("shim/") or name == MANIFEST:
            raise UsageError(
                "%s in %s would replace the runtime's own %s: rename it"
                % (name, where, {"bootstrap": "launcher", MANIFEST: "plugin manifest"}.get(name, "package"))
            )


def check_handler(handler):
    try:
        module, _ = loader.split_handler(handler)
    except errors.Fault as fault:
        raise UsageError(fault.message.replace("Bad handler", "bad --handler")) from None
    if handler.strip().startswith("/") or ".." in handler.replace("/", " ").split():
        raise UsageError("bad --handler %r: it must be relative to the function directory" % handler)
    return module


def module_files(handler):
    module, _ = loader.split_handler(handler)
    base = module.replace(".", "/")
    return [base + ".py", base + "/__init__.py"]


def handler_found(handler, entries):
    module, _ = loader.split_handler(handler)
    base = module.replace(".", "/")
    return any(name in entries for name in module_files(handler)) or any(
        name.startswith(base + ".") and name.endswith(".so") and "/" not in name[len(base) :] for name in entries
    )
