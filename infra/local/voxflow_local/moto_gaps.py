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
* ``AWS::DynamoDB::GlobalTable``: not in moto's CloudFormation. →
  ``create_global_table`` creates the table (stream, TTL, PITR) in this region
  and in every replica region the deployment has an endpoint for.
* ``AWS::CloudWatch::Alarm``: not in moto's CloudFormation. → ``create_alarm``
  calls PutMetricAlarm (the local health checker sets the alarm's state).
* ``AWS::S3::Bucket`` ``ReplicationConfiguration``: → PutBucketReplication. moto
  stores it; copying objects is voxflow_local's replicator's job.
* ``NOT_EMULATED``: types that have no local meaning or no moto support at all
  (the global endpoint, the bus policy, ECS capacity providers, Application Auto
  Scaling, API Gateway's HTTP API). They
  are left out and listed in ``DeployedStack.warnings`` as "not emulated locally".
"""

import functools
import json
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from voxflow_local.intrinsics import Key, replace_references

Clients = Callable[[str], Any]  # service name → boto3 client against moto


class RegionClients(Protocol):
    """Clients of this region's moto, and of the other regions' where there is one."""

    region: str

    def __call__(self, service: str) -> Any: ...

    def in_region(self, region: str, service: str) -> Any | None:
        """A client against ``region``'s moto, or None without an endpoint for it."""
        ...


@dataclass(frozen=True)
class Created:
    """What a creator made: Ref's value, GetAtt's values, and what differs locally."""

    physical_id: str
    attributes: Mapping[str, str] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()


# (clients, logical id, resolved properties) → what was created
Creator = Callable[[RegionClients, str, dict[str, Any]], Created]
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
    clients: RegionClients, logical_id: str, properties: dict[str, Any]
) -> Created:
    policy, warnings = local_policy(properties["PolicyDocument"], logical_id)
    for queue_url in properties["Queues"]:
        clients("sqs").set_queue_attributes(QueueUrl=queue_url, Attributes={"Policy": policy})
    return Created(logical_id, warnings=tuple(warnings))


def create_bucket_policy(
    clients: RegionClients, logical_id: str, properties: dict[str, Any]
) -> Created:
    policy, warnings = local_policy(properties["PolicyDocument"], logical_id)
    clients("s3").put_bucket_policy(Bucket=properties["Bucket"], Policy=policy)
    return Created(logical_id, warnings=tuple(warnings))


_GLOBAL_TABLE_HANDLED = {
    "TableName",
    "BillingMode",
    "AttributeDefinitions",
    "KeySchema",
    "GlobalSecondaryIndexes",
    "LocalSecondaryIndexes",
    "StreamSpecification",
    "TimeToLiveSpecification",
    "SSESpecification",
    "Replicas",
}


def create_global_table(
    clients: RegionClients, _logical_id: str, properties: dict[str, Any]
) -> Created:
    """One table per replica region, each with its stream: what a global table is.

    Replication itself is voxflow_local's replicator's job (it reads the streams).
    A replica in a region without a local endpoint is reported, not created.
    """
    name = str(properties["TableName"])
    warnings = [
        f"global table {name}: {key} is not applied locally"
        for key in sorted(set(properties) - _GLOBAL_TABLE_HANDLED)
    ]
    replicas = {str(r["Region"]): r for r in properties.get("Replicas", [])}
    if clients.region not in replicas:
        raise MotoGapError(f"global table {name} has no replica in {clients.region}")
    attributes: dict[str, str] = {}
    for region, replica in replicas.items():
        dynamodb = clients("dynamodb") if region == clients.region else None
        dynamodb = dynamodb or clients.in_region(region, "dynamodb")
        if dynamodb is None:
            warnings.append(
                f"global table {name}: no local endpoint for replica region {region}; "
                "that replica is not created"
            )
            continue
        description = _create_replica(dynamodb, name, properties, replica)
        if region == clients.region:
            attributes = {
                "Arn": description["TableArn"],
                "StreamArn": description.get("LatestStreamArn", ""),
                "TableId": description.get("TableId", ""),
            }
    return Created(name, attributes, tuple(warnings))


def _create_replica(
    dynamodb: Any, name: str, properties: dict[str, Any], replica: dict[str, Any]
) -> dict[str, Any]:
    stream = properties.get("StreamSpecification")
    request: dict[str, Any] = {
        "TableName": name,
        "AttributeDefinitions": properties["AttributeDefinitions"],
        "KeySchema": properties["KeySchema"],
        "BillingMode": properties.get("BillingMode", "PROVISIONED"),
    }
    if stream is not None:
        request["StreamSpecification"] = {
            "StreamEnabled": True,
            "StreamViewType": stream["StreamViewType"],
        }
    for index_kind in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        if index_kind in properties:
            request[index_kind] = properties[index_kind]
    try:
        description: dict[str, Any] = dynamodb.create_table(**request)["TableDescription"]
    except dynamodb.exceptions.ResourceInUseException:
        # Deployed again onto the same servers: the replica is there already.
        description = dynamodb.describe_table(TableName=name)["Table"]
    ttl = properties.get("TimeToLiveSpecification")
    if ttl is not None and _bool(ttl.get("Enabled", False)):
        dynamodb.update_time_to_live(
            TableName=name,
            TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True},
        )
    recovery = replica.get("PointInTimeRecoverySpecification")
    if recovery is not None:
        enabled = _bool(recovery.get("PointInTimeRecoveryEnabled", False))
        dynamodb.update_continuous_backups(
            TableName=name,
            PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": enabled},
        )
    return description


