"""What `shim pack` prints when it is done: the zip's summary and the settings to deploy it with."""

import os

from shim.pack import pipinstall

ZIPPED_LIMIT = 50 * 1024 * 1024  # direct upload of a zip (larger ones go through S3)
UNZIPPED_LIMIT = 250 * 1024 * 1024  # function and layers, unzipped


def _left_out_text(left_out):
    if not left_out:
        return ""
    shown = ", ".join(path for path, _ in left_out[:6])
    more = " and %d more" % (len(left_out) - 6) if len(left_out) > 6 else ""
    return " (left out: %s%s)" % (shown, more)


def _display(path):
    relative = os.path.relpath(path)
    return relative if not relative.startswith("..") else path


def size(count):
    for unit in ("bytes", "KB", "MB"):
        if count < 1024 or unit == "MB":
            return ("%d %s" if unit == "bytes" else "%.1f %s") % (count, unit)
        count /= 1024.0
    return "%.1f MB" % count


def summary(result):
    """What was packed, and how to deploy it: the settings for this kind of zip."""
    python = result.python_version
    sources = sum(1 for n in result.names if n.endswith(".py"))
    what = "the lambda-shim runtime layer" if result.layer else result.function_dir
    lines = [
        "Packed %s into %s in %.1f s" % (what, _display(result.path), result.seconds),
        "  files     %d (%d Python sources, %d compiled for CPython %s)"
        % (result.files, sources, result.compiled, python),
        "  zipped    %s (direct upload limit %s)" % (size(result.zipped_bytes), size(ZIPPED_LIMIT)),
        "  unzipped  %s (limit %s with layers)" % (size(result.unzipped_bytes), size(UNZIPPED_LIMIT)),
        "  sha256    %s" % result.sha256,
        "  zip       %s" % result.path,
    ]
    if result.plugins:
        lines.append(
            "  plugins   %s (SHIM_PLUGINS picks and orders them at deploy time)"
            % ", ".join("%s from %s %s" % (e.name, e.distribution, e.version) for e in result.plugins)
        )
    if result.installer:
        lines.append(
            "  installer %s%s"
            % (result.installer, " (cache hit: nothing was resolved or downloaded)" if result.cache == "hit" else "")
        )
    lines += ["  note: " + note for note in result.notes]
    if result.layer:
        lines += _layer_deploy(result)
    elif not result.runtime:
        lines += _function_without_runtime_deploy(result)
    else:
        lines += _function_deploy(result)
    if python in ("3.9", "3.10", "3.11") and result.glibc == pipinstall.LAMBDA_GLIBC:
        lines.append("  (python%s runs on Amazon Linux 2: for the managed runtime, pack with --glibc 2.26)" % python)
    if result.warnings:
        lines.append("%d warning%s, see above" % (len(result.warnings), "s" if len(result.warnings) > 1 else ""))
    return "\n".join(lines)


def _function_deploy(result):
    python = result.python_version
    amd = "amd64" if result.arch == "x86_64" else "arm64"
    return [
        "Deploy with Architecture %s and Handler %s, one of:" % (result.arch, result.handler),
        "  1. managed runtime:  Runtime python%s, environment AWS_LAMBDA_EXEC_WRAPPER=/var/task/bootstrap" % python,
        "  2. custom runtime:   Runtime provided.al2023, with CPython %s from a layer (python3 on PATH, "
        "or SHIM_PYTHON=/opt/.../python%s)" % (python, python),
        "  3. container image:  docker build --platform linux/%s --build-arg PYTHON_VERSION=%s -f Dockerfile %s"
        % (amd, python, _display(result.function_dir)),
        '     with the Dockerfile `shim dockerfile` writes (docs: Deployment packages, "A container image")',
    ]


def _function_without_runtime_deploy(result):
    python = result.python_version
    return [
        "This zip has no runtime: it needs the lambda-shim layer (shim pack --layer, for CPython %s, %s)."
        % (python, result.arch),
        "Deploy with Architecture %s, Handler %s and that layer, one of:" % (result.arch, result.handler),
        "  1. managed runtime:  Runtime python%s, environment AWS_LAMBDA_EXEC_WRAPPER=/opt/bootstrap" % python,
        "  2. custom runtime:   Runtime provided.al2023, with CPython %s from a layer listed before lambda-shim's "
        "(Lambda runs /opt/bootstrap)" % python,
    ]


def _layer_deploy(result):
    python = result.python_version
    return [
        "Publish it:  aws lambda publish-layer-version --layer-name lambda-shim --zip-file fileb://%s "
        "--compatible-architectures %s --compatible-runtimes python%s provided.al2023"
        % (_display(result.path), result.arch, python),
        "Functions packed with --no-runtime use it, with Architecture %s, one of:" % result.arch,
        "  1. managed runtime:  Runtime python%s, environment AWS_LAMBDA_EXEC_WRAPPER=/opt/bootstrap" % python,
        "  2. custom runtime:   Runtime provided.al2023, with CPython %s from a layer listed before this one "
        "(Lambda runs /opt/bootstrap, as the function's zip has none)" % python,
    ]
