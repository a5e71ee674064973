"""Hints where users get stuck: one or two lines the local tools print beside what Lambda would say.

- before a run: a zip packed for another architecture or Python than the one that
  runs it here (target_warnings), and which runtime runs a zip that has none
  (runtime_notes: a --no-runtime zip without a runtime layer given with --layer);
- after a failed invoke: `No module named 'boto3'` (boto3_hint), the commonest
  surprise of a custom runtime.

The texts are built only when asked for, on the failure path. See docs/guides/errors-hints.md.
"""

import platform
import re
import sys

import shim

_MISSING_AWS_SDK = re.compile(r"No module named '(boto3|botocore|s3transfer)(\.[\w.]*)?'")
_ARCHES = {"x86_64": "x86_64", "amd64": "x86_64", "arm64": "arm64", "aarch64": "arm64"}


def machine_arch():
    return _ARCHES.get(platform.machine(), platform.machine())


def boto3_hint(error, with_boto3=False):
    """Lines for an error object (an init or invoke error) that failed to import the AWS SDK; [] otherwise."""
    if not isinstance(error, dict):
        return []
    text = " ".join(str(part) for part in [error.get("errorMessage", "")] + list(error.get("stackTrace") or []))
    match = _MISSING_AWS_SDK.search(text)
    if not match:
        return []
    module = match.group(1)
    lines = [
        "hint: %s is neither in this function's files nor in its requirements. Lambda's managed python3.x runtimes ship boto3 and botocore "
        "(at a version AWS picks); provided.al2023 and container images ship none." % module
    ]
    if with_boto3:
        lines.append(
            "hint: --with-boto3 is on, so this environment lacks it too: pip install boto3 here, or add "
            "boto3 to requirements.txt."
        )
    else:
        lines.append(
            "hint: run with --with-boto3 (with_boto3 = true in the project file) to import this "
            "environment's boto3 as a managed runtime would, or add boto3 to requirements.txt to ship "
            "it in the zip and pin its version."
        )
    return lines


def target_warnings(task_root, python=None):
    """One line when the zip was packed for another architecture or CPython than what runs it here."""
    target = dict(task_root.target or {})
    result = task_root.pack_result
    if result is not None and not target:
        target = {"arch": result.arch, "python": result.python_version}
    running = _python_version(python)
    problems, remedies = [], []
    if target.get("arch") and target["arch"] != machine_arch():
        problems.append(
            "for %s, this machine is %s: its compiled wheels may not load here" % (target["arch"], machine_arch())
        )
        remedies.append("--arch %s" % machine_arch())
    if target.get("python") and running and target["python"] != running:
        problems.append(
            "for CPython %s, it runs here on %s (no CPython %s found on PATH, pyenv or uv): its "
            "bytecode is unused and compiled wheels may not import" % (target["python"], running, target["python"])
        )
        remedies.append("--python-version %s" % running)
    if not problems:
        return []
    return [
        "warning: this zip was packed %s (it suits Lambda; for a faithful local run, pack with %s)"
        % ("; ".join(problems), " ".join(remedies))
    ]


def runtime_notes(task_root):
    """Which runtime runs a task root without a bootstrap of its own (a zip packed with --no-runtime)."""
    notes = [
        "note: layer %s is skipped: only Lambda can fetch a layer by ARN (give its zip to run it here)" % arn
        for arn in task_root.skipped_layers
    ]
    packed = task_root.pack_result is not None or bool(task_root.target)
    if not packed or task_root.has_runtime:
        return notes
    if task_root.bootstrap:
        version = task_root.opt.runtime_version if task_root.opt else None
        notes.append(
            "note: no runtime in the zip: running the layer's /opt/bootstrap%s, as Lambda would"
            % (" (lambda-shim %s)" % version if version else "")
        )
    else:
        notes.append(
            "note: no runtime in the zip (packed with --no-runtime) and no --layer gives one: running it "
            "with lambda-shim %s from this installation, in place of the lambda-shim layer "
            "(--layer LAYER.zip, from `shim pack --layer`, runs that one)" % shim.__version__
        )
    return notes


def _python_version(python):
    if not python:
        return "%d.%d" % sys.version_info[:2]
    match = re.search(r"python(3\.\d+)$", str(python))
    if match:
        return match.group(1)
    import subprocess

    try:
        out = subprocess.run(
            [python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=30,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return out or None
