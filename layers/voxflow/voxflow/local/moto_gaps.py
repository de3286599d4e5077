"""What moto 5.2's CloudFormation cannot do, and how the local stack makes up for it.

Each gap is handled by resource *type*, from the translated template's own
properties, so a resource added to template.yaml is covered without a change
here. Gaps found (moto 5.2.5; tests/test_local_stack.py keeps them honest):

* ``AWS::SQS::QueuePolicy`` and ``AWS::S3::BucketPolicy``: no CloudFormation
  support; moto logs a warning and skips them. → ``CREATE_MISSING`` sets the
  policy with SetQueueAttributes / PutBucketPolicy. moto *enforces* bucket
  policies, so statements conditioned on aws:SecureTransport are left out: the
  local endpoint is plain HTTP and they would deny every request.
* ``AWS::S3::Bucket``: only BucketName, BucketEncryption and Tags are applied.
  → ``complete_bucket`` applies lifecycle rules, the public access block,
  ownership controls and versioning.
* ``AWS::DynamoDB::Table``: TimeToLiveSpecification (and point-in-time
  recovery) are ignored. → ``complete_table`` calls UpdateTimeToLive.
* ``AWS::Events::EventBus``: the moto model has no physical id, so ``Ref`` to a
  bus yields an object and a rule on that bus crashes stack creation. →
  ``use_attribute_for_ref`` rewrites ``Ref`` to ``Fn::GetAtt <bus>.Name``, which
  is what Ref returns on AWS.
"""

import functools
import json
import subprocess
import sys
from collections.abc import Callable
from typing import Any

from voxflow.local.intrinsics import Key, replace_references

Clients = Callable[[str], Any]  # service name → boto3 client against moto
# (clients, logical id, resolved properties) → physical id of what was created, and
# warnings about what differs locally
Creator = Callable[[Clients, str, dict[str, Any]], tuple[str, list[str]]]
# (clients, physical id, resolved properties) → warnings about what stays unapplied
Completer = Callable[[Clients, str, dict[str, Any]], list[str]]


class MotoGapError(RuntimeError):
    pass


@functools.cache
def moto_cloudformation_types() -> frozenset[str]:
    """The resource types moto's CloudFormation can create, asked of the installed moto.

    Asked in a child process: importing moto's CloudFormation models takes seconds
    and hooks into botocore, neither of which this process should pay for.
    """
    probe = (
        "import json; from moto.cloudformation.parsing import get_model_map; "
        "print(json.dumps(sorted(get_model_map())))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=False, timeout=120
    )
    if result.returncode != 0:
        raise MotoGapError(f"cannot list moto's CloudFormation types: {result.stderr[-2000:]}")
    return frozenset(json.loads(result.stdout))


# Ref returns this attribute on AWS; moto's model for the type has no physical id.
REF_ATTRIBUTE = {"AWS::Events::EventBus": "Name"}


def use_attribute_for_ref(template: dict[str, Any]) -> dict[str, Any]:
    resources = template.get("Resources", {})
    values: dict[Key, Any] = {
        (logical_id, None): {"Fn::GetAtt": [logical_id, REF_ATTRIBUTE[resource["Type"]]]}
        for logical_id, resource in resources.items()
        if resource.get("Type") in REF_ATTRIBUTE
    }
    rewritten: dict[str, Any] = replace_references(template, values)
    return rewritten


# CloudFormation coerces property values to their schema's types; boto3 does not.
def _bool(value: Any) -> bool:
    return str(value).lower() == "true"


def _ints(mapping: dict[str, Any]) -> dict[str, Any]:
    return {key: int(value) for key, value in mapping.items()}


