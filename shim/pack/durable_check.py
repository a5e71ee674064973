"""A durable function's zip must carry a boto3 that knows the durable-execution APIs.

The durable SDK (aws-durable-execution-sdk-python) checkpoints through boto3's Lambda client:
CheckpointDurableExecution and GetDurableExecutionState. provided.al2023 has no boto3 at all,
and a managed runtime's own may predate those APIs, so the zip has to bring one. The SDK's own
requirement (boto3>=1.43.114) brings it when the SDK comes from requirements.txt; check() makes
sure of it whichever way the SDK got into the zip (a vendored copy, a -t install in the folder),
by reading the Lambda service model of the botocore in the zip.
"""

import gzip
import json

SDK_PREFIX = "aws_durable_execution_sdk_python/"
MODEL = "botocore/data/lambda/2015-03-31/service-2.json"
NEEDED = ("CheckpointDurableExecution", "GetDurableExecutionState")


def check(entries, say, warn):
    """entries: {path in the zip: (source file, executable)}. Says what it found; warns when the SDK is in
    the zip without a botocore that has the durable APIs. Returns True when all is well (or no SDK)."""
    if not any(name.startswith(SDK_PREFIX) for name in entries):
        return True
    missing = _missing_operations(entries)
    if not missing:
        say("  durable SDK: boto3 and botocore with the durable-execution APIs are in the zip")
        return True
    if missing is NEEDED and not any(name.startswith("botocore/") for name in entries):
        what = "no botocore is in the zip"
    else:
        what = "the botocore in the zip lacks %s" % ", ".join(missing)
    warn(
        "the zip has the durable SDK but %s: provided.al2023 has no boto3 and a managed runtime's may predate the "
        "durable APIs; add boto3>=1.43.114 to requirements.txt" % what
    )
    return False


def _missing_operations(entries):
    for name, compressed in ((MODEL + ".gz", True), (MODEL, False)):
        if name in entries:
            source = entries[name][0]
            try:
                with (gzip.open if compressed else open)(source, "rb") as handle:
                    operations = json.loads(handle.read().decode("utf-8")).get("operations", {})
            except (OSError, ValueError):
                return NEEDED
            return tuple(op for op in NEEDED if op not in operations) or None
    return NEEDED
