"""What to say when the handler is not on its module: the callables it has, and the closest name.

Imported by shim.runtime.loader only on that failure path (difflib too), so a
cold start that finds its handler pays nothing for it.
"""

import difflib

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from types import ModuleType

COMMON = "lambda_handler"  # the name most templates and tutorials use
LIMIT = 12  # callables listed at most


def suggestion(module: "ModuleType", module_name: "str", attr: "str") -> "str":
    """The text to add after "Handler 'X' missing on module 'M'": a did-you-mean and the module's callables."""
    names = callables(module)
    if not names:
        return ": the module defines no functions or classes"
    best = closest(attr, names)
    listed = ", ".join(names[:LIMIT]) + (", ..." if len(names) > LIMIT else "")
    if best is None:
        return ". Its callables: %s" % listed
    return ". Did you mean '%s.%s'? Its callables: %s" % (module_name, best, listed)


def callables(module: "ModuleType") -> "list[str]":
    """Public callables the module defines itself (imported ones last), in definition order."""
    own: "list[str]" = []
    imported: "list[str]" = []
    for name, value in list(vars(module).items()):
        if name.startswith("_") or not callable(value):
            continue
        (own if getattr(value, "__module__", None) == module.__name__ else imported).append(name)
    return own + imported


def closest(attr: "str", names: "list[str]") -> "str | None":
    """The name to suggest: the same name in another case, else difflib's closest, else lambda_handler,
    else the only function there is."""
    folded = {name.lower(): name for name in names}
    if attr.lower() in folded:
        return folded[attr.lower()]
    matches = difflib.get_close_matches(attr.lower(), list(folded), n=1, cutoff=0.6)
    if matches:
        return folded[matches[0]]
    if COMMON in names:
        return COMMON
    return names[0] if len(names) == 1 else None
