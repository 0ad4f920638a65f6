"""What the IAM and STS tests share: the account, policy documents, unique names, and a
ClientError's code, status and message."""

import json
import uuid

ACCOUNT = "000000000000"


def doc(*statements):
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def error(excinfo):
    e = excinfo.value.response
    return e["Error"]["Code"], e["ResponseMetadata"]["HTTPStatusCode"], e["Error"]["Message"]
