"""Find the user's handler from `_HANDLER`, like a plugin loaded at run time.

Accepted forms (split on the last dot): `file.Handle`, `dir/sub/file.Handle`,
`pkg.sub.file.Handle`. Every failure becomes a Fault with the official
client's error type, so it can be posted to /init/error as it is.
"""

import os
import sys

from shim.runtime import errors
from shim.runtime.signals import FatalSignal

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (the cold start)
if TYPE_CHECKING:
    from types import ModuleType

    from shim.runtime.plugin_api import Handler


def python_path(task_root: "str") -> "list[str]":
    """sys.path entries Lambda's managed runtimes give user code: task root, then layers."""
    layer_site = "/opt/python/lib/python%d.%d/site-packages" % sys.version_info[:2]
    return [task_root] + [p for p in ("/opt/python", layer_site) if os.path.isdir(p)]


def prepare_sys_path(task_root: "str") -> None:
    # `python -m shim` put the working directory first; Lambda's search path starts at the task root.
    if sys.path and sys.path[0] in ("", os.getcwd()):
        del sys.path[0]
    for entry in reversed(python_path(task_root)):
        if entry in sys.path:
            sys.path.remove(entry)
        sys.path.insert(0, entry)


def split_handler(spec: "str | None") -> "tuple[str, str]":
    module, dot, name = (spec or "").strip().rpartition(".")
    module = module.replace("/", ".")
    # Every part must name something: `a..b`, `a/.b`, `.b` and `a.` are malformed, not module `a`.
    if not dot or not name or "" in module.split("."):
        raise errors.Fault(
            errors.MALFORMED_HANDLER_NAME,
            "Bad handler '%s': expected MODULE.FUNCTION, for example 'handler.Handle' or 'pkg/app.Handle'" % spec,
        )
    return module, name


def load_handler(spec: "str | None") -> "Handler":
    module_name, attr = split_handler(spec)
    if module_name.split(".")[0] in sys.builtin_module_names:
        raise errors.Fault(
            errors.BUILT_IN_MODULE_CONFLICT, "Cannot use built-in module %s as a handler module" % module_name
        )
    module = _import(module_name)
    try:
        handler: "object" = getattr(module, attr)
    except AttributeError:
        pass
    else:
        if not callable(handler):
            raise errors.Fault(
                errors.HANDLER_NOT_FOUND,
                "Handler '%s' on module '%s' is not callable (it is a %s)"
                % (attr, module_name, type(handler).__name__),
            )
        return handler
    # awslambdaric's message and type, then what the module has (computed only here, on the failure path).
    message = "Handler '%s' missing on module '%s'" % (attr, module_name)
    try:
        from shim.runtime import handlerhint

        message += handlerhint.suggestion(module, module_name, attr)
    except Exception:  # noqa: BLE001 - a module whose attributes misbehave: the plain message then
        pass
    raise errors.Fault(errors.HANDLER_NOT_FOUND, message)


def _import(module_name: "str") -> "ModuleType":
    try:
        __import__(module_name)  # importlib.import_module, minus importing importlib (~0.6 ms)
        return sys.modules[module_name]
    except ImportError as exc:
        # Unlike the official client, keep the frames: they show which import inside
        # the user's code failed, not just that the handler module did.
        raise errors.Fault(
            errors.IMPORT_MODULE_ERROR, "Unable to import module '%s': %s" % (module_name, exc), _frames_of(exc)
        ) from None
    except SyntaxError as exc:
        trace = ['  File "%s" Line %s\n    %s' % (exc.filename, exc.lineno, (exc.text or "").strip())]
        raise errors.Fault(
            errors.USER_CODE_SYNTAX_ERROR, "Syntax error in module '%s': %s" % (module_name, exc), trace
        ) from None
    except FatalSignal:  # a terminating signal during the import: the runtime stops, the module did not fail
        raise
    except BaseException as exc:  # noqa: BLE001 - sys.exit() at import time must reach /init/error too
        error_type, message = errors.describe(exc, "Module '%s'" % module_name)
        raise errors.Fault(error_type, message, _frames_of(exc)) from None


def _frames_of(exc: "BaseException") -> "list[str]":
    return errors.user_frames(exc.__traceback__).format()
