"""template.yaml: cfn-lint clean, translated offline by samtranslator, true to docs/pipeline.md.

Everything here runs without an AWS account: cfn-lint and samtranslator read the
template locally; the managed-policy lookup samtranslator would make against IAM
is a stub. The numbers checked against each other (visibility timeouts, function
timeouts, redrive counts) are read from the template, not repeated here.
"""

import argparse
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pynamodb.attributes import TTLAttribute
from pynamodb.models import Model
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

from voxflow.api.polly_contract import polly_contract
from voxflow.audit.models import TENANT_INDEX, AuditRecord
from voxflow.cli.keys import sigv4_prefix
from voxflow.console.assets import INDEX
from voxflow.console.site import (
    CORS_ALLOW_HEADERS,
    CORS_ALLOW_METHODS,
    CORS_EXPOSE_HEADERS,
    CORS_MAX_AGE_S,
    site_policy,
)
from voxflow.events import SOURCE_CLIENT, SOURCE_SERVICE, SOURCE_TENANT_PREFIX, request_source
from voxflow.health.canary import TENANT
from voxflow.settings import EngineSettings
from voxflow.store.audio import AUDIO_PREFIX, CHUNK_PREFIX, JOB_TEXTS_PREFIX
from voxflow.store.models import CacheEntry, Job
from voxflow.voices.catalog import VOICES_PREFIX
from voxflow_local.intrinsics import Key, apply_conditions, evaluate_conditions, failed_rules

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"
CONTRACT = ROOT / "docs" / "pipeline.md"

PSEUDO_PARAMETERS = {
    "AWS::Region": "us-east-1",
    "AWS::AccountId": "123456789012",
    "AWS::Partition": "aws",
    "AWS::StackName": "voxflow",
}
# What samtranslator would look up in IAM by name; these fixed ARNs stand in for it.
MANAGED_POLICIES = {
    "AWSLambdaBasicExecutionRole": (
        "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
    ),
    "AWSXrayWriteOnlyAccess": "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess",
    "AWSLambdaSQSQueueExecutionRole": (
        "arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole"
    ),
}
# The function consuming each queue, per docs/pipeline.md.
CONSUMERS = {
    "RequestsQueue": "PlanFunction",
    "ChunksQueue": "SynthesizeFunction",
    "LongChunksQueue": "SynthesizeFunction",
    "StandbyQueue": "PlanFunction",
    "RecoveryChunksQueue": "SynthesizeFunction",
}
# Every queue of the stack, in VOXFLOW_OWN_QUEUES's order.
QUEUES = (
    "RequestsQueue",
    "RequestsDLQ",
    "RequestsRuleDLQ",
    "ChunksQueue",
    "ChunksDLQ",
    "LongChunksQueue",
    "LongChunksDLQ",
    "StandbyQueue",
    "RecoveryChunksQueue",
)
# Every function has a hand-written role (template.yaml), never SAM's generated one.
FUNCTIONS = (
    "PlanFunction",
    "SynthesizeFunction",
    "SweeperFunction",
    "HealthFunction",
    "ApiFunction",
)
# Functions that answer HTTP callers and put nothing on the bus or the queues.
HTTP_FUNCTIONS = ("ApiFunction",)
LEXICON_OPERATIONS = ("PutLexicon", "GetLexicon", "ListLexicons", "DeleteLexicon")
# The only actions allowed on every resource: none of them has resource-level permissions.
UNSCOPABLE_ACTIONS = {
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "cloudwatch:PutMetricData",
    "cloudwatch:GetMetricData",  # reads only; the console's queue ages and hit ratio
}
# No batching windows: plan answers cache hits, and CPU synthesis gains nothing from batches.
BATCH_WINDOWS = {"PlanFunction": 0, "SynthesizeFunction": 0}
BATCH_SIZES = {"PlanFunction": 10, "SynthesizeFunction": 4}
ROLES = ("standalone", "primary", "secondary")
# What each role creates beyond what all roles share (docs/regions.md).
PRIMARY_ONLY = {
    "HealthFunction",
    "PrimaryHealthAlarm",
    "HeartbeatAlarm",
    "CanaryAlarm",
    "PrimaryHealthCheck",
    "GlobalEndpoint",
}
WORKERS = {
    "WorkerCluster",
    "WorkerTaskDefinition",
    "WorkerService",
    "WorkerCapacityProvider",
    "WorkerAutoScalingGroup",
    "WorkerLaunchTemplate",
    "WorkerScalingPolicy",
}
WORKER_IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/voxflow-worker:1"
# AWS managed policies that roles other than the functions' may attach, by role.
AWS_MANAGED_POLICIES = {
    "WorkerInstanceRole": "service-role/AmazonEC2ContainerServiceforEC2Role",
    "WorkerExecutionRole": "service-role/AmazonECSTaskExecutionRolePolicy",
}


class OfflinePolicyLoader:
    """Stands in for samtranslator's ManagedPolicyLoader, which asks IAM."""

    def load(self) -> dict[str, str]:
        return dict(MANAGED_POLICIES)


# ---------------------------------------------------------------------------------
# Fixtures and helpers
# ---------------------------------------------------------------------------------


def load_sam() -> dict[str, Any]:
    template: dict[str, Any] = yaml_parse(TEMPLATE.read_text(encoding="utf-8"))
    return template


@pytest.fixture(scope="module")
def sam() -> dict[str, Any]:
    return load_sam()


@pytest.fixture(scope="module")
def translated() -> dict[str, Any]:
    """The template as CloudFormation, as `sam deploy` would submit it after packaging."""
    template = load_sam()
    for logical_id, resource in template["Resources"].items():
        properties = resource.get("Properties", {})
        for uri in ("CodeUri", "ContentUri"):
            if isinstance(properties.get(uri), str) and "://" not in properties[uri]:
                local = ROOT / properties[uri]
                assert local.is_dir(), f"{logical_id}.{uri}: {local} does not exist"
                properties[uri] = f"s3://packaged/{properties[uri].strip('/')}.zip"
    with pytest.MonkeyPatch.context() as patch:
        # samtranslator builds a boto3 session for the region, even when it is given.
        patch.setenv("AWS_DEFAULT_REGION", PSEUDO_PARAMETERS["AWS::Region"])
        patch.delenv("AWS_PROFILE", raising=False)
        result: dict[str, Any] = transform(template, dict(PSEUDO_PARAMETERS), OfflinePolicyLoader())
    return result


def parameter_values(translated: dict[str, Any], role: str, **parameters: str) -> dict[Key, str]:
    """Pseudo parameters, the defaults, then ``role`` and ``parameters``."""
    values: dict[Key, str] = {(name, None): value for name, value in PSEUDO_PARAMETERS.items()}
    for name, spec in translated["Parameters"].items():
        if "Default" in spec:
            values[name, None] = str(spec["Default"])
    values.update({(name, None): value for name, value in {"Role": role, **parameters}.items()})
    return values


def for_role(translated: dict[str, Any], role: str, **parameters: str) -> dict[str, Any]:
    """The translated template as CloudFormation creates it for one Role."""
    values = parameter_values(translated, role, **parameters)
    conditions = evaluate_conditions(translated.get("Conditions", {}), values)
    resolved: dict[str, Any] = apply_conditions(translated, conditions)
    return resolved


@pytest.fixture(scope="module")
def roles(translated: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        role: for_role(translated, role, WorkerImageUri=WORKER_IMAGE, PeerReady="true")
        for role in ROLES
    }


