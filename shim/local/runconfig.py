"""A FunctionConfig turned into what a local run needs: the function's variables and its interpreter."""

import functools
import sys


def environment_of(config, base=None, extra=None):
    """A function's variables: base (e.g. a TaskRoot's), then its env file, its environment, then extra."""
    env = dict(base or {})
    if config.env_file:
        from shim.local import envfile

        env.update(envfile.load(config.env_file, (config.name, config.lambda_name)))
    env.update(config.environment)
    env.update(extra or {})
    return env


def target_python(config, task_root=None):
    """The CPython version to run: the config's, else the one the zip was packed for (None: this one's)."""
    return config.python or (getattr(task_root, "target", None) or {}).get("python")


@functools.lru_cache(maxsize=None)
def interpreter_for(version):
    """An interpreter of CPython `version` ("3.12") to run the function with: None for this one's (also when
    none of that version is found here; shim.local.hints then says what runs instead)."""
    if not version or version == "%d.%d" % sys.version_info[:2]:
        return None
    from shim.pack import bytecode

    found, _ = bytecode.find_interpreter(version)
    return found
