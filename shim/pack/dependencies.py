"""A function's requirements installed for a Lambda target, through the cache: what pack and in-place runs share.

open_site() rewrites the requirement files (shim.pack.requirements), builds the cache
key from what they say and hold and from the target, and returns the held cache entry
(shim.pack.depcache) whose site/ folder has them installed, by uv or pip
(shim.pack.installer) when the cache did not. `shim pack` zips that folder; `shim invoke
--no-pack` and the fixture's in-place mode put it on the runtime's path.
"""

import os
import time

from shim.pack import depcache, installer, pipinstall, requirements as requirement_files


def open_site(
    requirements, cwd, scratch, python_version, arch, glibc, say, refresh=False, shim_requirements=(), display=None
):
    """The held depcache.Entry with `requirements` (a file; None or empty for none) and `shim_requirements`
    (lines) installed for CPython python_version on Linux arch with glibc; None when there is nothing
    to install. The installer runs in `scratch`, never in the function's folder. Close the entry when done."""
    files, what, inputs = [], [], []
    if requirements and pipinstall.has_requirements(requirements):
        prepared = requirement_files.prepare([requirements], cwd, scratch)
        files += prepared.paths
        inputs += prepared.inputs
        what.append(display(requirements) if display else requirements)
        for line, copy in prepared.copies:
            say("  %s: a local folder, built from a copy (pip writes build files into what it builds)" % line)
    if shim_requirements:
        files.append(os.path.join(scratch, "shim-requirements.txt"))
        with open(files[-1], "w") as handle:
            handle.write("\n".join(shim_requirements) + "\n")
        inputs.append(["the shim's requirements", list(shim_requirements)])
        what.append("the shim's dependencies")
    if not files:
        return None
    chosen = installer.choose()
    key_inputs = {
        "requirements": inputs,
        "python": python_version,
        "arch": arch,
        "glibc": glibc,
        "installer": chosen[0],
    }
    step = time.monotonic()

    def build(site):
        say(
            "  installing %s with %s for manylinux %s (glibc %s), CPython %s ..."
            % (" and ".join(what), chosen[0], pipinstall.MACHINES[arch], glibc, python_version)
        )
        return installer.install(files, site, arch, python_version, glibc, say, cwd=scratch, chosen=chosen)

    entry = depcache.open_entry(key_inputs, build, say, refresh=refresh)
    if entry.hit:
        say(
            "  %s: from the cache (installed by %s; entry %s, verified in %.2f s)"
            % (" and ".join(what), entry.installer, entry.key[:12], time.monotonic() - step)
        )
    else:
        say("  installed by %s in %.1f s (cached as %s)" % (entry.installer, time.monotonic() - step, entry.key[:12]))
    return entry