_ALARM_INTEGERS = ("Period", "EvaluationPeriods", "DatapointsToAlarm")
_ALARM_PASSED = (
    "AlarmName",
    "AlarmDescription",
    "ActionsEnabled",
    "AlarmActions",
    "OKActions",
    "InsufficientDataActions",
    "MetricName",
    "Namespace",
    "Statistic",
    "ExtendedStatistic",
    "Dimensions",
    "Unit",
    "ComparisonOperator",
    "TreatMissingData",
    "EvaluateLowSampleCountPercentile",
    "ThresholdMetricId",
    "Tags",
)


def create_alarm(clients: RegionClients, logical_id: str, properties: dict[str, Any]) -> Created:
    """PutMetricAlarm from the resource's properties (both have the same shape)."""
    request: dict[str, Any] = {key: properties[key] for key in _ALARM_PASSED if key in properties}
    request.setdefault("AlarmName", logical_id)
    for key in _ALARM_INTEGERS:
        if key in properties:
            request[key] = int(properties[key])
    if "Threshold" in properties:
        request["Threshold"] = float(properties["Threshold"])
    if "ActionsEnabled" in request:
        request["ActionsEnabled"] = _bool(request["ActionsEnabled"])
    if "Metrics" in properties:
        request["Metrics"] = [_metric_query(query) for query in properties["Metrics"]]
    unknown = set(properties) - set(request) - {"Metrics"}
    name = request["AlarmName"]
    warnings = tuple(f"alarm {name}: {key} is not applied locally" for key in sorted(unknown))
    cloudwatch = clients("cloudwatch")
    cloudwatch.put_metric_alarm(**request)
    (alarm,) = cloudwatch.describe_alarms(AlarmNames=[request["AlarmName"]])["MetricAlarms"]
    return Created(request["AlarmName"], {"Arn": alarm["AlarmArn"]}, warnings)


def _metric_query(query: dict[str, Any]) -> dict[str, Any]:
    converted = dict(query)
    if "ReturnData" in converted:
        converted["ReturnData"] = _bool(converted["ReturnData"])
    if "Period" in converted:
        converted["Period"] = int(converted["Period"])
    if "MetricStat" in converted:
        stat = dict(converted["MetricStat"])
        stat["Period"] = int(stat["Period"])
        converted["MetricStat"] = stat
    return converted


CREATE_MISSING: dict[str, Creator] = {
    "AWS::SQS::QueuePolicy": create_queue_policy,
    "AWS::S3::BucketPolicy": create_bucket_policy,
    "AWS::DynamoDB::GlobalTable": create_global_table,
    "AWS::CloudWatch::Alarm": create_alarm,
}

# Types left out of the local stack altogether: what stands in for them, or why they
# need no stand-in. tests/test_local_stack.py checks this list against the template.
NOT_EMULATED = {
    "AWS::Events::EventBusPolicy": (
        "moto enforces no bus policy: locally anyone may put events with the service's "
        "source (plan's check of a request's tenant against its source does not depend on it)"
    ),
    "AWS::Events::Endpoint": (
        "the local client routes between the two regions' buses like the global endpoint, "
        "and the replicator copies events"
    ),
    "AWS::ECS::CapacityProvider": "worker processes stand in for the ECS service",
    "AWS::ECS::ClusterCapacityProviderAssociations": (
        "worker processes stand in for the ECS service"
    ),
    "AWS::ApplicationAutoScaling::ScalableTarget": "the local worker count is fixed",
    "AWS::ApplicationAutoScaling::ScalingPolicy": "the local worker count is fixed",
    "AWS::ApiGatewayV2::Api": (
        "the local stack serves the API function on its own port (voxflow_local.http_api), "
        "payload 2.0 events from real requests; the function checks SigV4 itself"
    ),
    "AWS::ApiGatewayV2::Stage": "the local API server has no stages",
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
    if "ReplicationConfiguration" in properties:
        s3.put_bucket_replication(
            Bucket=bucket,
            ReplicationConfiguration=replication_configuration(
                properties["ReplicationConfiguration"]
            ),
        )
    handled = _MOTO_BUCKET_PROPERTIES | {
        "PublicAccessBlockConfiguration",
        "VersioningConfiguration",
        "OwnershipControls",
        "LifecycleConfiguration",
        "ReplicationConfiguration",
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


def replication_configuration(configuration: dict[str, Any]) -> dict[str, Any]:
    """A CloudFormation ReplicationConfiguration in PutBucketReplication's shape."""
    rules = []
    for rule in configuration["Rules"]:
        converted = {key: value for key, value in rule.items() if key != "Id"}
        if "Id" in rule:
            converted["ID"] = rule["Id"]
        if "Priority" in converted:
            converted["Priority"] = int(converted["Priority"])
        rules.append(converted)
    return {"Role": configuration["Role"], "Rules": rules}


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


def complete_rule(_clients: Clients, rule: str, properties: dict[str, Any]) -> list[str]:
    if "ScheduleExpression" not in properties:
        return []
    return [
        f"rule {rule}: moto fires no schedules; {properties['ScheduleExpression']} is run "
        "by a local schedule process when the stack runs schedules (voxflow_local.scheduler)"
    ]


COMPLETE: dict[str, Completer] = {
    "AWS::S3::Bucket": complete_bucket,
    "AWS::DynamoDB::Table": complete_table,
    "AWS::Events::Rule": complete_rule,
}