def resources_of(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {
        logical_id: resource
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == kind
    }


def props(template: dict[str, Any], logical_id: str) -> dict[str, Any]:
    properties: dict[str, Any] = template["Resources"][logical_id].get("Properties", {})
    return properties


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def contract_rows(section: str) -> Iterator[list[str]]:
    """The table rows of a '## section' of docs/pipeline.md, as lists of cells."""
    text = CONTRACT.read_text(encoding="utf-8")
    match = re.search(rf"^## {re.escape(section)}\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert match, f"docs/pipeline.md has no section {section!r}"
    for line in match.group(1).splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("|") and cells[0] not in ("", "---") and not cells[0].startswith("-"):
            if cells[0] in ("logical id", "variable"):
                continue
            yield cells


def contract_resources() -> dict[str, tuple[str, str]]:
    """docs/pipeline.md's logical ids: id -> (type, notes)."""
    found: dict[str, tuple[str, str]] = {}
    for cells in contract_rows("Resources (logical ids in template.yaml)"):
        for logical_id in re.findall(r"`(\w+)`", cells[0]):
            found[logical_id] = (cells[1], cells[2])
    return found


def statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    """The statements, conditional ones (Fn::If) by their true branch."""
    found = []
    for statement in as_list(document["Statement"]):
        found.append(dict(statement["Fn::If"][1] if "Fn::If" in statement else statement))
    return found


def stack_policies(template: dict[str, Any], role_id: str) -> list[str]:
    """The logical ids of this stack's managed policies a role attaches.

    A conditional attachment (Fn::If) counts by its true branch, as statements do;
    AWS managed policies (ARNs, not Refs) are not this stack's and are left out.
    """
    found = []
    for attached in props(template, role_id).get("ManagedPolicyArns", []):
        arn = attached["Fn::If"][1] if "Fn::If" in attached else attached
        if "Ref" in arn:
            policy = template["Resources"][arn["Ref"]]
            assert policy["Type"] == "AWS::IAM::ManagedPolicy", arn
            found.append(arn["Ref"])
    return found


def role_statements(template: dict[str, Any], role_id: str) -> list[dict[str, Any]]:
    """What a role allows: its inline policies and the stack's managed policies it attaches."""
    documents = [
        policy["PolicyDocument"] for policy in props(template, role_id).get("Policies", [])
    ]
    documents += [props(template, p)["PolicyDocument"] for p in stack_policies(template, role_id)]
    return [statement for document in documents for statement in statements(document)]


def function_role(translated: dict[str, Any], function_id: str) -> str:
    role = props(translated, function_id)["Role"]
    assert isinstance(role, dict), role
    assert "Fn::GetAtt" in role, role
    return str(role["Fn::GetAtt"][0])


def getatt(logical_id: str, attribute: str = "Arn") -> dict[str, list[str]]:
    return {"Fn::GetAtt": [logical_id, attribute]}


def ref(logical_id: str) -> dict[str, str]:
    return {"Ref": logical_id}


# ---------------------------------------------------------------------------------
# Linters
# ---------------------------------------------------------------------------------


def test_cfn_lint_reports_nothing() -> None:
    """Zero errors, warnings and even informational matches: no rule is ignored."""
    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    result = subprocess.run(
        [str(cfn_lint), "--include-checks", "I", "--format", "parseable", "--", str(TEMPLATE)],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ""


@pytest.mark.parametrize("role", ROLES)
def test_cfn_lint_reports_nothing_on_each_role(
    roles: dict[str, dict[str, Any]], role: str, tmp_path: Path
) -> None:
    """Each role's concrete template (conditions applied, as CloudFormation creates it)."""
    concrete = tmp_path / f"{role}.json"
    concrete.write_text(json.dumps(roles[role]), encoding="utf-8")
    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    # W1020: samtranslator substitutes the stack name given to it, leaving Subs of
    # plain text in the layers' names. W2001: a role leaves the other roles' parameters
    # unused. template.yaml itself is linted with every rule (above).
    ignored = "W1020,W2001"
    arguments = ["--include-checks", "I", "--ignore-checks", ignored, "--format", "parseable"]
    result = subprocess.run(
        [str(cfn_lint), *arguments, "--", str(concrete)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_each_role_creates_its_share(
    translated: dict[str, Any], roles: dict[str, dict[str, Any]]
) -> None:
    created = {role: set(template["Resources"]) for role, template in roles.items()}
    for role in ROLES:
        assert {"PlanFunction", "SynthesizeFunction", "AudioBucket", "EventBus"} <= created[role]
        # Both regions serve the API, each from its own cache replica and pipeline.
        assert {"ApiFunction", "SpeechApi"} <= created[role]
    assert created["primary"] >= PRIMARY_ONLY | WORKERS
    assert not (PRIMARY_ONLY | WORKERS) & (created["standalone"] | created["secondary"])
    # The secondary uses the primary's replicas; the others create the global tables.
    assert {"CacheTable", "JobsTable"} <= created["standalone"] & created["primary"]
    assert not {"CacheTable", "JobsTable"} & created["secondary"]
    # No worker image: no worker capacity (and no heartbeats: the primary stays unhealthy).
    no_image = for_role(translated, "primary")
    assert not WORKERS & set(no_image["Resources"])
    # Replication waits until the peer's bucket exists (PeerReady); never when standalone.
    assert "ReplicationConfiguration" not in props(roles["standalone"], "AudioBucket")
    for role in ("primary", "secondary"):
        assert "ReplicationConfiguration" in props(roles[role], "AudioBucket")


def test_template_ignores_no_cfn_lint_rule(sam: dict[str, Any]) -> None:
    # Ignoring a rule needs its reason written next to it in the template's Metadata.
    config = sam.get("Metadata", {}).get("cfn-lint", {}).get("config", {})
    assert not config.get("ignore_checks"), "document why, then update this test"


def test_translates_to_plain_cloudformation(translated: dict[str, Any]) -> None:
    types = {resource["Type"] for resource in translated["Resources"].values()}
    assert not [kind for kind in types if kind.startswith("AWS::Serverless::")]
    assert "Transform" not in translated


# ---------------------------------------------------------------------------------
# The contract: logical ids, types, environment
# ---------------------------------------------------------------------------------


def test_every_contract_logical_id_exists_with_its_type(sam: dict[str, Any]) -> None:
    expected = contract_resources()
    assert len(expected) >= 11, expected
    for logical_id, (kind, _) in expected.items():
        assert logical_id in sam["Resources"], f"{logical_id} is missing"
        assert sam["Resources"][logical_id]["Type"] == kind, logical_id


def test_parameters_and_their_defaults(sam: dict[str, Any]) -> None:
    parameters = sam["Parameters"]
    assert parameters["UrlExpirySeconds"]["Default"] == 3600
    assert parameters["ChunkRetentionDays"]["Default"] == 7
    assert parameters["LogLevel"]["Default"] in parameters["LogLevel"]["AllowedValues"]
    # S3 presigns for at most 7 days.
    assert parameters["UrlExpirySeconds"]["MaxValue"] <= 7 * 86400
    # As before the setting existed: every tenant's hits serve every tenant.
    assert parameters["CacheIsolation"]["Default"] == "shared"
    assert parameters["CacheIsolation"]["AllowedValues"] == ["shared", "tenant"]


def test_own_queues_name_every_queue_of_the_stack(sam: dict[str, Any]) -> None:
    """A request may name none of them as its reply target (VOXFLOW_OWN_QUEUES)."""
    queues = {lid for lid, r in sam["Resources"].items() if r["Type"] == "AWS::SQS::Queue"}
    assert set(QUEUES) == queues
    parameters = sam["Parameters"]
    assert parameters["ReplyQueuePrefix"]["Default"] == "voxflow-replies-"
    assert parameters["ReplyBusPrefix"]["Default"] == "voxflow-replies-"


def test_function_environment_follows_the_contract(translated: dict[str, Any]) -> None:
    names = {
        name
        for cells in contract_rows("Function environment")
        for name in re.findall(r"`(\w+)`", cells[0])
    }
    expected_values = {
        "VOXFLOW_BUS_NAME": ref("EventBus"),
        "VOXFLOW_CHUNKS_QUEUE_URL": ref("ChunksQueue"),
        "VOXFLOW_LONG_CHUNKS_QUEUE_URL": ref("LongChunksQueue"),
        "VOXFLOW_RECOVERY_CHUNKS_QUEUE_URL": ref("RecoveryChunksQueue"),
        "VOXFLOW_SHORT_JOB_CHUNKS": ref("ShortJobChunks"),
        "VOXFLOW_BUCKET": ref("AudioBucket"),
        "VOXFLOW_CACHE_ISOLATION": ref("CacheIsolation"),
        # Names: the secondary has no tables of its own but uses replicas of the same name.
        "VOXFLOW_CACHE_TABLE": {"Fn::Sub": "${AWS::StackName}-cache"},
        "VOXFLOW_JOBS_TABLE": {"Fn::Sub": "${AWS::StackName}-jobs"},
        "VOXFLOW_URL_EXPIRY_S": ref("UrlExpirySeconds"),
        "VOXFLOW_CHUNK_RETENTION_DAYS": ref("ChunkRetentionDays"),
        "VOXFLOW_REGION_NAME": ref("AWS::Region"),
        "VOXFLOW_MAX_RECEIVE_COUNT": "3",
        "POWERTOOLS_SERVICE_NAME": "voxflow",
        "POWERTOOLS_METRICS_NAMESPACE": "voxflow",
        "LOG_LEVEL": ref("LogLevel"),
        # docs/regions.md
        "VOXFLOW_ROLE": ref("Role"),
        "VOXFLOW_PRIMARY_REGION": ref("PrimaryRegion"),
        "VOXFLOW_SECONDARY_REGION": ref("SecondaryRegion"),
        "VOXFLOW_HEALTH_ALARM": {"Fn::Sub": "${AWS::StackName}-primary-health"},
        "VOXFLOW_STANDBY_RETRY_S": "5",
        "VOXFLOW_STANDBY_RETRY_MAX_S": "30",
        "VOXFLOW_STANDBY_MAX_S": "900",
        "VOXFLOW_STALE_REQUEST_S": "10",
        "VOXFLOW_CHUNK_STALL_S": "120",
        "VOXFLOW_REQUESTS_QUEUE_URL": ref("RequestsQueue"),
        "VOXFLOW_STANDBY_QUEUE_URL": ref("StandbyQueue"),
        # The voice catalog (docs/operations.md, "Voices")
        "VOXFLOW_VOICES_TABLE": {"Fn::Sub": "${AWS::StackName}-voices"},
        "VOXFLOW_CHUNK_CLAIMS_TABLE": ref("ChunkClaimsTable"),
        # Reply targets
        "VOXFLOW_REPLY_QUEUE_PREFIX": ref("ReplyQueuePrefix"),
        "VOXFLOW_REPLY_BUS_PREFIX": ref("ReplyBusPrefix"),
        "VOXFLOW_OUTPUT_BUCKET_PREFIX": ref("OutputBucketPrefix"),
        "VOXFLOW_REPLY_TOPIC_PREFIX": ref("ReplyTopicPrefix"),
        "VOXFLOW_OWN_QUEUES": {"Fn::Join": [",", [getatt(q, "QueueName") for q in QUEUES]]},
        # Edge delivery (docs/regions.md): the owner's distribution, else the primary's ids.
        "VOXFLOW_URL_SIGNER": {"Fn::If": ["EdgeOn", "cloudfront", "s3"]},
        "VOXFLOW_EDGE_URL": {
            "Fn::If": [
                "EdgeOn",
                {
                    "Fn::If": [
                        "OwnsEdge",
                        {"Fn::Sub": "https://${EdgeDistribution.DomainName}"},
                        {"Fn::Sub": "https://${EdgeDomainName}"},
                    ]
                },
                ref("AWS::NoValue"),
            ]
        },
        "VOXFLOW_EDGE_KEY_ID": {
            "Fn::If": [
                "EdgeOn",
                {"Fn::If": ["OwnsEdge", ref("EdgePublicKey"), ref("EdgePublicKeyId")]},
                ref("AWS::NoValue"),
            ]
        },
        "VOXFLOW_EDGE_KEY_SECRET": {
            "Fn::If": ["EdgeOn", ref("EdgeSigningKeySecret"), ref("AWS::NoValue")]
        },
    }
    # Only the local stack points the functions at a moto endpoint.
    local_only = {"VOXFLOW_AWS_ENDPOINT_URL"}
    assert local_only <= names
    for function_id in CONSUMERS.values():
        variables = props(translated, function_id)["Environment"]["Variables"]
        for name, value in expected_values.items():
            assert variables.get(name) == value, f"{function_id}: {name}"
        # What the contract documents and the template sets, this test pins.
        assert names & set(variables) <= set(expected_values), names & set(variables)
        assert not local_only & set(variables)


def test_functions_run_the_contract_handlers(sam: dict[str, Any]) -> None:
    globals_ = sam["Globals"]["Function"]
    assert globals_["Runtime"] == "python3.12"
    assert globals_["Architectures"] == ["x86_64"]
    assert globals_["Tracing"] == "Active"
    layers = [ref("VoxflowLayer"), ref("EngineLayer"), ref("VoiceLayer")]
    for function_id, folder in (("PlanFunction", "plan"), ("SynthesizeFunction", "synthesize")):
        function = props(sam, function_id)
        assert function["CodeUri"].rstrip("/") == f"functions/{folder}"
        assert function["Handler"] == "app.handler"
        assert function["Layers"] == layers
        handler = ROOT / "functions" / folder / "app.py"
        assert re.search(r"^def handler\(", handler.read_text(encoding="utf-8"), re.M), handler
    assert props(sam, "PlanFunction")["Timeout"] == 30
    assert props(sam, "PlanFunction")["MemorySize"] == 1024
    assert props(sam, "SynthesizeFunction")["Timeout"] == 120
    assert props(sam, "SynthesizeFunction")["MemorySize"] == 3008


def test_outputs_name_every_resource_a_client_or_operator_needs(sam: dict[str, Any]) -> None:
    outputs = sam["Outputs"]
    expected = {
        "EventBusName": ref("EventBus"),
        "EventBusArn": getatt("EventBus"),
        "RequestsQueueUrl": ref("RequestsQueue"),
        "RequestsDLQUrl": ref("RequestsDLQ"),
        "ChunksQueueUrl": ref("ChunksQueue"),
        "ChunksDLQUrl": ref("ChunksDLQ"),
        "LongChunksQueueUrl": ref("LongChunksQueue"),
        "LongChunksDLQUrl": ref("LongChunksDLQ"),
        "AudioBucketName": ref("AudioBucket"),
        "CacheTableName": {"Fn::Sub": "${AWS::StackName}-cache"},
        "JobsTableName": {"Fn::Sub": "${AWS::StackName}-jobs"},
        "HealthAlarmName": ref("PrimaryHealthAlarm"),
        "PrimaryHealthCheckId": ref("PrimaryHealthCheck"),
        "GlobalEndpointId": getatt("GlobalEndpoint", "EndpointId"),
        "GlobalEndpointUrl": getatt("GlobalEndpoint", "EndpointUrl"),
        "PlanFunctionArn": getatt("PlanFunction"),
        "SynthesizeFunctionArn": getatt("SynthesizeFunction"),
        "ApiFunctionArn": getatt("ApiFunction"),
        "ApiUrl": {"Fn::Sub": "https://${SpeechApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}"},
    }
    for name, value in expected.items():
        assert outputs[name]["Value"] == value, name


# ---------------------------------------------------------------------------------
# Events and queues
# ---------------------------------------------------------------------------------


def test_requests_rule_routes_client_requests_to_the_requests_queue(
    translated: dict[str, Any],
) -> None:
    rule = props(translated, "RequestsRule")
    assert rule["EventBusName"] == ref("EventBus")
    # The default tenant's source and every tenant's (voxflow.tenant.<tenant>).
    assert rule["EventPattern"] == {
        "source": [SOURCE_CLIENT, {"prefix": SOURCE_TENANT_PREFIX}],
        "detail-type": ["SynthesisRequested"],
    }
    (target,) = rule["Targets"]
    assert target["Arn"] == getatt("RequestsQueue")
    dead_letters = target["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0]
    assert props(translated, dead_letters)["MessageRetentionPeriod"] == 14 * 86400

    # EventBridge may send to both queues, and only on behalf of this rule.
    allowed: set[str] = set()
    for policy in resources_of(translated, "AWS::SQS::QueuePolicy").values():
        for statement in statements(policy["Properties"]["PolicyDocument"]):
            if statement["Principal"] == {"Service": "events.amazonaws.com"}:
                assert statement["Action"] == "sqs:SendMessage"
                assert statement["Condition"] == {
                    "ArnEquals": {"aws:SourceArn": getatt("RequestsRule")}
                }
                allowed.add(statement["Resource"]["Fn::GetAtt"][0])
    assert allowed == {"RequestsQueue", dead_letters}


def test_only_the_services_roles_may_publish_as_the_service(
    roles: dict[str, dict[str, Any]],
) -> None:
    writers = [f"{function_id}Role" for function_id in TERMINAL_WRITERS]
    for role, template in roles.items():
        (policy,) = resources_of(template, "AWS::Events::EventBusPolicy").values()
        properties = policy["Properties"]
        assert properties["EventBusName"] == ref("EventBus")
        statement = properties["Statement"]
        assert (statement["Effect"], statement["Principal"]) == ("Deny", "*"), role
        assert statement["Action"] == "events:PutEvents"
        assert statement["Resource"] == getatt("EventBus")
        condition = statement["Condition"]
        assert condition["StringEquals"] == {"events:source": SOURCE_SERVICE}
        exempt = [arn["Fn::GetAtt"][0] for arn in condition["ArnNotEquals"]["aws:PrincipalArn"]]
        # Exactly the roles that publish results: the functions', and the GPU workers'.
        expected = [*writers, "WorkerTaskRole"] if role == "primary" else writers
        assert exempt == expected, role
        for role_id in exempt:
            assert any(
                s["Action"] == "events:PutEvents" and getatt("EventBus") in as_list(s["Resource"])
                for s in role_statements(template, role_id)
            ), role_id


def test_tenant_publisher_policy_binds_a_principal_to_its_tenants_source(
    translated: dict[str, Any],
) -> None:
    policy_id = "TenantPublisherPolicy"
    # For the tenants' apps: no role of the stack holds it.
    for role_id in resources_of(translated, "AWS::IAM::Role"):
        assert policy_id not in stack_policies(translated, role_id), role_id
    found = {s["Sid"]: s for s in statements(props(translated, policy_id)["PolicyDocument"])}
    assert set(found) == {"PublishAsOwnTenant", "SendDirectRequests"}
    publish = found["PublishAsOwnTenant"]
    assert (publish["Effect"], publish["Action"]) == ("Allow", "events:PutEvents")
    assert publish["Resource"] == getatt("EventBus")
    # An IAM policy variable, not a CloudFormation one: the principal's own tag.
    assert publish["Condition"] == {
        "StringEquals": {
            "events:source": f"{SOURCE_TENANT_PREFIX}${{aws:PrincipalTag/voxflow-tenant}}",
            "events:detail-type": "SynthesisRequested",
        }
    }
    direct = found["SendDirectRequests"]
    assert (direct["Effect"], direct["Action"]) == ("Allow", "sqs:SendMessage")
    assert direct["Resource"] == getatt("RequestsQueue")
    assert direct["Condition"] == {"Null": {"aws:PrincipalTag/voxflow-tenant": "false"}}
    outputs = load_sam()["Outputs"]
    assert outputs["TenantPublisherPolicyArn"]["Value"] == ref(policy_id)


@pytest.mark.parametrize("logical_id", ["TenantsTable", "VoicesTable"])
def test_global_tables_match_their_create_functions(
    translated: dict[str, Any], roles: dict[str, dict[str, Any]], logical_id: str
) -> None:
    from voxflow.tenants import create_tenants_table
    from voxflow.voices.catalog import create_voices_table

    class Recorder:
        def create_table(self, **kwargs: Any) -> None:
            self.kwargs = kwargs

    recorder = Recorder()
    name = {"TenantsTable": "tenants", "VoicesTable": "voices"}[logical_id]
    {"tenants": create_tenants_table, "voices": create_voices_table}[name](recorder, name)
    resource = translated["Resources"][logical_id]
    # Global, like the jobs: IAM ids are account-wide; the secondary reads the replica.
    assert (resource["Type"], resource["Condition"]) == (
        "AWS::DynamoDB::GlobalTable",
        "CreatesTables",
    )
    table = resource["Properties"]
    assert table["TableName"] == {"Fn::Sub": f"${{AWS::StackName}}-{name}"}
    for field in ("KeySchema", "AttributeDefinitions", "BillingMode"):
        assert table[field] == recorder.kwargs[field], field
    assert table["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert [replica.get("Fn::If", [None])[0] for replica in table["Replicas"]] == [
        None,
        "IsPrimary",
    ]
    assert logical_id not in roles["secondary"]["Resources"]
    if logical_id == "VoicesTable":  # every function knows it (Globals); IAM says who reads
        for function_id in FUNCTIONS:
            variables = props(translated, function_id)["Environment"]["Variables"]
            assert variables["VOXFLOW_VOICES_TABLE"] == table["TableName"], function_id
        return
    # Only admission reads the tenants: plan (senders) and the API (signers, key hashes).
    for function_id in FUNCTIONS:
        variables = props(translated, function_id)["Environment"]["Variables"]
        admits = function_id in ("PlanFunction", "ApiFunction")
        expected = table["TableName"] if admits else None
        assert variables.get("VOXFLOW_TENANTS_TABLE") == expected, function_id


def test_lexicons_table_matches_create_lexicons_table(
    translated: dict[str, Any], roles: dict[str, dict[str, Any]]
) -> None:
    from voxflow.lexicons.store import create_lexicons_table

    class Recorder:
        def create_table(self, **kwargs: Any) -> None:
            self.kwargs = kwargs

    recorder = Recorder()
    create_lexicons_table(recorder, "lexicons")
    resource = translated["Resources"]["LexiconsTable"]
    # Global: a request the secondary takes over applies the same lexicons.
    assert (resource["Type"], resource["Condition"]) == (
        "AWS::DynamoDB::GlobalTable",
        "CreatesTables",
    )
    table = resource["Properties"]
    assert table["TableName"] == {"Fn::Sub": "${AWS::StackName}-lexicons"}
    for name in ("KeySchema", "AttributeDefinitions", "BillingMode"):
        assert table[name] == recorder.kwargs[name], name
    assert [replica.get("Fn::If", [None])[0] for replica in table["Replicas"]] == [
        None,
        "IsPrimary",
    ]
    assert "LexiconsTable" not in roles["secondary"]["Resources"]
    # Plan reads the lexicons; the API also serves Polly's lexicon routes (put, list,
    # delete); no other function touches them.
    managed = {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:Scan"}
    expected_actions = {"PlanFunction": {"dynamodb:GetItem"}, "ApiFunction": managed}
    for function_id in FUNCTIONS:
        pairs = _allowed(translated, function_id)
        lexicons = {action for action, resource in pairs if resource == _table("lexicons")}
        assert lexicons == expected_actions.get(function_id, set()), function_id
    for function_id in FUNCTIONS:
        variables = props(translated, function_id)["Environment"]["Variables"]
        expected = table["TableName"] if function_id in expected_actions else None
        assert variables.get("VOXFLOW_LEXICONS_TABLE") == expected, function_id


def test_event_source_mappings(translated: dict[str, Any]) -> None:
    mappings = resources_of(translated, "AWS::Lambda::EventSourceMapping")
    wired = {
        mapping["Properties"]["EventSourceArn"]["Fn::GetAtt"][0]: mapping["Properties"]
        for mapping in mappings.values()
    }
    assert set(wired) == set(CONSUMERS)
    for queue_id, function_id in CONSUMERS.items():
        mapping = wired[queue_id]
        assert mapping["FunctionName"] == ref(function_id)
        assert mapping["BatchSize"] == BATCH_SIZES[function_id]
        assert mapping["MaximumBatchingWindowInSeconds"] == BATCH_WINDOWS[function_id]
        assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    # In the primary the GPU workers consume ChunksQueue; SynthesizeFunction stands by.
    enabled = {
        function_id: mapping["Properties"].get("Enabled", True)
        for function_id, mapping in (
            (m["Properties"]["FunctionName"]["Ref"], m) for m in mappings.values()
        )
    }
    assert enabled["PlanFunction"] is True
    assert wired["ChunksQueue"]["Enabled"] == {"Fn::If": ["IsPrimary", False, True]}
    assert wired["LongChunksQueue"]["Enabled"] == {"Fn::If": ["IsPrimary", False, True]}
    # Long work is capped so it never takes all concurrency from the short lane.
    assert wired["LongChunksQueue"]["ScalingConfig"] == {
        "MaximumConcurrency": ref("LongChunksMaxConcurrency")
    }
    assert "ScalingConfig" not in wired["ChunksQueue"]
    # A failover's backlog (takeovers, their chunks) is capped so that new requests keep
    # the concurrency they need; RequestsQueue's own mapping is not.
    for queue_id in ("StandbyQueue", "RecoveryChunksQueue"):
        assert wired[queue_id]["ScalingConfig"] == {
            "MaximumConcurrency": ref("RecoveryMaxConcurrency")
        }
    assert wired["RecoveryChunksQueue"]["Enabled"] == {"Fn::If": ["IsPrimary", False, True]}
    assert "ScalingConfig" not in wired["RequestsQueue"]


def test_lane_parameters(sam: dict[str, Any]) -> None:
    parameters = sam["Parameters"]
    assert (parameters["ShortJobChunks"]["Default"], parameters["ShortJobChunks"]["MinValue"]) == (
        3,
        1,
    )
    concurrency = parameters["LongChunksMaxConcurrency"]
    # Lambda's ScalingConfig accepts 2..1000.
    assert (concurrency["Default"], concurrency["MinValue"], concurrency["MaxValue"]) == (
        50,
        2,
        1000,
    )
    # The long lane is the short one's twin.
    short, long = props(sam, "ChunksQueue"), props(sam, "LongChunksQueue")
    assert {k: v for k, v in short.items() if k != "RedrivePolicy"} == {
        k: v for k, v in long.items() if k != "RedrivePolicy"
    }
    assert long["RedrivePolicy"] == {
        "deadLetterTargetArn": getatt("LongChunksDLQ"),
        "maxReceiveCount": short["RedrivePolicy"]["maxReceiveCount"],
    }
    assert props(sam, "ChunksDLQ") == props(sam, "LongChunksDLQ")


def test_visibility_timeout_is_six_times_the_consumer_timeout(translated: dict[str, Any]) -> None:
    """AWS's rule for SQS event sources: >= 6x the function timeout (plus the window)."""
    for mapping in resources_of(translated, "AWS::Lambda::EventSourceMapping").values():
        queue_id = mapping["Properties"]["EventSourceArn"]["Fn::GetAtt"][0]
        function_id = mapping["Properties"]["FunctionName"]["Ref"]
        timeout = int(props(translated, function_id)["Timeout"])
        window = int(mapping["Properties"].get("MaximumBatchingWindowInSeconds", 0))
        visibility = int(props(translated, queue_id)["VisibilityTimeout"])
        print(f"{queue_id}: visibility {visibility} s >= 6 x {function_id} {timeout} s + {window}")
        assert visibility >= 6 * timeout + window, queue_id


def test_consumed_queues_redrive_to_their_dead_letter_queues(translated: dict[str, Any]) -> None:
    for function_id in CONSUMERS.values():
        variables = props(translated, function_id)["Environment"]["Variables"]
        # The handlers report a failure on the last attempt: they must know which it is.
        max_receive = int(variables["VOXFLOW_MAX_RECEIVE_COUNT"])
        for queue_id in (q for q, f in CONSUMERS.items() if f == function_id):
            queue = props(translated, queue_id)
            redrive = queue["RedrivePolicy"]
            assert redrive["maxReceiveCount"] == 3 == max_receive
            dlq_id = redrive["deadLetterTargetArn"]["Fn::GetAtt"][0]
            # A failover's queues share their siblings' DLQs (ops.redrive says where to).
            shared = {"StandbyQueue": "RequestsDLQ", "RecoveryChunksQueue": "LongChunksDLQ"}
            assert dlq_id == shared.get(queue_id, queue_id.replace("Queue", "DLQ"))
            dlq = props(translated, dlq_id)
            # A message keeps its first enqueue time in the DLQ: the DLQ must keep it longer.
            assert dlq["MessageRetentionPeriod"] == 14 * 86400
            assert dlq["MessageRetentionPeriod"] > queue.get("MessageRetentionPeriod", 345600)
            assert "RedrivePolicy" not in dlq


def test_every_queue_is_encrypted(translated: dict[str, Any]) -> None:
    for queue_id, queue in resources_of(translated, "AWS::SQS::Queue").items():
        assert queue["Properties"].get("SqsManagedSseEnabled") is True, queue_id


# ---------------------------------------------------------------------------------
# Storage
# ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("table_id", "model"), [("CacheTable", CacheEntry), ("JobsTable", Job)])
def test_table_matches_the_contract_and_its_model(
    translated: dict[str, Any], table_id: str, model: type[Model]
) -> None:
    notes = contract_resources()[table_id][1]
    match = re.search(r"hash key `(\w+)` \((\w)\); TTL attribute `(\w+)`", notes)
    assert match, notes
    hash_key, key_type, ttl = match.groups()

    table = props(translated, table_id)
    assert translated["Resources"][table_id]["Type"] == "AWS::DynamoDB::GlobalTable"
    assert translated["Resources"][table_id]["Condition"] == "CreatesTables"
    suffix = {"CacheTable": "cache", "JobsTable": "jobs"}[table_id]
    assert table["TableName"] == {"Fn::Sub": f"${{AWS::StackName}}-{suffix}"}
    assert table["KeySchema"] == [{"AttributeName": hash_key, "KeyType": "HASH"}]
    assert table["AttributeDefinitions"] == [{"AttributeName": hash_key, "AttributeType": key_type}]
    assert table["TimeToLiveSpecification"] == {"AttributeName": ttl, "Enabled": True}
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert table["SSESpecification"]["SSEEnabled"] is True
    # One replica here; the primary adds one in SecondaryRegion. Each keeps PITR.
    here, other = table["Replicas"]
    recovery = {"PointInTimeRecoveryEnabled": True}
    assert here == {"Region": ref("AWS::Region"), "PointInTimeRecoverySpecification": recovery}
    assert other["Fn::If"][0] == "IsPrimary"
    assert other["Fn::If"][1] == {
        "Region": ref("SecondaryRegion"),
        "PointInTimeRecoverySpecification": recovery,
    }
    assert other["Fn::If"][2] == ref("AWS::NoValue")

    # The PynamoDB model the handlers use agrees with the table.
    attributes = model.get_attributes()
    assert [(a.attr_name, a.attr_type) for a in attributes.values() if a.is_hash_key] == [
        (hash_key, key_type)
    ]
    assert [a.attr_name for a in attributes.values() if isinstance(a, TTLAttribute)] == [ttl]


def test_audit_table_matches_its_model(translated: dict[str, Any]) -> None:
    table = props(translated, "AuditTable")
    assert translated["Resources"]["AuditTable"]["Type"] == "AWS::DynamoDB::Table"
    assert "Condition" not in translated["Resources"]["AuditTable"]  # regional, every role
    assert table["TableName"] == {"Fn::Sub": "${AWS::StackName}-audit"}
    attributes = AuditRecord.get_attributes()
    (hash_key,) = [a for a in attributes.values() if a.is_hash_key]
    assert table["KeySchema"] == [{"AttributeName": hash_key.attr_name, "KeyType": "HASH"}]
    (ttl,) = [a.attr_name for a in attributes.values() if isinstance(a, TTLAttribute)]
    assert table["TimeToLiveSpecification"] == {"AttributeName": ttl, "Enabled": True}
    # The tenant-at index, as the model's index declares it.
    index = AuditRecord.by_tenant
    (declared,) = table["GlobalSecondaryIndexes"]
    assert declared["IndexName"] == index.Meta.index_name == TENANT_INDEX
    index_attributes = index._get_schema()
    model_keys = sorted(
        (
            {"AttributeName": k["AttributeName"], "KeyType": k["KeyType"]}
            for k in index_attributes["key_schema"]
        ),
        key=lambda key: key["KeyType"],  # HASH before RANGE, as DynamoDB lists them
    )
    assert declared["KeySchema"] == model_keys
    assert declared["Projection"] == {"ProjectionType": "ALL"}
    # Every key attribute is declared with the model's type (UTC datetimes are strings).
    types = {a.attr_name: a.attr_type for a in attributes.values()}
    assert {d["AttributeName"]: d["AttributeType"] for d in table["AttributeDefinitions"]} == {
        name: types[name] for name in ("request_id", "tenant", "at")
    }
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["SSESpecification"] == {"SSEEnabled": True}
    assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}


def test_quotas_table_matches_create_quotas_table(translated: dict[str, Any]) -> None:
    from voxflow.quotas import create_quotas_table

    class Recorder:
        def create_table(self, **kwargs: Any) -> None:
            self.kwargs = kwargs

    recorder = Recorder()
    create_quotas_table(recorder, "quotas")
    table = props(translated, "QuotasTable")
    assert translated["Resources"]["QuotasTable"]["Condition"] == "QuotasOn"
    assert table["KeySchema"] == recorder.kwargs["KeySchema"]
    assert table["AttributeDefinitions"] == recorder.kwargs["AttributeDefinitions"]
    assert table["BillingMode"] == recorder.kwargs["BillingMode"]
    # voxflow.quotas.bucket writes expires_at on every take.
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}


def test_control_parameters_and_their_defaults(sam: dict[str, Any]) -> None:
    parameters = sam["Parameters"]
    assert parameters["Quotas"]["Default"] == "reject"
    assert set(parameters["Quotas"]["AllowedValues"]) == {"off", "reject", "delay"}
    # A request longer than the characters burst is never admitted: the burst must
    # hold the longest text voxflow accepts.
    assert parameters["QuotaCharsBurst"]["Default"] >= EngineSettings().max_chars
    for name in ("QuotaCharsPerSecond", "QuotaRequestsPerSecond", "QuotaRequestsBurst"):
        assert parameters[name]["Default"] >= 1, name
    assert parameters["AuditText"]["Default"] == "0"
    assert parameters["FallbackAudio"]["Default"] == "0"
    assert parameters["PolicyFile"]["Default"] == ""
    variables = sam["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["VOXFLOW_AUDIT_TABLE"] == ref("AuditTable")
    assert variables["VOXFLOW_AUDIT_TEXT"] == ref("AuditText")
    assert variables["VOXFLOW_FALLBACK_AUDIO"] == ref("FallbackAudio")
    assert variables["VOXFLOW_QUOTA_CHARS_BURST"] == ref("QuotaCharsBurst")


def test_audio_bucket_is_private_encrypted_and_expires_chunks(translated: dict[str, Any]) -> None:
    bucket = props(translated, "AudioBucket")
    assert bucket["BucketName"] == {
        "Fn::Sub": "${AWS::StackName}-audio-${AWS::AccountId}-${AWS::Region}"
    }
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    noncurrent = [
        rule
        for rule in bucket["LifecycleConfiguration"]["Rules"]
        if "NoncurrentVersionExpiration" in rule
    ]
    assert [rule["Prefix"] for rule in noncurrent] == [""]
    assert set(bucket["PublicAccessBlockConfiguration"].values()) == {True}
    assert len(bucket["PublicAccessBlockConfiguration"]) == 4
    (encryption,) = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert encryption["ServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "aws:kms",
        "KMSMasterKeyID": getatt("AudioKey"),
    }
    assert encryption["BucketKeyEnabled"] is True
    key = props(translated, "AudioKey")
    assert key["EnableKeyRotation"] is True
    # The key policy lets no one outside the account in, and use goes through S3 only;
    # with EdgeDelivery, CloudFront decrypts for the one distribution named (OAC).
    for statement in statements(key["KeyPolicy"]):
        if statement["Principal"] == {"Service": "cloudfront.amazonaws.com"}:
            assert statement["Action"] == "kms:Decrypt"
            assert "AWS:SourceArn" in statement["Condition"]["StringEquals"]
            continue
        assert statement["Principal"] == {
            "AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}
        }
        if any(action in ("kms:Decrypt", "kms:Encrypt") for action in statement["Action"]):
            assert "kms:ViaService" in statement["Condition"]["StringEquals"]
    assert props(translated, "AudioKeyAlias") == {
        "AliasName": {"Fn::Sub": "alias/${AWS::StackName}-audio"},
        "TargetKeyId": ref("AudioKey"),
    }
    assert bucket["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    expiring = [
        rule
        for rule in bucket["LifecycleConfiguration"]["Rules"]
        if rule["Status"] == "Enabled" and "ExpirationInDays" in rule
    ]
    # Chunk audio expires after the parameter's days (chunks/ is where voxflow puts it),
    # long jobs' chunk texts after two (voxflow.store.job_texts); nothing else does.
    assert [(rule["Prefix"], rule["ExpirationInDays"]) for rule in expiring] == [
        (CHUNK_PREFIX, ref("ChunkRetentionDays")),
        (JOB_TEXTS_PREFIX, 2),
    ]

    policy = translated["Resources"]["AudioBucketPolicy"]
    assert policy["Properties"]["Bucket"] == ref("AudioBucket")
    deny, edge = statements(policy["Properties"]["PolicyDocument"])
    assert deny["Effect"] == "Deny"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert len(deny["Resource"]) == 2  # the bucket and its objects
    # EdgeDelivery: the one distribution reads results (audio/, fallback/), nothing else.
    assert edge["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert edge["Action"] == "s3:GetObject"
    assert edge["Resource"] == [
        {"Fn::Sub": "${AudioBucket.Arn}/audio/*"},
        {"Fn::Sub": "${AudioBucket.Arn}/fallback/*"},
    ]
    assert "AWS:SourceArn" in edge["Condition"]["StringEquals"]


# ---------------------------------------------------------------------------------
# IAM: least privilege
# ---------------------------------------------------------------------------------


def test_audio_replicates_to_the_peer_regions_bucket(roles: dict[str, dict[str, Any]]) -> None:
    for role, peer in (("primary", "SecondaryRegion"), ("secondary", "PrimaryRegion")):
        template = roles[role]
        replication = props(template, "AudioBucket")["ReplicationConfiguration"]
        assert replication["Role"] == getatt("AudioReplicationRole")
        destination = {
            "Fn::Sub": [
                "arn:${AWS::Partition}:s3:::${AWS::StackName}-audio-${AWS::AccountId}-${Peer}",
                {"Peer": ref(peer)},
            ]
        }
        rules = {rule["Filter"]["Prefix"]: rule for rule in replication["Rules"]}
        assert set(rules) == {AUDIO_PREFIX, CHUNK_PREFIX, VOICES_PREFIX}
        peer_key = {
            "Fn::Sub": [
                "arn:${AWS::Partition}:kms:${Peer}:${AWS::AccountId}:alias/${AWS::StackName}-audio",
                {"Peer": ref(peer)},
            ]
        }
        for rule in rules.values():
            assert rule["Status"] == "Enabled"
            assert rule["Destination"]["Bucket"] == destination
            # SSE-KMS objects replicate only when selected, re-encrypted with the peer's key.
            assert rule["SourceSelectionCriteria"] == {
                "SseKmsEncryptedObjects": {"Status": "Enabled"}
            }
            assert rule["Destination"]["EncryptionConfiguration"] == {"ReplicaKmsKeyID": peer_key}
        # Least privilege: read this bucket's two prefixes, write the peer's.
        allowed = {
            action
            for statement in role_statements(template, "AudioReplicationRole")
            for action in as_list(statement["Action"])
        }
        assert allowed == {
            "s3:GetReplicationConfiguration",
            "s3:ListBucket",
            "s3:GetObjectVersionForReplication",
            "s3:GetObjectVersionAcl",
            "s3:GetObjectVersionTagging",
            "s3:ReplicateObject",
            "s3:ReplicateDelete",
            "s3:ReplicateTags",
            "kms:Decrypt",
            "kms:Encrypt",
            "kms:GenerateDataKey",
        }
        kms = {
            statement["Sid"]: statement
            for statement in role_statements(template, "AudioReplicationRole")
            if str(statement["Action"]).startswith("['kms:") or statement["Action"] == "kms:Decrypt"
        }
        assert kms["DecryptSource"]["Resource"] == getatt("AudioKey")
        aliases = kms["EncryptReplicas"]["Condition"]["ForAnyValue:StringEquals"]
        assert aliases == {"kms:ResourceAliases": {"Fn::Sub": "alias/${AWS::StackName}-audio"}}


def test_no_iam_statement_allows_a_wildcard_action(translated: dict[str, Any]) -> None:
    documents = [
        (f"{role_id}.{policy['PolicyName']}", policy["PolicyDocument"])
        for role_id, role in resources_of(translated, "AWS::IAM::Role").items()
        for policy in role["Properties"].get("Policies", [])
    ]
    documents += [
        (policy_id, policy["Properties"]["PolicyDocument"])
        for policy_id, policy in resources_of(translated, "AWS::IAM::ManagedPolicy").items()
    ]
    checked = 0
    for owner, document in documents:
        for statement in statements(document):
            for action in as_list(statement.get("Action", [])):
                assert "*" not in action, f"{owner}: {action}"
            assert "NotAction" not in statement, owner
            if statement["Effect"] == "Allow" and statement["Resource"] == "*":
                actions = set(as_list(statement["Action"]))
                assert actions <= UNSCOPABLE_ACTIONS, f"{owner}: {statement}"
                if "cloudwatch:PutMetricData" in actions:  # scoped by namespace instead
                    assert statement["Condition"] == {
                        "StringEquals": {"cloudwatch:namespace": "voxflow"}
                    }
            checked += 1
    assert checked >= 10
    # The tenants' publisher policy: scoped actions on the service's own resources.
    for statement in statements(props(translated, "TenantPublisherPolicy")["PolicyDocument"]):
        assert statement["Resource"] != "*"
        assert statement["Condition"], statement["Sid"]
    assert not resources_of(translated, "AWS::IAM::Policy"), "check its statements too"


def test_each_statement_is_written_once(sam: dict[str, Any]) -> None:
    """A statement two roles need is a managed policy of the stack, attached to both."""
    written: dict[str, str] = {}
    for logical_id, resource in sam["Resources"].items():
        properties = resource.get("Properties", {})
        documents = [policy["PolicyDocument"] for policy in properties.get("Policies", [])]
        if resource["Type"] == "AWS::IAM::ManagedPolicy":
            documents.append(properties["PolicyDocument"])
        for document in documents:
            for statement in statements(document):
                unnamed = json.dumps(
                    {k: v for k, v in statement.items() if k != "Sid"}, sort_keys=True
                )
                assert unnamed not in written, (logical_id, written.get(unnamed))
                written[unnamed] = logical_id
    assert len(written) >= 20
    # Each shared policy is attached to more than one role.
    attached = [
        p for role_id in resources_of(sam, "AWS::IAM::Role") for p in stack_policies(sam, role_id)
    ]
    for policy_id in resources_of(sam, "AWS::IAM::ManagedPolicy"):
        if policy_id != "TenantPublisherPolicy":
            assert attached.count(policy_id) >= 2, policy_id


def test_function_roles_are_written_out_and_attach_only_this_stacks_policies(
    translated: dict[str, Any],
) -> None:
    """SAM's generated roles would attach AWSLambdaSQSQueueExecutionRole (any queue)."""
    roles = resources_of(translated, "AWS::IAM::Role")
    sam_roles = load_sam()["Resources"]
    for function_id in FUNCTIONS:
        role_id = function_role(translated, function_id)
        assert role_id == f"{function_id}Role"
        assert sam_roles[role_id]["Type"] == "AWS::IAM::Role"  # in template.yaml itself
        assert "Policies" not in props(load_sam(), function_id)
    for role_id, role in roles.items():
        attached = role["Properties"].get("ManagedPolicyArns", [])
        if role_id in AWS_MANAGED_POLICIES:
            policy = AWS_MANAGED_POLICIES[role_id]
            assert attached == [{"Fn::Sub": f"arn:${{AWS::Partition}}:iam::aws:policy/{policy}"}]
        else:
            # Refs to this stack's managed policies only (stack_policies checks their type).
            assert len(stack_policies(translated, role_id)) == len(attached), role_id


MAX_ATTACHED_POLICIES = 8  # IAM's default quota is 10 per role: room for an operator's two


@pytest.mark.parametrize("role", ROLES)
def test_no_role_attaches_more_than_eight_managed_policies(
    translated: dict[str, Any], role: str
) -> None:
    # Every optional policy on (FallbackAudio, workers, quotas, edge delivery): the most
    # any deployment attaches to one role.
    rendered = for_role(
        translated,
        role,
        WorkerImageUri=WORKER_IMAGE,
        PeerReady="true",
        FallbackAudio="1",
        Quotas="reject",
        EdgeDelivery="cloudfront",
    )
    counts = {
        role_id: len(role["Properties"].get("ManagedPolicyArns", []))
        for role_id, role in resources_of(rendered, "AWS::IAM::Role").items()
    }
    assert counts["PlanFunctionRole"] >= 7, counts  # the count is read, not skipped
    assert max(counts.values()) <= MAX_ATTACHED_POLICIES, counts


def _allowed(translated: dict[str, Any], function_id: str) -> list[tuple[str, str]]:
    """(action, resource) pairs a function's role allows, resources as text."""
    pairs: list[tuple[str, str]] = []
    for statement in role_statements(translated, function_role(translated, function_id)):
        assert statement["Effect"] == "Allow"
        for action in as_list(statement["Action"]):
            pairs.extend((action, str(resource)) for resource in as_list(statement["Resource"]))
    return pairs


def _table(name: str) -> str:
    arn = "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${AWS::StackName}"
    return str({"Fn::Sub": f"{arn}-{name}"})


CONSUME = {
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibility",
    "sqs:GetQueueAttributes",
}
# Who writes terminal events, and so audit outcomes and fallback results.
TERMINAL_WRITERS = ("PlanFunction", "SynthesizeFunction", "SweeperFunction")


def test_plan_claims_shared_chunks_and_synthesis_releases_them(translated: dict[str, Any]) -> None:
    claims = str(getatt("ChunkClaimsTable"))
    for function_id in FUNCTIONS:
        pairs = _allowed(translated, function_id)
        on_claims = {action for action, resource in pairs if resource == claims}
        expected = (
            {"dynamodb:UpdateItem", "dynamodb:DeleteItem"}
            if function_id in ("PlanFunction", "SynthesizeFunction")
            else set()
        )
        assert on_claims == expected, function_id


def test_each_function_reaches_exactly_its_resources(translated: dict[str, Any]) -> None:
    allowed = {function_id: _allowed(translated, function_id) for function_id in FUNCTIONS}
    for function_id, pairs in allowed.items():
        actions = {action for action, _ in pairs}
        # Logs: its own log group only; traces.
        logs = {resource for action, resource in pairs if action.startswith("logs:")}
        assert logs == {str(getatt(f"{function_id}LogGroup"))}, function_id
        assert {"xray:PutTraceSegments", "xray:PutTelemetryRecords"} <= actions
        # SQS event sources: exactly its own queue, if it has one. (The API reads every
        # queue's depth and consumes none: test_the_api_reaches_the_cache_...)
        consume = CONSUME - ({"sqs:GetQueueAttributes"} if function_id == "ApiFunction" else set())
        consumed = {resource for action, resource in pairs if action in consume}
        queues = {str(getatt(q)) for q, consumer in CONSUMERS.items() if consumer == function_id}
        assert consumed == queues, function_id
        for action in consume:
            assert {resource for a, resource in pairs if a == action} == queues, function_id
        assert not [a for a in actions if a.startswith("s3:") and "Delete" in a]
        # Replies go only to queues and buses named with the reply prefixes.
        for action, resource in pairs:
            if action in ("sqs:SendMessage", "sqs:GetQueueUrl") and "Queue'" not in resource:
                assert resource.endswith(":${ReplyQueuePrefix}*'}"), resource
            if action == "events:PutEvents" and "EventBus" not in resource:
                assert resource.endswith("event-bus/${ReplyBusPrefix}*'}"), resource
        publishes = any(
            action == "events:PutEvents" and resource == str(getatt("EventBus"))
            for action, resource in pairs
        )
        # The API too, with its tenants' sources only (test_the_api_reaches_...).
        assert publishes, function_id

    for function_id in TERMINAL_WRITERS:
        pairs = allowed[function_id]
        actions = {action for action, _ in pairs}
        assert {"dynamodb:GetItem", "dynamodb:UpdateItem"} <= actions
        for table in ("cache", "jobs"):
            assert any(resource == _table(table) for _, resource in pairs), function_id
        # Audio objects: read and write under voxflow's two prefixes, and the busy clip.
        for prefix in (CHUNK_PREFIX, AUDIO_PREFIX, "fallback/"):
            for action in ("s3:GetObject", "s3:PutObject"):
                assert (action, str({"Fn::Sub": f"${{AudioBucket.Arn}}/{prefix}*"})) in pairs
        # SSE-KMS: a data key to write, decrypt to read (presigned GETs too).
        assert ("kms:Decrypt", str(getatt("AudioKey"))) in pairs
        assert ("kms:GenerateDataKey", str(getatt("AudioKey"))) in pairs
        # Audit: each updates its half of the record; nobody deletes or scans it.
        audit = {action for action, resource in pairs if resource == str(getatt("AuditTable"))}
        assert audit == {"dynamodb:GetItem", "dynamodb:UpdateItem"}, function_id

    # Only admission (plan, the API) takes quota tokens, with a read (plan's with the cache
    # entries, in one BatchGetItem) and a conditional put.
    admitters = ("PlanFunction", "ApiFunction")
    taking = {"dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:PutItem"}
    for function_id, pairs in allowed.items():
        quotas = {action for action, resource in pairs if resource == str(getatt("QuotasTable"))}
        expected = taking if function_id in admitters else set()
        assert quotas == expected, function_id

    # Plan and the sweeper queue chunk tasks, on every lane; synthesis sends again the
    # tasks it parks and those it hands back to a shared chunk's waiters.
    for lane in [getatt("ChunksQueue"), getatt("LongChunksQueue"), getatt("RecoveryChunksQueue")]:
        chunk_senders = [
            function_id
            for function_id, pairs in allowed.items()
            if ("sqs:SendMessage", str(lane)) in pairs
        ]
        assert chunk_senders == ["PlanFunction", "SynthesizeFunction", "SweeperFunction"], lane
    # A long job's chunk texts (voxflow.store.job_texts): plan writes them, the sweeper
    # reads them, nothing else touches them.
    texts = str({"Fn::Sub": f"${{AudioBucket.Arn}}/{JOB_TEXTS_PREFIX}*"})
    job_texts = {
        (function_id, action)
        for function_id, pairs in allowed.items()
        for action, resource in pairs
        if resource == texts
    }
    assert job_texts == {("PlanFunction", "s3:PutObject"), ("SweeperFunction", "s3:GetObject")}
    # The sweeper scans the jobs table; the API the lexicons (ListLexicons, at most
    # 100 items); nothing else scans.
    scans = {
        (function_id, resource)
        for function_id, pairs in allowed.items()
        for action, resource in pairs
        if action == "dynamodb:Scan"
    }
    assert scans == {("SweeperFunction", _table("jobs")), ("ApiFunction", _table("lexicons"))}

    # Only admission reads the tenant bindings (and the API's key hashes), and only reads.
    for function_id, pairs in allowed.items():
        tenants = {action for action, resource in pairs if resource == _table("tenants")}
        assert tenants == ({"dynamodb:GetItem"} if function_id in admitters else set())
    # The canary publishes as its own tenant only (voxflow.health.canary.TENANT).
    (canary,) = [
        s for s in role_statements(translated, "HealthFunctionRole") if s["Sid"] == "PublishCanary"
    ]
    assert canary["Condition"] == {"StringEquals": {"events:source": request_source(TENANT)}}

    # Plan re-queues standby requests and reads the primary's health alarm.
    plan = allowed["PlanFunction"]
    assert ("sqs:SendMessage", str(getatt("RequestsQueue"))) in plan
    alarm = (
        "arn:${AWS::Partition}:cloudwatch:${PrimaryRegion}:${AWS::AccountId}:alarm:"
        "${AWS::StackName}-primary-health"
    )
    assert ("cloudwatch:DescribeAlarms", str({"Fn::Sub": alarm})) in plan


def test_task_outputs_and_topics_stay_under_their_prefixes(translated: dict[str, Any]) -> None:
    """Polly's synthesis tasks (docs/api.md): the terminal writers put objects and publish
    notifications under the deployment's prefixes only, and nothing else does."""
    for function_id in FUNCTIONS:
        pairs = _allowed(translated, function_id)
        outputs = {r for a, r in pairs if a == "s3:PutObject" and "AudioBucket" not in r}
        topics = {r for a, r in pairs if a == "sns:Publish"}
        writes = function_id in TERMINAL_WRITERS
        bucket = "arn:${AWS::Partition}:s3:::${OutputBucketPrefix}*/*"
        assert outputs == ({str({"Fn::Sub": bucket})} if writes else set()), function_id
        topic = "arn:${AWS::Partition}:sns:${AWS::Region}:${AWS::AccountId}:${ReplyTopicPrefix}*"
        assert topics == ({str({"Fn::Sub": topic})} if writes else set()), function_id


def test_the_api_reaches_the_cache_audio_audit_admission_and_health_only(
    translated: dict[str, Any],
) -> None:
    # The API: the cache (read, count hits, record misses), audio, audit; the jobs table
    # read only, and the bus with a request's sources only (synthesis tasks); of the
    # queues, the stack's own depths only (GET /v1/health).
    api = _allowed(translated, "ApiFunction")
    cache = {action for action, resource in api if resource == _table("cache")}
    assert cache == {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"}
    jobs = {action for action, resource in api if resource == _table("jobs")}
    assert jobs == {"dynamodb:GetItem", "dynamodb:BatchGetItem"}
    tasks = {action for action, resource in api if resource.startswith(_table("tasks")[:-2])}
    assert tasks == {
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:DeleteItem",
        "dynamodb:Query",
    }
    assert {(a, r) for a, r in api if a.startswith("events:")} == {
        ("events:PutEvents", str(getatt("EventBus")))
    }
    (publish,) = [
        s
        for s in role_statements(translated, "ApiFunctionRole")
        if s["Sid"] == "PublishTaskRequests"
    ]
    sources = publish["Condition"]["StringLike"]["events:source"]
    assert sorted(sources) == [SOURCE_CLIENT, f"{SOURCE_TENANT_PREFIX}*"]
    buckets = {(a, r) for a, r in api if a == "s3:ListBucket" and "AudioBucket" not in r}
    assert buckets == {
        ("s3:ListBucket", str({"Fn::Sub": "arn:${AWS::Partition}:s3:::${OutputBucketPrefix}*"}))
    }
    queues = {(a, r) for a, r in api if a.startswith("sqs:")}
    assert queues == {("sqs:GetQueueAttributes", str(getatt(queue))) for queue in QUEUES}
    # ... and the function is told exactly those queues, labelled, DLQs as such.
    watched = translated["Resources"]["ApiFunction"]["Properties"]["Environment"]["Variables"][
        "VOXFLOW_API_WATCHED_QUEUES"
    ]["Fn::Sub"]
    labels = dict(pair.split("=") for pair in watched.split(","))
    assert sorted(labels.values()) == sorted(f"${{{queue}}}" for queue in QUEUES)
    assert {label for label in labels if label.endswith("-dlq")} == {
        label for label, ref in labels.items() if ref.endswith("DLQ}")
    }
    for action in ("s3:GetObject", "s3:PutObject"):
        assert (action, str({"Fn::Sub": f"${{AudioBucket.Arn}}/{AUDIO_PREFIX}*"})) in api
    audit = {action for action, resource in api if resource == str(getatt("AuditTable"))}
    assert audit == {"dynamodb:GetItem", "dynamodb:UpdateItem"}
    # GET /v1/health reads the primary's health alarm, and no other alarm; metrics it
    # reads (the queues' ages, the hit ratio), never puts.
    alarm = (
        "arn:${AWS::Partition}:cloudwatch:${PrimaryRegion}:${AWS::AccountId}:alarm:"
        "${AWS::StackName}-primary-health"
    )
    watched = {(a, r) for a, r in api if a.startswith("cloudwatch:")}
    assert watched == {
        ("cloudwatch:DescribeAlarms", str({"Fn::Sub": alarm})),
        ("cloudwatch:GetMetricData", "*"),
    }


def test_only_synthesis_and_planning_read_voices_and_nobody_writes_them(
    translated: dict[str, Any],
) -> None:
    """Whoever keys or synthesizes a request (the API too) reads the voice catalog and its
    files, and only reads them: `voxflow voices` (an operator's credentials) writes."""
    voice_readers = ("PlanFunction", "SynthesizeFunction", "SweeperFunction", "ApiFunction")
    voice_files = str({"Fn::Sub": f"${{AudioBucket.Arn}}/{VOICES_PREFIX}*"})
    for function_id in FUNCTIONS:
        pairs = _allowed(translated, function_id)
        catalog = {action for action, resource in pairs if resource == _table("voices")}
        files = {action for action, resource in pairs if resource == voice_files}
        reads = function_id in voice_readers
        assert catalog == ({"dynamodb:GetItem"} if reads else set()), function_id
        assert files == ({"s3:GetObject"} if reads else set()), function_id


def test_controls_are_conditional_on_their_parameters(
    translated: dict[str, Any], roles: dict[str, dict[str, Any]]
) -> None:
    """Quotas off: no table, no variable, no permission; fallback off: no fallback/ access."""
    assert "QuotasTable" in roles["standalone"]["Resources"]
    off = for_role(translated, "standalone", Quotas="off", FallbackAudio="0", PolicyFile="")
    assert "QuotasTable" not in off["Resources"]
    variables = props(off, "PlanFunction")["Environment"]["Variables"]
    for name in ("VOXFLOW_QUOTAS_TABLE", "VOXFLOW_QUOTA_MODE", "VOXFLOW_POLICY_FILE"):
        assert name not in variables
    pairs = _allowed(off, "PlanFunction")
    assert not [resource for _, resource in pairs if "QuotasTable" in resource]
    assert not [resource for _, resource in pairs if "fallback/" in resource]
    on = for_role(translated, "standalone", PolicyFile="/opt/rules.txt")
    variables = props(on, "PlanFunction")["Environment"]["Variables"]
    assert variables["VOXFLOW_QUOTAS_TABLE"] == ref("QuotasTable")
    assert variables["VOXFLOW_QUOTA_MODE"] == ref("Quotas")
    assert variables["VOXFLOW_POLICY_FILE"] == ref("PolicyFile")


def test_sweeper_runs_every_five_minutes_in_every_role(roles: dict[str, dict[str, Any]]) -> None:
    for role, template in roles.items():
        rules = {
            rule_id: rule["Properties"]
            for rule_id, rule in resources_of(template, "AWS::Events::Rule").items()
            if any(
                target["Arn"] == getatt("SweeperFunction")
                for target in rule["Properties"].get("Targets", [])
            )
        }
        assert [rule["ScheduleExpression"] for rule in rules.values()] == ["rate(5 minutes)"], role
        sweeper = props(template, "SweeperFunction")
        assert sweeper["Handler"] == "app.handler"
        # Under the schedule's period, so runs never overlap; one at a time.
        assert int(sweeper["Timeout"]) < 300
        assert sweeper["ReservedConcurrentExecutions"] == 1
        variables = sweeper["Environment"]["Variables"]
        assert variables["VOXFLOW_SWEEP_OLDER_THAN_S"] == "900"
        assert variables["VOXFLOW_JOBS_TABLE"] == {"Fn::Sub": "${AWS::StackName}-jobs"}
    assert (ROOT / "functions" / "sweeper" / "app.py").is_file()


def test_every_checkov_skip_says_why(sam: dict[str, Any]) -> None:
    """checkov skips live only on resources in template.yaml, each with its reason."""
    skips = [
        (logical_id, skip)
        for logical_id, resource in sam["Resources"].items()
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", [])
    ]
    assert skips
    for logical_id, skip in skips:
        assert set(skip) == {"id", "comment"}, logical_id
        assert re.fullmatch(r"CKV2?_AWS_\d+", skip["id"]), (logical_id, skip)
        assert len(skip["comment"].split()) >= 8, (logical_id, skip)
    assert "checkov" not in sam.get("Metadata", {})  # no template-wide skips
    # Each reason is written once; resources skipping a check for it share it (YAML aliases).
    text = TEMPLATE.read_text(encoding="utf-8")
    for logical_id, skip in skips:
        assert text.count(skip["comment"]) == 1, (logical_id, skip["id"])


# ---------------------------------------------------------------------------------
# Two regions: health, the global endpoint, GPU workers (docs/regions.md)
# ---------------------------------------------------------------------------------


def test_health_alarms_are_ones_route_53_can_watch(translated: dict[str, Any]) -> None:
    """Route 53 takes alarms on one standard-resolution metric with a plain statistic."""
    checks = resources_of(translated, "AWS::Route53::HealthCheck")
    watched = {
        check["Properties"]["HealthCheckConfig"]["AlarmIdentifier"]["Name"]["Ref"]
        for check in checks.values()
        if check["Properties"]["HealthCheckConfig"]["Type"] == "CLOUDWATCH_METRIC"
    }
    assert watched == {"HeartbeatAlarm", "CanaryAlarm"}
    for alarm_id in watched:
        alarm = props(translated, alarm_id)
        assert "Metrics" not in alarm
        assert alarm["Namespace"] == "voxflow"
        assert alarm["Dimensions"] == [{"Name": "Region", "Value": ref("AWS::Region")}]
        assert alarm["Statistic"] in {"Average", "Minimum", "Maximum", "Sum", "SampleCount"}
        assert alarm["Period"] >= 60
    calculated = props(translated, "PrimaryHealthCheck")["HealthCheckConfig"]
    assert calculated["Type"] == "CALCULATED"
    assert calculated["HealthThreshold"] == len(calculated["ChildHealthChecks"]) == 2
    # The contract's alarm says the same as the calculated check, in one alarm.
    health = props(translated, "PrimaryHealthAlarm")
    assert health["AlarmName"] == {"Fn::Sub": "${AWS::StackName}-primary-health"}
    metrics = {query["Id"]: query for query in health["Metrics"]}
    names = {q["MetricStat"]["Metric"]["MetricName"] for q in metrics.values() if "MetricStat" in q}
    assert names == {"WorkerHeartbeat", "CanarySuccess"}
    for alarm_id in ("PrimaryHealthAlarm", *watched):
        alarm = props(translated, alarm_id)
        assert alarm["TreatMissingData"] == "breaching", alarm_id
        assert (alarm["EvaluationPeriods"], alarm["DatapointsToAlarm"]) == (2, 2), alarm_id
        assert alarm["ComparisonOperator"] == "LessThanThreshold"


def test_global_endpoint_fails_over_on_the_health_check(translated: dict[str, Any]) -> None:
    endpoint = props(translated, "GlobalEndpoint")
    failover = endpoint["RoutingConfig"]["FailoverConfig"]
    assert failover["Primary"]["HealthCheck"] == {
        "Fn::Sub": "arn:${AWS::Partition}:route53:::healthcheck/${PrimaryHealthCheck}"
    }
    assert failover["Secondary"]["Route"] == ref("SecondaryRegion")
    assert endpoint["ReplicationConfig"] == {"State": "ENABLED"}
    buses = [bus["EventBusArn"] for bus in endpoint["EventBuses"]]
    assert buses[0] == getatt("EventBus")
    secondary_bus = (
        "arn:${AWS::Partition}:events:${SecondaryRegion}:${AWS::AccountId}:event-bus/"
        "${AWS::StackName}-bus"
    )
    assert buses[1] == {"Fn::Sub": secondary_bus}
    role = endpoint["RoleArn"]["Fn::GetAtt"][0]
    (statement,) = role_statements(translated, role)
    assert statement["Action"] == "events:PutEvents"
    assert {"Fn::Sub": secondary_bus} in statement["Resource"]


def test_worker_task_runs_like_synthesize_function(roles: dict[str, dict[str, Any]]) -> None:
    translated = roles["primary"]  # conditions applied: the controls' variables are set
    (container,) = props(translated, "WorkerTaskDefinition")["ContainerDefinitions"]
    assert container["ResourceRequirements"] == [{"Type": "GPU", "Value": "1"}]
    assert container["HealthCheck"]["Command"] == [
        "CMD",
        "python",
        "-m",
        "voxflow.worker",
        "--check-ready",
    ]
    environment = {item["Name"]: item["Value"] for item in container["Environment"]}
    functions = props(translated, "SynthesizeFunction")["Environment"]["Variables"]
    assert functions.items() <= environment.items()
    assert environment["VOXFLOW_CHUNKS_QUEUE_URL"] == ref("ChunksQueue")
    assert environment["VOXFLOW_LONG_CHUNKS_QUEUE_URL"] == ref("LongChunksQueue")
    assert environment["VOXFLOW_RECOVERY_CHUNKS_QUEUE_URL"] == ref("RecoveryChunksQueue")
    # The task role consumes the chunk lanes and nothing else of SQS but replies.
    statements = {s["Sid"]: s for s in role_statements(translated, "WorkerTaskRole")}
    assert statements["ConsumeChunkTasks"]["Resource"] == [
        getatt("ChunksQueue"),
        getatt("LongChunksQueue"),
        getatt("RecoveryChunksQueue"),
    ]
    assert set(statements["ConsumeChunkTasks"]["Action"]) == {
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:ChangeMessageVisibility",
        "sqs:GetQueueAttributes",
    }


def test_the_worker_fleet_is_one_section_of_its_own(sam: dict[str, Any]) -> None:
    """Not a nested application (docs/deploy.md), so kept apart in template.yaml itself:
    the resources named Worker* are the last ones, together, and all need RunsWorkers."""
    logical_ids = list(sam["Resources"])
    fleet = [lid for lid in logical_ids if lid.startswith("Worker")]
    assert fleet == logical_ids[-len(fleet) :]
    assert set(fleet) >= WORKERS
    conditional = {
        lid for lid, r in sam["Resources"].items() if r.get("Condition") == "RunsWorkers"
    }
    assert conditional == set(fleet)


def test_workers_scale_on_backlog_per_task(translated: dict[str, Any]) -> None:
    policy = props(translated, "WorkerScalingPolicy")
    assert policy["PolicyType"] == "TargetTrackingScaling"
    tracking = policy["TargetTrackingScalingPolicyConfiguration"]
    assert tracking["TargetValue"] == ref("BacklogPerTaskTarget")
    queries = {q["Id"]: q for q in tracking["CustomizedMetricSpecification"]["Metrics"]}
    # Both lanes' visible messages count as backlog.
    for query_id, queue_id in (
        ("short_backlog", "ChunksQueue"),
        ("long_backlog", "LongChunksQueue"),
    ):
        backlog = queries[query_id]["MetricStat"]["Metric"]
        assert (backlog["Namespace"], backlog["MetricName"]) == (
            "AWS/SQS",
            "ApproximateNumberOfMessagesVisible",
        )
        assert backlog["Dimensions"] == [
            {"Name": "QueueName", "Value": getatt(queue_id, "QueueName")}
        ]
    tasks = queries["tasks"]["MetricStat"]["Metric"]
    assert (tasks["Namespace"], tasks["MetricName"]) == (
        "ECS/ContainerInsights",
        "RunningTaskCount",
    )
    returned = [q for q in queries.values() if q.get("ReturnData")]
    assert [q["Id"] for q in returned] == ["backlog_per_task"]
    assert "short_backlog" in returned[0]["Expression"]
    assert "long_backlog" in returned[0]["Expression"]
    assert "tasks" in returned[0]["Expression"]


CONTAINER = ROOT / "infra" / "container"


def test_gpu_image_pins_are_exact_and_its_copies_exist() -> None:
    lines = [
        line.strip().removesuffix(" \\")
        for line in (CONTAINER / "requirements-gpu.txt").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.lstrip().startswith(("#", "--hash="))
    ]
    pins = dict(line.split("==") for line in lines)
    assert all(re.fullmatch(r"[A-Za-z0-9._-]+==[0-9][A-Za-z0-9.]*", line) for line in lines)
    assert "onnxruntime-gpu" in pins
    assert "onnxruntime" not in pins  # --no-deps keeps piper's CPU onnxruntime out
    # The same releases as the local venv and the layers (requirements.lock).
    locked = {
        name.lower().replace("_", "-"): version.split()[0]  # before the hashes' " \\"
        for name, _, version in (
            line.partition("==")
            for line in (ROOT / "requirements.lock").read_text(encoding="utf-8").splitlines()
            if "==" in line
        )
    }
    for name, version in pins.items():
        expected = locked["onnxruntime"] if name == "onnxruntime-gpu" else locked[name]
        assert version == expected, name

    dockerfile = (CONTAINER / "Dockerfile").read_text(encoding="utf-8")
    copies = re.findall(r"^COPY\s+(\S+)\s+\S+$", dockerfile, re.M)
    assert len(copies) >= 3
    for source in copies:
        assert (ROOT / source).exists(), source
    assert "pip install --no-deps --require-hashes -r" in dockerfile
    assert 'CMD ["python", "-m", "voxflow.worker"]' in dockerfile
    assert "--check-ready" in dockerfile.split("HEALTHCHECK", 1)[1]


def test_api_routes_reach_the_function_which_checks_sigv4_and_bearer_keys(
    translated: dict[str, Any],
) -> None:
    """docs/api.md: no route has an API Gateway authorizer. Polly's carry SigV4 scoped to
    `polly`, which the IAM authorizer refuses (it takes `execute-api`), so the function
    checks them against the keys voxflow issued; OpenAI's carry a bearer key it checks."""
    paths = props(translated, "SpeechApi")["Body"]["paths"]
    routes = {
        f"{method.upper()} {path}": "".join(
            name for requirement in operation.get("security", []) for name in requirement
        )
        or "NONE"
        for path, operations in paths.items()
        for method, operation in operations.items()
    }
    assert set(routes.values()) == {"NONE"}
    assert set(routes) == {
        "POST /v1/speech",
        "GET /v1/voices",
        "PUT /v1/lexicons/{LexiconName}",
        "GET /v1/lexicons/{LexiconName}",
        "GET /v1/lexicons",
        "DELETE /v1/lexicons/{LexiconName}",
        "POST /v1/synthesisTasks",
        "GET /v1/synthesisTasks/{TaskId}",
        "GET /v1/synthesisTasks",
        "POST /v1/audio/speech",
        "GET /v1/models",
        "GET /v1/audio/voices",
        "GET /v1/health",
        "GET /console",
        "GET /console/{name}",
    }
    # Polly's routes are botocore's URIs, method for method.
    contract = polly_contract().routes
    for operation in ("SynthesizeSpeech", "DescribeVoices", *LEXICON_OPERATIONS):
        method, uri = contract[operation]
        assert f"{method} {uri}" in routes, operation
    # The function reads the issued keys' secrets under the prefix it is given, and only
    # those; the CLI writes them under the same prefix.
    variables = props(translated, "ApiFunction")["Environment"]["Variables"]
    prefix = "${AWS::StackName}/api-sigv4/"
    assert variables["VOXFLOW_API_SIGV4_SECRET_PREFIX"] == {"Fn::Sub": prefix}
    assert sigv4_prefix(argparse.Namespace(stack="voxflow")) == "voxflow/api-sigv4/"
    assert variables["VOXFLOW_ACCOUNT_ID"] == ref("AWS::AccountId")
    (policy,) = props(translated, "ApiFunctionRole")["Policies"]
    (read,) = [st for st in policy["PolicyDocument"]["Statement"] if "secretsmanager" in str(st)]
    assert read["Action"] == "secretsmanager:GetSecretValue"
    assert read["Resource"]["Fn::Sub"].endswith(f":secret:{prefix}*")
    function = props(translated, "ApiFunction")
    assert function["Handler"] == "app.handler"
    assert int(function["Timeout"]) < 30  # API Gateway's integration limit
    assert (ROOT / "functions" / "api" / "app.py").is_file()
    (stage,) = resources_of(translated, "AWS::ApiGatewayV2::Stage").values()
    log_format = stage["Properties"]["AccessLogSettings"]["Format"]
    assert "$context.requestId" in log_format
    assert "body" not in log_format.lower()  # never the text
    # Filled only by an IAM authorizer, which the API has not: the function logs who.
    assert "$context.identity" not in log_format


# ---------------------------------------------------------------------------------
# Edge delivery (EdgeDelivery cloudfront; docs/regions.md, docs/deploy.md)
# ---------------------------------------------------------------------------------


def _rendered(role: str, **overrides: str) -> dict[str, Any]:
    """The template as CloudFormation creates it for ``role`` (infra/ci/render_templates)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "render_templates", ROOT / "infra" / "ci" / "render_templates.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rendered: dict[str, Any] = module.render(role, **overrides)
    return rendered


EDGE_RESOURCES = {
    "EdgePublicKey",
    "EdgeKeyGroup",
    "EdgeOriginAccessControl",
    "EdgeAudioCachePolicy",
    "EdgeDistribution",
}


def test_the_primary_owns_the_distribution_and_fails_over_to_the_secondarys_bucket() -> None:
    primary = _rendered("primary")
    assert set(primary["Resources"]) >= EDGE_RESOURCES
    config = props(primary, "EdgeDistribution")["DistributionConfig"]
    origins = {origin["Id"]: origin for origin in config["Origins"]}
    assert origins["AudioPrimary"]["DomainName"] == {
        "Fn::Sub": "${AWS::StackName}-audio-${AWS::AccountId}-${AWS::Region}"
        ".s3.${AWS::Region}.${AWS::URLSuffix}"
    }
    assert "${SecondaryRegion}" in origins["AudioSecondary"]["DomainName"]["Fn::Sub"]
    for origin in origins.values():  # origin access control, not a public bucket
        assert origin["OriginAccessControlId"] == getatt("EdgeOriginAccessControl", "Id")
        assert origin["S3OriginConfig"] == {"OriginAccessIdentity": ""}
    (group,) = config["OriginGroups"]["Items"]
    assert [m["OriginId"] for m in group["Members"]["Items"]] == ["AudioPrimary", "AudioSecondary"]
    assert set(group["FailoverCriteria"]["StatusCodes"]["Items"]) == {403, 404, 500, 502, 503, 504}
    behavior = config["DefaultCacheBehavior"]
    assert behavior["TargetOriginId"] == group["Id"]
    assert behavior["TrustedKeyGroups"] == [ref("EdgeKeyGroup")]  # signed URLs only
    assert behavior["ViewerProtocolPolicy"] == "https-only"
    assert props(primary, "EdgePublicKey")["PublicKeyConfig"]["EncodedKey"] == ref(
        "EdgePublicKeyPem"
    )
    cache = props(primary, "EdgeAudioCachePolicy")["CachePolicyConfig"]
    forwarded = cache["ParametersInCacheKeyAndForwardedToOrigin"]
    assert forwarded["QueryStringsConfig"] == {"QueryStringBehavior": "none"}
    assert cache["DefaultTTL"] >= 86400


def test_a_standalone_stack_owns_one_origin_and_a_secondary_none() -> None:
    standalone = _rendered("standalone")
    config = props(standalone, "EdgeDistribution")["DistributionConfig"]
    assert [origin["Id"] for origin in config["Origins"]] == ["AudioPrimary"]
    assert "OriginGroups" not in config
    assert config["DefaultCacheBehavior"]["TargetOriginId"] == "AudioPrimary"
    secondary = _rendered("secondary")
    assert not EDGE_RESOURCES & set(secondary["Resources"])
    # The secondary signs for the primary's distribution, which may read its bucket.
    policy = props(secondary, "AudioBucketPolicy")["PolicyDocument"]
    (edge,) = [s for s in statements(policy) if s.get("Sid") == "EdgeDistributionReadsAudio"]
    assert edge["Condition"]["StringEquals"]["AWS:SourceArn"] == {
        "Fn::Sub": "arn:${AWS::Partition}:cloudfront::${AWS::AccountId}"
        ":distribution/${EdgeDistributionId}"
    }


def test_without_edge_delivery_no_role_has_edge_resources_or_grants() -> None:
    for role in ("standalone", "primary", "secondary"):
        rendered = _rendered(role, EdgeDelivery="off")
        assert not EDGE_RESOURCES & set(rendered["Resources"]), role
        policy = props(rendered, "AudioBucketPolicy")["PolicyDocument"]
        assert [s["Sid"] for s in statements(policy)] == ["DenyInsecureTransport"], role


# ---------------------------------------------------------------------------------
# One hostname for both regions' APIs (ApiDomainName; docs/api.md, docs/failover.md)
# ---------------------------------------------------------------------------------

API_DOMAIN = {
    "ApiDomainName": "speech.example.com",
    "ApiHostedZoneId": "Z0123456789ABCDEFGHIJ",
    "ApiCertificateArn": (
        "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-0000-4000-8000-000000000000"
    ),
}
API_DOMAIN_RESOURCES = {
    "ApiDomain",
    "ApiDomainMapping",
    "ApiEndpointHealthCheck",
    "ApiPrimaryHealthCheck",
    "ApiDomainRecord",
}


@pytest.mark.parametrize("role", ["standalone", "primary", "secondary"])
def test_without_a_domain_the_api_has_no_domain_record_or_health_check(role: str) -> None:
    rendered = _rendered(role, ApiDomainName="", ApiHostedZoneId="", ApiCertificateArn="")
    assert not API_DOMAIN_RESOURCES & set(rendered["Resources"])
    assert "ApiDomainUrl" not in rendered["Outputs"]
    # A domain needs all three parameters: two of them create nothing either.
    partial = _rendered(role, **{**API_DOMAIN, "ApiCertificateArn": ""})
    assert not API_DOMAIN_RESOURCES & set(partial["Resources"])


def test_the_primarys_api_record_is_primary_and_watched_by_its_endpoint_and_region() -> None:
    primary = _rendered("primary", **API_DOMAIN)
    assert set(primary["Resources"]) >= API_DOMAIN_RESOURCES
    domain = props(primary, "ApiDomain")
    assert domain["DomainName"] == ref("ApiDomainName")
    (configuration,) = domain["DomainNameConfigurations"]
    assert configuration["EndpointType"] == "REGIONAL"
    assert configuration["CertificateArn"] == ref("ApiCertificateArn")
    mapping = props(primary, "ApiDomainMapping")
    assert mapping["ApiId"] == ref("SpeechApi")
    assert mapping["DomainName"] == ref("ApiDomain")
    assert "ApiMappingKey" not in mapping  # at the root: signed paths are the API's own
    assert mapping["Stage"] == ref("SpeechApiApiGatewayDefaultStage")  # SpeechApi.Stage
    record = props(primary, "ApiDomainRecord")
    assert (record["Name"], record["HostedZoneId"]) == (
        ref("ApiDomainName"),
        ref("ApiHostedZoneId"),
    )
    assert (record["Type"], record["Failover"]) == ("CNAME", "PRIMARY")
    assert record["ResourceRecords"] == [getatt("ApiDomain", "RegionalDomainName")]
    assert "${AWS::Region}" in record["SetIdentifier"]["Fn::Sub"]
    assert record["HealthCheckId"] == ref("ApiPrimaryHealthCheck")
    serving = props(primary, "ApiPrimaryHealthCheck")["HealthCheckConfig"]
    assert serving["Type"] == "CALCULATED"
    assert serving["ChildHealthChecks"] == [
        ref("ApiEndpointHealthCheck"),
        ref("PrimaryHealthCheck"),
    ]
    assert serving["HealthThreshold"] == 2  # both: the endpoint answers, the region is healthy
    endpoint = props(primary, "ApiEndpointHealthCheck")["HealthCheckConfig"]
    assert endpoint["Type"] == "HTTPS"
    # The primary's own API, not the shared name (which may point at the secondary).
    assert endpoint["FullyQualifiedDomainName"] == {
        "Fn::Sub": "${SpeechApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}"
    }
    # Route 53 sends no credentials: the path is a route without auth, in the function.
    paths = props(primary, "SpeechApi")["Body"]["paths"]
    assert "security" not in paths[endpoint["ResourcePath"]]["get"]
    assert endpoint["ResourcePath"] == "/console"
    assert primary["Outputs"]["ApiDomainUrl"]["Value"] == {"Fn::Sub": "https://${ApiDomainName}"}


def test_the_secondarys_api_record_is_secondary_and_a_standalone_one_plain() -> None:
    secondary = _rendered("secondary", **API_DOMAIN)
    assert set(secondary["Resources"]) & API_DOMAIN_RESOURCES == {
        "ApiDomain",
        "ApiDomainMapping",
        "ApiDomainRecord",
    }
    record = props(secondary, "ApiDomainRecord")
    assert record["Failover"] == "SECONDARY"
    assert "HealthCheckId" not in record  # no check: healthy, the target while the primary is not
    primary_record = props(_rendered("primary", **API_DOMAIN), "ApiDomainRecord")
    for same in ("Name", "HostedZoneId", "Type", "TTL", "SetIdentifier"):
        assert record[same] == primary_record[same], same  # Sub of the region: two values
    standalone = props(_rendered("standalone", **API_DOMAIN), "ApiDomainRecord")
    assert not {"Failover", "SetIdentifier", "HealthCheckId"} & set(standalone)


def test_the_api_rto_in_the_docs_is_the_templates_arithmetic() -> None:
    primary = _rendered("primary", **API_DOMAIN)
    endpoint = props(primary, "ApiEndpointHealthCheck")["HealthCheckConfig"]
    ttl = int(props(primary, "ApiDomainRecord")["TTL"])
    detection = endpoint["RequestInterval"] * endpoint["FailureThreshold"]
    assert (detection, ttl) == (30, 60)
    for page in ("api.md", "failover.md"):
        text = (ROOT / "docs" / page).read_text(encoding="utf-8")
        assert f"{detection + ttl} s" in text, page
        assert f"TTL {ttl} s" in text, page


def test_the_console_site_is_a_private_bucket_behind_cloudfront_and_only_it_may_call(
    translated: dict[str, Any],
) -> None:
    site = for_role(translated, "standalone", ConsoleSite="cloudfront")
    bucket = props(site, "ConsoleBucket")
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    # Read by the distribution through origin access control, and by nobody else.
    (read,) = [
        s
        for s in statements(props(site, "ConsoleBucketPolicy")["PolicyDocument"])
        if s["Effect"] == "Allow"
    ]
    assert read["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert read["Action"] == "s3:GetObject"
    assert "${ConsoleDistribution}" in read["Condition"]["StringEquals"]["AWS:SourceArn"]["Fn::Sub"]
    config = props(site, "ConsoleDistribution")["DistributionConfig"]
    (origin,) = config["Origins"]
    assert origin["OriginAccessControlId"] == getatt("ConsoleOriginAccessControl", "Id")
    assert origin["DomainName"] == getatt("ConsoleBucket", "RegionalDomainName")
    assert config["DefaultRootObject"] == INDEX  # the layout voxflow console publish writes
    behavior = config["DefaultCacheBehavior"]
    assert behavior["ResponseHeadersPolicyId"] == ref("ConsoleHeadersPolicy")
    assert behavior["AllowedMethods"] == ["GET", "HEAD"]
    # The page's policy is the API's, its calls allowed to this region's API Gateway.
    headers = props(site, "ConsoleHeadersPolicy")["ResponseHeadersPolicyConfig"]
    csp = headers["SecurityHeadersConfig"]["ContentSecurityPolicy"]["ContentSecurityPolicy"]
    assert csp == {"Fn::Sub": site_policy("https://*.execute-api.${AWS::Region}.${AWS::URLSuffix}")}
    # The API answers CORS for the site's origin only, with what the page sends and reads.
    # (SAM writes the CorsConfiguration into the API's OpenAPI body.)
    (api,) = resources_of(site, "AWS::ApiGatewayV2::Api").values()
    cors = api["Properties"]["Body"]["x-amazon-apigateway-cors"]
    assert cors["allowOrigins"] == [{"Fn::Sub": "https://${ConsoleDistribution.DomainName}"}]
    assert cors["allowHeaders"] == list(CORS_ALLOW_HEADERS)
    assert cors["allowMethods"] == list(CORS_ALLOW_METHODS)
    assert cors["exposeHeaders"] == list(CORS_EXPOSE_HEADERS)
    assert cors["maxAge"] == CORS_MAX_AGE_S
    outputs = site["Outputs"]
    assert outputs["ConsoleBucketName"]["Value"] == ref("ConsoleBucket")
    # Off (the default): no site, and no CORS on the API; /console is served either way.
    plain = for_role(translated, "standalone")
    assert not [r for r in plain["Resources"] if r.startswith("Console")]
    (api,) = resources_of(plain, "AWS::ApiGatewayV2::Api").values()
    assert "x-amazon-apigateway-cors" not in api["Properties"]["Body"]
    assert "CorsConfiguration" not in api["Properties"]
    routes = {e["Properties"]["Path"] for e in props(load_sam(), "ApiFunction")["Events"].values()}
    assert {"/console", "/console/{name}"} <= routes


# Rules: EdgeDelivery cloudfront's parameters, checked before anything is created
# ---------------------------------------------------------------------------------

PRIMARYS_EDGE = {
    "EdgeDistributionId": "E2QWRUHEXAMPLE",
    "EdgeDomainName": "d111111abcdef8.cloudfront.net",
    "EdgePublicKeyId": "K2JCJMDEHXQW5F",
}
PEM = "-----BEGIN PUBLIC KEY-----\nMIIBIjANBg\n-----END PUBLIC KEY-----"


def edge_failures(translated: dict[str, Any], role: str, **parameters: str) -> list[str]:
    values = parameter_values(translated, role, EdgeDelivery="cloudfront", **parameters)
    return failed_rules(translated["Rules"], values)


@pytest.mark.parametrize("missing", sorted(PRIMARYS_EDGE))
def test_a_cloudfront_secondary_without_the_primarys_edge_outputs_is_refused(
    translated: dict[str, Any], missing: str
) -> None:
    (failure,) = edge_failures(translated, "secondary", **{**PRIMARYS_EDGE, missing: ""})
    assert failure.startswith(f"EdgeDelivery cloudfront on a secondary needs {missing}:")
    assert f"the primary's {missing} output" in failure
    # Sent with none of the three (the parameters' defaults): one message for each.
    assert len(edge_failures(translated, "secondary")) == 3


def test_a_cloudfront_owner_without_a_public_key_is_refused(translated: dict[str, Any]) -> None:
    for role in ("standalone", "primary"):
        (failure,) = edge_failures(translated, role)
        assert "needs EdgePublicKeyPem" in failure
        assert edge_failures(translated, role, EdgePublicKeyPem=PEM) == []


def test_the_edge_rules_pass_what_deploys(translated: dict[str, Any]) -> None:
    assert edge_failures(translated, "secondary", **PRIMARYS_EDGE) == []
    for role in ROLES:  # EdgeDelivery off: the edge parameters are not read
        assert failed_rules(translated["Rules"], parameter_values(translated, role)) == []
