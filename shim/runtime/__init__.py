"""The runtime: everything that runs on Lambda, and nothing else.

`shim pack` ships this package whole (with shim/__init__.py and shim/__main__.py)
plus the distributions named in DEPENDENCIES and what they require. It imports
nothing from shim.pack, shim.local or shim.cli. The launcher `bootstrap` sits
beside these modules as package data and goes to the root of the zip (or layer).
"""

# Distributions the runtime imports beyond the standard library: the packer vendors exactly
# these, with their own requirements, into every zip. structlog is imported only by functions
# that use it (see logbridge); it ships so that `import structlog` works on Lambda as here.
DEPENDENCIES = ("structlog",)
# The list of runtime plugins `shim pack` writes at the root of the zip when the function has any
# (see shim.runtime.plugins), and the variable that points elsewhere. Here so that main can tell there
# is none without importing shim.runtime.plugins: its import alone would cost every cold start ~0.3 ms.
PLUGIN_MANIFEST = "lambda_shim_plugins.json"
PLUGIN_MANIFEST_VARIABLE = "SHIM_PLUGINS_MANIFEST"
