"""boto3 imported at module level, as most functions that call AWS do."""

import boto3


def handler(event, context):
    return {"boto3": boto3.__version__}
