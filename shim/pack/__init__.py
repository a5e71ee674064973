"""The packer: a function directory in, a deployable zip (or the runtime layer) out.

packer is the entry point (pack(), pack_layer()); the steps live beside it: checks
(the target, the handler), functiondir (the user's files), entries (the zip's entries
from the requirements, the runtime and the launcher), vendor (the runtime and its
dependencies), pipinstall (requirements.txt for Lambda's platform), bytecode (.pyc
for the target interpreter), ziputil (reproducible zips, and extracting them as
Lambda does). It imports from the runtime only what it needs to check a handler name
and to write the plugin manifest.

`shim.pack.pack`, `.pack_layer`, `.summary`, `.extract` and `.PackResult` are the
packer's, loaded on first use: importing one step (ziputil, say) does not load the rest.
UsageError, the developer tools' one-line error, is in shim.pack.errors.
"""

_API = ("pack", "pack_layer", "summary", "extract", "PackResult")


def __getattr__(name):
    if name in _API:
        from shim.pack import packer

        return getattr(packer, name)
    raise AttributeError("module 'shim.pack' has no attribute %r" % name)