def local_policy(document: Any, owner: str) -> tuple[str, list[str]]:
    """The policy as JSON, minus statements on aws:SecureTransport, and why they went.

    moto evaluates bucket policies, and the local endpoint is plain HTTP: a
    "deny unless TLS" statement would deny every request of the local stack.
    """
    policy = json.loads(document) if isinstance(document, str) else dict(document)
    statements = policy.get("Statement", [])
    statements = [statements] if isinstance(statements, dict) else statements
    kept: list[dict[str, Any]] = []
    dropped: list[dict[str, Any]] = []
    for statement in statements:
        keys = {key.lower() for test in statement.get("Condition", {}).values() for key in test}
        (dropped if "aws:securetransport" in keys else kept).append(statement)
    policy["Statement"] = kept
    warnings = [
        f"{owner}: statement {s.get('Sid', '(no Sid)')} on aws:SecureTransport is left out "
        "locally (the endpoint is plain HTTP)"
        for s in dropped
    ]
    return json.dumps(policy), warnings


def create_queue_policy(
    clients: Clients, logical_id: str, properties: dict[str, Any]
) -> tuple[str, list[str]]:
    policy, warnings = local_policy(properties["PolicyDocument"], logical_id)
    for queue_url in properties["Queues"]:
        clients("sqs").set_queue_attributes(QueueUrl=queue_url, Attributes={"Policy": policy})
    return logical_id, warnings


def create_bucket_policy(
    clients: Clients, logical_id: str, properties: dict[str, Any]
) -> tuple[str, list[str]]:
    policy, warnings = local_policy(properties["PolicyDocument"], logical_id)
    clients("s3").put_bucket_policy(Bucket=properties["Bucket"], Policy=policy)
    return logical_id, warnings


CREATE_MISSING: dict[str, Creator] = {
    "AWS::SQS::QueuePolicy": create_queue_policy,
    "AWS::S3::BucketPolicy": create_bucket_policy,
}

# Applied by moto itself (moto/s3/models.py, moto/dynamodb/models/table.py).
_MOTO_BUCKET_PROPERTIES = {"BucketName", "BucketEncryption", "Tags"}
_MOTO_TABLE_PROPERTIES = {
    "TableName",
    "KeySchema",
    "AttributeDefinitions",
    "GlobalSecondaryIndexes",
    "LocalSecondaryIndexes",
    "ProvisionedThroughput",
    "BillingMode",
    "StreamSpecification",
    "Tags",
    "DeletionProtectionEnabled",
    "SSESpecification",
    "WarmThroughput",
}


def complete_bucket(clients: Clients, bucket: str, properties: dict[str, Any]) -> list[str]:
    s3 = clients("s3")
    if "PublicAccessBlockConfiguration" in properties:
        block = properties["PublicAccessBlockConfiguration"]
        s3.put_public_access_block(
            Bucket=bucket,
            PublicAccessBlockConfiguration={key: _bool(value) for key, value in block.items()},
        )
    if "VersioningConfiguration" in properties:
        status = properties["VersioningConfiguration"]["Status"]
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": status})
    if "OwnershipControls" in properties:
        s3.put_bucket_ownership_controls(
            Bucket=bucket, OwnershipControls=properties["OwnershipControls"]
        )
    if "LifecycleConfiguration" in properties:
        rules = [lifecycle_rule(rule) for rule in properties["LifecycleConfiguration"]["Rules"]]
        s3.put_bucket_lifecycle_configuration(
            Bucket=bucket, LifecycleConfiguration={"Rules": rules}
        )
    handled = _MOTO_BUCKET_PROPERTIES | {
        "PublicAccessBlockConfiguration",
        "VersioningConfiguration",
        "OwnershipControls",
        "LifecycleConfiguration",
    }
    return [f"bucket {bucket}: {name} is not applied locally" for name in set(properties) - handled]


