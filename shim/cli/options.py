"""The options that describe a function, shared by `shim invoke`, `shim serve` (and read by `shim pack`,
`shim plugins`): a function's NAME from the project file, or a directory, then flags over its settings.

    shim invoke orders --timeout 10 --env DEBUG=1

function_config(args) is the one place that turns them into a
shim.local.project.FunctionConfig: project.resolve() finds the function (a name
in pyproject.toml's [tool.lambda-shim] wins over a directory of the same name;
a directory works without any file), and every flag given replaces the file's
setting (--env merges into its environment). A flag not given leaves it alone.
"""

import sys

from shim.pack.errors import UsageError

MAX_CONCURRENCY = 64  # worker processes on this machine; Lambda's default is 16 per vCPU for Python


def add_target_argument(parser):
    # dest function_dir, as before: it may also hold a name now; the directory is FunctionConfig.path.
    parser.add_argument(
        "function_dir",
        nargs="?",
        metavar="FUNCTION",
        help="a function's name in the project file (pyproject.toml [tool.lambda-shim]) or its "
        "directory (default: the function whose directory you are in, or the project's only "
        "one, or the current directory)",
    )


def add_function_arguments(parser):
    add_target_argument(parser)
    parser.add_argument("--zip", metavar="PATH", help="run a deployment zip instead of a directory")
    parser.add_argument(
        "--handler", default=None, help="MODULE.FUNCTION (default: the project file's, else handler.Handle)"
    )
    parser.add_argument(
        "--no-pack", action="store_true", help="run the directory in place instead of packing it into a zip first"
    )
    parser.add_argument(
        "--refresh",
        action="store_true",
        help="resolve and install the requirements again instead of taking them from the cache",
    )
    parser.add_argument(
        "--arch",
        default=None,
        choices=["x86_64", "arm64"],
        help="the Lambda architecture the requirements are installed for (default: the project "
        "file's, else this machine's)",
    )
    parser.add_argument(
        "--python-version",
        default=None,
        metavar="3.N",
        help="the Lambda CPython the requirements are installed for (default: the project file's, "
        "else this interpreter's)",
    )
    parser.add_argument("--timeout", default=None, metavar="SECONDS", help="the function's timeout (default: 3)")
    parser.add_argument("--memory", default=None, metavar="MB", help="the memory size to report (default: 128)")
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="K=V",
        help="an environment variable for the function (repeatable; over the project file's "
        "environment and --env-file)",
    )
    parser.add_argument(
        "--env-file",
        metavar="FILE",
        help="environment variables from a dotenv file or SAM's --env-vars JSON (under the project "
        "file's environment and --env)",
    )
    parser.add_argument(
        "--layer",
        action="append",
        default=None,
        metavar="ZIP",
        dest="layers",
        help="a layer zip, merged read-only into a stand-in /opt in the order given, as Lambda "
        "merges layers (repeatable; replaces the project file's layers)",
    )
    parser.add_argument(
        "--max-concurrency",
        metavar="N",
        help="Lambda Managed Instances: up to N invokes at once in one environment (sets AWS_LAMBDA_MAX_CONCURRENCY)",
    )
    parser.add_argument(
        "--snapstart",
        action="store_true",
        default=None,
        help="SnapStart: init and before-snapshot hooks once, then restore (after-restore hooks) before the invokes",
    )
    parser.add_argument(
        "--with-boto3",
        action="store_true",
        default=None,
        help="let the function import this environment's boto3 and botocore (and their "
        "requirements), as Lambda's managed Python runtimes provide them; without it the "
        "function sees only its own files and the standard library, as on provided.al2023",
    )


def resolve_target(args):
    """The FunctionConfig the positional FUNCTION (and --zip) point at, before any flag."""
    from shim.local import project

    target = getattr(args, "function_dir", None)
    zip_path = getattr(args, "zip", None)
    if zip_path:
        found = project.find_project(".") if target is not None else None
        if target is not None and (found is None or target not in found.functions):
            raise UsageError(
                "give a FUNCTION_DIR or --zip, not both (a function's name from the project file "
                "may go with --zip: its settings, the zip's code)"
            )
        if getattr(args, "no_pack", False):
            raise UsageError("--no-pack is for a FUNCTION_DIR; a --zip is always unpacked")
        return found.functions[target] if target is not None else project.FunctionConfig()
    return project.resolve(target)


def function_config(args, config=None):
    """The function's settings: the project file's (or a bare directory's defaults), then the flags."""
    config = resolve_target(args) if config is None else config
    config = config.with_overrides(**overrides(args))
    if config.env_file:  # a missing or malformed file stops here, before any packing
        from shim.local import envfile

        envfile.load(config.env_file, (config.name, config.lambda_name))
    return config


def overrides(args):
    """The settings the flags give (only those given); UsageError naming the flag for a bad value."""
    changes = {
        "handler": args.handler,
        "snapstart": args.snapstart,
        "with_boto3": args.with_boto3,
        "layers": args.layers,
        "env_file": args.env_file,
        "arch": getattr(args, "arch", None),
        "python": getattr(args, "python_version", None),
    }
    if args.timeout is not None:
        changes["timeout"] = _number("--timeout", args.timeout, float)
        if not 0 < changes["timeout"] <= 900:
            raise UsageError("--timeout must be more than 0 and at most 900 seconds, got %s" % args.timeout)
    if args.memory is not None:
        changes["memory"] = _number("--memory", args.memory, int)
        if not 128 <= changes["memory"] <= 10240:
            raise UsageError("--memory must be between 128 and 10240 MB, as in Lambda, got %s" % args.memory)
    if args.env:
        changes["environment"] = parse_env(args.env)
    if args.max_concurrency is not None:
        changes["max_concurrency"] = _number("--max-concurrency", args.max_concurrency, int)
        if not 1 <= changes["max_concurrency"] <= MAX_CONCURRENCY:
            raise UsageError(
                "--max-concurrency must be between 1 and %d, got %s" % (MAX_CONCURRENCY, args.max_concurrency)
            )
    if args.snapstart and args.max_concurrency is not None:
        raise UsageError(
            "--snapstart and --max-concurrency do not combine: Lambda offers SnapStart for "
            "on-demand functions, not on Managed Instances"
        )
    return changes


def parse_env(items):
    env = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key or any(c.isspace() for c in key):
            raise UsageError("--env takes KEY=VALUE, got %r" % item)
        env[key] = value
    return env


def open_task_root(args, config, command="invoke"):
    """The TaskRoot for the function (packed, unpacked or in place), with the lines to say before running it."""
    from shim.local import hints
    from shim.local.runconfig import interpreter_for, target_python
    from shim.local.taskroot import prepare_config

    try:
        task_root = prepare_config(
            config,
            getattr(args, "zip", None),
            pack=not getattr(args, "no_pack", False),
            refresh=getattr(args, "refresh", False),
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    lines = [
        "warning: %s" % warning
        for warning in list(task_root.pack_result.warnings if task_root.pack_result else ()) + task_root.warnings
    ]
    lines += hints.runtime_notes(task_root) + hints.target_warnings(
        task_root, interpreter_for(target_python(config, task_root))
    )
    for line in lines:
        print("shim %s: %s" % (command, line), file=sys.stderr)
    return task_root


def _number(option, text, kind):
    try:
        return kind(text)
    except ValueError:
        raise UsageError("%s takes a number, got %r" % (option, text)) from None
