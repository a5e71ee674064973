"""The SnapStart hook registry: `snapshot_restore_py`, or this module standing in for it when the zip has none.

Lambda's managed Python runtimes preinstall AWS's snapshot-restore-py package,
whose two decorators are the documented way to register SnapStart hooks:

    from snapshot_restore_py import register_before_snapshot, register_after_restore

A custom runtime has only what the zip (or a layer) holds. Rather than vendoring the
package into every zip, the runtime puts Fallback last on sys.meta_path: when no
real copy is found anywhere on sys.path, `import snapshot_restore_py` gets this
module, which has the package's whole API (1.0.0) with the same behaviour:
register_X(func, *args, **kwargs) appends (func, args, kwargs) and returns func, so
it works as a bare decorator; get_X() returns the live list. A real copy, in the
zip through requirements.txt or on a managed runtime, wins, and its registry is
the one the runtime runs (shim.runtime.checkpoint imports whichever is found).
"""

import sys

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (the cold start)
if TYPE_CHECKING:
    from importlib.machinery import ModuleSpec
    from types import ModuleType
    from typing import Any, Callable, Sequence, Tuple, TypeVar

    Hook = Tuple[Callable[..., Any], Tuple[Any, ...], "dict[str, Any]"]
    F = TypeVar("F", bound=Callable[..., Any])

__version__ = "1.0.0"  # the snapshot-restore-py API this module provides
__all__ = ["register_before_snapshot", "register_after_restore"]

MODULE = "snapshot_restore_py"

_before_snapshot_registry = []  # type: list[Hook]
_after_restore_registry = []  # type: list[Hook]


def register_before_snapshot(func: "F", *args: "Any", **kwargs: "Any") -> "F":
    """Run func(*args, **kwargs) before the snapshot is taken (newest registration first)."""
    _before_snapshot_registry.append((func, args, kwargs))
    return func


def register_after_restore(func: "F", *args: "Any", **kwargs: "Any") -> "F":
    """Run func(*args, **kwargs) after each restore from the snapshot (in registration order)."""
    _after_restore_registry.append((func, args, kwargs))
    return func


def get_before_snapshot() -> "list[Hook]":
    return _before_snapshot_registry


def get_after_restore() -> "list[Hook]":
    return _after_restore_registry


class Fallback:
    """Last on sys.meta_path: answers for snapshot_restore_py only when nothing else did."""

    def find_spec(
        self, name: "str", path: "Sequence[str] | None" = None, target: "ModuleType | None" = None
    ) -> "ModuleSpec | None":
        if name != MODULE:
            return None
        import _frozen_importlib  # the import system itself: always loaded

        # A loader by its methods: importlib.abc.Loader, its base for type checkers, is not imported at cold start.
        return _frozen_importlib.ModuleSpec(name, self, origin=__file__)  # type: ignore[arg-type]

    def create_module(self, spec: "ModuleSpec") -> "ModuleType":
        # A module of its own name whose functions are this module's: one registry.
        module = type(sys)(MODULE, __doc__)
        for name in __all__ + ["get_before_snapshot", "get_after_restore", "__all__", "__version__"]:
            setattr(module, name, globals()[name])
        return module

    def exec_module(self, module: "ModuleType") -> "None":
        pass


def install() -> "None":
    if not any(isinstance(finder, Fallback) for finder in sys.meta_path):
        sys.meta_path.append(Fallback())


def registry() -> "ModuleType":
    """The snapshot_restore_py module the function's hooks are in: a real copy if there is one."""
    __import__(MODULE)
    return sys.modules[MODULE]