def lifecycle_rule(rule: dict[str, Any]) -> dict[str, Any]:
    """A CloudFormation lifecycle rule in the shape of PutBucketLifecycleConfiguration."""
    converted: dict[str, Any] = {"Status": rule["Status"], "Filter": _lifecycle_filter(rule)}
    if "Id" in rule:
        converted["ID"] = rule["Id"]
    expiration: dict[str, Any] = {}
    if "ExpirationInDays" in rule:
        expiration["Days"] = int(rule["ExpirationInDays"])
    if "ExpirationDate" in rule:
        expiration["Date"] = rule["ExpirationDate"]
    if "ExpiredObjectDeleteMarker" in rule:
        expiration["ExpiredObjectDeleteMarker"] = _bool(rule["ExpiredObjectDeleteMarker"])
    if expiration:
        converted["Expiration"] = expiration
    if "AbortIncompleteMultipartUpload" in rule:
        converted["AbortIncompleteMultipartUpload"] = _ints(rule["AbortIncompleteMultipartUpload"])
    if "NoncurrentVersionExpirationInDays" in rule:
        days = int(rule["NoncurrentVersionExpirationInDays"])
        converted["NoncurrentVersionExpiration"] = {"NoncurrentDays": days}
    if "NoncurrentVersionExpiration" in rule:
        converted["NoncurrentVersionExpiration"] = _ints(rule["NoncurrentVersionExpiration"])
    transitions = [
        *rule.get("Transitions", []),
        *([rule["Transition"]] if "Transition" in rule else []),
    ]
    if transitions:
        converted["Transitions"] = [_transition(transition) for transition in transitions]
    known = {
        "Id",
        "Status",
        "Prefix",
        "TagFilters",
        "ObjectSizeGreaterThan",
        "ObjectSizeLessThan",
        "ExpirationInDays",
        "ExpirationDate",
        "ExpiredObjectDeleteMarker",
        "AbortIncompleteMultipartUpload",
        "NoncurrentVersionExpirationInDays",
        "NoncurrentVersionExpiration",
        "Transitions",
        "Transition",
    }
    unknown = set(rule) - known
    if unknown:
        # Better no local stack than one that silently expires something else.
        raise MotoGapError(f"lifecycle rule properties not supported locally: {sorted(unknown)}")
    return converted


def _lifecycle_filter(rule: dict[str, Any]) -> dict[str, Any]:
    parts: dict[str, Any] = {}
    if "Prefix" in rule:
        parts["Prefix"] = rule["Prefix"]
    if "TagFilters" in rule:
        parts["Tags"] = rule["TagFilters"]
    for size in ("ObjectSizeGreaterThan", "ObjectSizeLessThan"):
        if size in rule:
            parts[size] = int(rule[size])
    if not parts:
        return {"Prefix": ""}
    if len(parts) == 1 and "Tags" not in parts:
        return parts
    if len(parts) == 1 and len(parts["Tags"]) == 1:
        return {"Tag": parts["Tags"][0]}
    return {"And": parts}


def _transition(transition: dict[str, Any]) -> dict[str, Any]:
    converted: dict[str, Any] = {"StorageClass": transition["StorageClass"]}
    if "TransitionInDays" in transition:
        converted["Days"] = int(transition["TransitionInDays"])
    if "TransitionDate" in transition:
        converted["Date"] = transition["TransitionDate"]
    return converted


def complete_table(clients: Clients, table: str, properties: dict[str, Any]) -> list[str]:
    dynamodb = clients("dynamodb")
    ttl = properties.get("TimeToLiveSpecification")
    if ttl is not None and _bool(ttl.get("Enabled", False)):
        dynamodb.update_time_to_live(
            TableName=table,
            TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True},
        )
    recovery = properties.get("PointInTimeRecoverySpecification")
    if recovery is not None:
        enabled = _bool(recovery.get("PointInTimeRecoveryEnabled", False))
        dynamodb.update_continuous_backups(
            TableName=table,
            PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": enabled},
        )
    handled = _MOTO_TABLE_PROPERTIES | {
        "TimeToLiveSpecification",
        "PointInTimeRecoverySpecification",
    }
    return [f"table {table}: {name} is not applied locally" for name in set(properties) - handled]


COMPLETE: dict[str, Completer] = {
    "AWS::S3::Bucket": complete_bucket,
    "AWS::DynamoDB::Table": complete_table,
}
