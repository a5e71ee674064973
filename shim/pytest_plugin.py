"""pytest plugin (registered through the pytest11 entry point). Fixtures arrive with `shim invoke`."""
