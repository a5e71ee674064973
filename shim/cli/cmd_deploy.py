"""`shim deploy`: create or update the project file's functions on Lambda (see shim.local.deploy).

    shim deploy                      every function in the project file
    shim deploy orders billing       these functions
    shim deploy --plan               what would change; changes nothing (exit 0 either way)

boto3 is the `deploy` extra: pip install 'lambda-shim[deploy]'.
"""

import sys

from shim.pack.errors import UsageError
from shim.local import project


def configure(parser):
    parser.add_argument("names", nargs="*", metavar="NAME", help="functions of the project file (default: all of them)")
    parser.add_argument(
        "--plan",
        action="store_true",
        help="print what would change and change nothing (exit 0 whether or not there are changes)",
    )
    parser.add_argument("--role", metavar="ARN", help="the execution role, for every function (overrides role = ...)")
    parser.add_argument(
        "--s3-bucket",
        metavar="BUCKET",
        help="upload the zips to this bucket and deploy from there (needed above Lambda's 50 MB "
        "limit for direct upload)",
    )
    parser.add_argument("--region", help="the AWS region (default: AWS_REGION or your profile's)")
    parser.add_argument("--profile", help="the AWS profile (default: AWS_PROFILE or the default one)")
    parser.add_argument(
        "--wait",
        type=float,
        default=300.0,
        metavar="SECONDS",
        help="how long to wait for each function to be Active and Successful (default: 300)",
    )


def main(args):
    found = project.find_project(".")
    if found is None or not found.functions:
        raise UsageError(
            "no functions to deploy: shim deploy reads [tool.lambda-shim.functions.NAME] tables in "
            "pyproject.toml (here or above)"
        )
    configs = [found.function(name) for name in args.names] if args.names else list(found.functions.values())
    if args.role is not None and not args.role.startswith("arn:"):
        raise UsageError("--role takes a role's ARN (arn:aws:iam::ACCOUNT:role/NAME), got %r" % args.role)
    from shim.local import deploy

    return deploy.deploy(
        configs,
        role=args.role,
        plan_only=args.plan,
        s3_bucket=args.s3_bucket,
        region=args.region,
        profile=args.profile,
        out=lambda line: print(line, flush=True),
        log=lambda line: print(line, file=sys.stderr, flush=True),
        wait_timeout=args.wait,
    )
