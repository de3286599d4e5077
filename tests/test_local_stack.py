"""The local stack (voxflow_local) over real HTTP against moto server.

Two stacks: template.yaml deployed alone (no functions run, so its queues keep
what a test sends), and tests/fixtures/echo_function, a one-function stack whose
runner reports every batch it gets to a queue of its own.
"""

import functools
import json
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from voxflow_local.deploy import deploy_stack
from voxflow_local.intrinsics import Resolver
from voxflow_local.model import DeployedStack, LocalFunction, SqsEventSource
from voxflow_local.moto_server import MotoServer, answers_http
from voxflow_local.poller import SqsPoller, batch_item_failures, lambda_event
from voxflow_local.runner import FunctionRunner, FunctionTimeoutError
from voxflow_local.stack import LocalStack
from voxflow_local.state import read_state
from voxflow_local.template import load_sam_template

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"
ECHO_TEMPLATE = Path(__file__).resolve().parent / "fixtures" / "echo_function" / "template.yaml"
REGION = "us-east-1"
# What Lambda puts in an SQS record (md5OfMessageAttributes only with attributes).
LAMBDA_RECORD_KEYS = {
    "messageId",
    "receiptHandle",
    "body",
    "attributes",
    "messageAttributes",
    "md5OfBody",
    "md5OfMessageAttributes",
    "eventSource",
    "eventSourceARN",
    "awsRegion",
}


def _gone(pid: int) -> bool:
    try:
        return bool(psutil.Process(pid).status() == psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return True


def test_moto_server_answers_then_stops_without_leftovers() -> None:
    server = MotoServer(None, REGION)
    with server:
        pid = server.pid
        assert pid is not None
        assert answers_http(server.url)
    assert _gone(pid)
    assert not answers_http(server.url)
    server.stop()  # stopping twice is harmless


# ---- template.yaml, deployed without running its functions ----


@pytest.fixture(scope="module")
def deployed() -> Iterator[tuple[MotoServer, DeployedStack]]:
    with MotoServer(None, REGION) as moto:
        yield moto, deploy_stack(moto.url, REGION, template_path=TEMPLATE)


@pytest.fixture(scope="module")
def client(deployed: tuple[MotoServer, DeployedStack]) -> Callable[[str], Any]:
    from voxflow_local._clients import _client

    moto, _ = deployed
    return lambda service: _client(service, moto.url, REGION)


def _translated(stack: DeployedStack, resource_type: str) -> set[str]:
    return {lid for lid, r in stack.template["Resources"].items() if r["Type"] == resource_type}


# Left out of moto on purpose (moto_gaps.NOT_EMULATED, infra/local/README.md).
NOT_EMULATED_TYPES = {
    "AWS::Events::Endpoint",
    "AWS::Events::EventBusPolicy",
    "AWS::ECS::CapacityProvider",
    "AWS::ECS::ClusterCapacityProviderAssociations",
    "AWS::ApplicationAutoScaling::ScalableTarget",
    "AWS::ApplicationAutoScaling::ScalingPolicy",
    "AWS::ApiGatewayV2::Api",
    "AWS::ApiGatewayV2::Stage",
}
WORKER_IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/voxflow-worker:1"


def _in_moto(client: Callable[[str], Any]) -> dict[str, set[str]]:
    """What moto holds, by the resource type that would have made it."""
    events = client("events")
    buses = [bus["Name"] for bus in events.list_event_buses()["EventBuses"]]
    rules = {rule["Name"] for bus in buses for rule in events.list_rules(EventBusName=bus)["Rules"]}
    return {
        "AWS::SQS::Queue": set(client("sqs").list_queues().get("QueueUrls", [])),
        "AWS::DynamoDB::GlobalTable": set(client("dynamodb").list_tables()["TableNames"]),
        "AWS::S3::Bucket": {b["Name"] for b in client("s3").list_buckets()["Buckets"]},
        # Every account has the default bus; the template's are the others.
        "AWS::Events::EventBus": set(buses) - {"default"},
        "AWS::Events::Rule": rules,
        "AWS::CloudWatch::Alarm": {
            a["AlarmName"] for a in client("cloudwatch").describe_alarms()["MetricAlarms"]
        },
        "AWS::CloudWatch::Dashboard": {
            d["DashboardName"] for d in client("cloudwatch").list_dashboards()["DashboardEntries"]
        },
        "AWS::SNS::Topic": {t["TopicArn"] for t in client("sns").list_topics()["Topics"]},
    }


def _assert_agree(
    stack: DeployedStack, client: Callable[[str], Any], replicas: set[str] | None = None
) -> None:
    """Every resource of the role's template is in moto, stands in locally, or is listed.

    ``replicas``: tables in this moto that another region's global tables put there.
    """
    for kind in ("AWS::SQS::Queue", "AWS::DynamoDB::GlobalTable", "AWS::S3::Bucket"):
        assert _translated(stack, kind) == set(stack.of_type(kind)), kind
    for kind, names in _in_moto(client).items():
        expected = {stack.resources[lid] for lid in _translated(stack, kind)}
        if kind == "AWS::DynamoDB::GlobalTable":
            # moto lists regional tables (quotas, audit) with the global ones.
            expected |= {stack.resources[lid] for lid in _translated(stack, "AWS::DynamoDB::Table")}
            expected |= replicas or set()
        assert names == expected, kind
    not_emulated = {lid for lid, kind in stack.resource_types.items() if kind in NOT_EMULATED_TYPES}
    assert not_emulated == {
        lid for lid, why in stack.not_deployed.items() if why.startswith("not emulated locally")
    }
    for logical_id in not_emulated:
        assert logical_id not in stack.resources
        assert any(w.startswith(f"{logical_id} (") for w in stack.warnings), logical_id
    # Everything else exists in moto or runs in local processes.
    assert set(stack.resource_types) == set(stack.resources) | set(stack.not_deployed)
    # Deliberate local differences are warnings too; a property left out is a gap.
    assert [w for w in stack.warnings if "not applied locally" in w] == []


def test_template_and_local_stack_agree(
    deployed: tuple[MotoServer, DeployedStack], client: Callable[[str], Any]
) -> None:
    _, stack = deployed
    assert stack.outputs["Role"] == "standalone"
    _assert_agree(stack, client)


def test_functions_come_with_their_resolved_environment(
    deployed: tuple[MotoServer, DeployedStack],
) -> None:
    _, stack = deployed
    sam = load_sam_template(TEMPLATE)["Resources"]
    functions = {
        lid
        for lid, r in sam.items()
        if r["Type"] == "AWS::Serverless::Function" and r.get("Condition") != "IsPrimary"
    }
    # Standalone: every function but the primary's HealthFunction.
    assert {f.logical_id for f in stack.functions} == functions
    for function in stack.functions:
        assert function.handler_file.is_file(), function.handler
        translated = stack.template["Resources"][function.logical_id]["Properties"]
        variables = translated.get("Environment", {}).get("Variables", {})
        assert set(function.environment) == set(variables)
        for name, value in variables.items():
            if (
                isinstance(value, dict)
                and set(value) == {"Ref"}
                and value["Ref"] in stack.resources
            ):
                assert function.environment[name] == stack.resources[value["Ref"]], name
            assert "${" not in function.environment[name], name


def test_event_sources_carry_the_queue_settings(
    deployed: tuple[MotoServer, DeployedStack],
) -> None:
    _, stack = deployed
    resources = stack.template["Resources"]
    mappings = _translated(stack, "AWS::Lambda::EventSourceMapping")
    sources = {s.logical_id: s for f in stack.functions for s in f.event_sources}
    assert set(sources) == mappings
    for logical_id, source in sources.items():
        mapping = resources[logical_id]["Properties"]
        queue = resources[mapping["EventSourceArn"]["Fn::GetAtt"][0]]["Properties"]
        assert source.queue_url == stack.resources[source.queue_logical_id]
        assert source.batch_size == mapping.get("BatchSize", 10)
        assert source.visibility_timeout_s == queue.get("VisibilityTimeout", 30)
        if "RedrivePolicy" in queue:
            dlq = queue["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
            assert source.dead_letter_queue_url == stack.resources[dlq]
            assert source.max_receive_count == queue["RedrivePolicy"]["maxReceiveCount"]


def test_what_moto_skips_is_applied_anyway(
    deployed: tuple[MotoServer, DeployedStack], client: Callable[[str], Any]
) -> None:
    _, stack = deployed
    resources = stack.template["Resources"]
    for logical_id in _translated(stack, "AWS::SQS::QueuePolicy"):
        for queue in resources[logical_id]["Properties"]["Queues"]:
            url = stack.resources[queue["Ref"]]
            attributes = client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])
            assert "Policy" in attributes["Attributes"], logical_id
    for logical_id, bucket in stack.of_type("AWS::S3::Bucket").items():
        properties = resources[logical_id]["Properties"]
        if "LifecycleConfiguration" in properties:
            rules = client("s3").get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
            assert len(rules) == len(properties["LifecycleConfiguration"]["Rules"])
        if "PublicAccessBlockConfiguration" in properties:
            block = client("s3").get_public_access_block(Bucket=bucket)
            assert all(block["PublicAccessBlockConfiguration"].values())
    for logical_id, table in stack.of_type("AWS::DynamoDB::GlobalTable").items():
        ttl = resources[logical_id]["Properties"].get("TimeToLiveSpecification")
        if ttl:
            described = client("dynamodb").describe_time_to_live(TableName=table)
            assert described["TimeToLiveDescription"]["AttributeName"] == ttl["AttributeName"]


def test_requests_rule_delivers_to_requests_queue(
    deployed: tuple[MotoServer, DeployedStack], client: Callable[[str], Any]
) -> None:
    _, stack = deployed
    if "RequestsRule" not in stack.resources:
        pytest.skip("template.yaml has no RequestsRule yet")
    detail = {"request_id": uuid.uuid4().hex, "text": "hello"}
    common = {"EventBusName": stack.resources["EventBus"], "Detail": json.dumps(detail)}
    response = client("events").put_events(
        Entries=[
            {**common, "Source": "voxflow.client", "DetailType": "SynthesisRequested"},
            {**common, "Source": "someone.else", "DetailType": "SynthesisRequested"},
            {**common, "Source": "voxflow.client", "DetailType": "SynthesisCompleted"},
        ]
    )
    assert response["FailedEntryCount"] == 0
    queue = stack.resources["RequestsQueue"]
    messages = client("sqs").receive_message(
        QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1
    )["Messages"]
    assert len(messages) == 1
    envelope = json.loads(messages[0]["Body"])
    assert envelope["source"] == "voxflow.client"
    assert envelope["detail-type"] == "SynthesisRequested"
    assert envelope["detail"] == detail


def test_moto_moves_a_message_to_the_dlq_after_max_receive_count(
    deployed: tuple[MotoServer, DeployedStack], client: Callable[[str], Any]
) -> None:
    # The poller relies on this rather than redriving by itself.
    _, stack = deployed
    sources = [s for f in stack.functions for s in f.event_sources if s.max_receive_count]
    # RequestsQueue gets the rule test's message: use another queue where there is one.
    source = sorted(sources, key=lambda s: s.queue_logical_id == "RequestsQueue")[0]
    assert source.dead_letter_queue_url is not None
    assert source.max_receive_count is not None
    sqs = client("sqs")
    sqs.send_message(QueueUrl=source.queue_url, MessageBody="poison")
    for attempt in range(1, source.max_receive_count + 1):
        (message,) = sqs.receive_message(QueueUrl=source.queue_url, AttributeNames=["All"])[
            "Messages"
        ]
        assert message["Attributes"]["ApproximateReceiveCount"] == str(attempt)
        sqs.change_message_visibility(
            QueueUrl=source.queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
        )
    assert "Messages" not in sqs.receive_message(QueueUrl=source.queue_url)
    dead = sqs.receive_message(QueueUrl=source.dead_letter_queue_url)["Messages"]
    assert [m["Body"] for m in dead] == ["poison"]


# ---- two regions: secondary into B, then primary into A (docs/deploy.md's order) ----


def test_two_regions_deploy_onto_two_moto_servers() -> None:
    from voxflow_local._clients import _client

    primary_region, secondary_region = "us-east-1", "us-west-2"
    with (
        MotoServer(None, primary_region) as a,
        MotoServer(None, secondary_region) as b,
    ):
        endpoints = {primary_region: a.url, secondary_region: b.url}
        common = {"PrimaryRegion": primary_region, "SecondaryRegion": secondary_region}
        secondary = deploy_stack(
            b.url,
            secondary_region,
            template_path=TEMPLATE,
            parameters={**common, "Role": "secondary", "PeerReady": "true"},
            region_endpoints=endpoints,
        )
        primary = deploy_stack(
            a.url,
            primary_region,
            template_path=TEMPLATE,
            parameters={
                **common,
                "Role": "primary",
                "PeerReady": "true",
                "WorkerImageUri": WORKER_IMAGE,
            },
            region_endpoints=endpoints,
        )
        in_a = functools.partial(_client, endpoint=a.url, region=primary_region)
        in_b = functools.partial(_client, endpoint=b.url, region=secondary_region)

        # The primary's global tables have a replica in each region, streams on.
        assert set(secondary.of_type("AWS::DynamoDB::GlobalTable")) == set()
        tables = primary.of_type("AWS::DynamoDB::GlobalTable")
        assert set(tables) == {
            "CacheTable",
            "JobsTable",
            "TenantsTable",
            "VoicesTable",
            "LexiconsTable",
            "TasksTable",
        }
        for clients in (in_a, in_b):
            for name in tables.values():
                table = clients("dynamodb").describe_table(TableName=name)["Table"]
                assert table["StreamSpecification"] == {
                    "StreamEnabled": True,
                    "StreamViewType": "NEW_AND_OLD_IMAGES",
                }
            ttls = {
                logical_id: clients("dynamodb")
                .describe_time_to_live(TableName=name)["TimeToLiveDescription"]
                .get("AttributeName")
                for logical_id, name in tables.items()
            }
            # Bindings, voices and lexicons do not expire.
            assert ttls == {
                "CacheTable": "expires_at",
                "JobsTable": "expires_at",
                "TenantsTable": None,
                "VoicesTable": None,
                "LexiconsTable": None,
                "TasksTable": "expires_at",
            }
        # Both sides name the same tables (the secondary's functions use the replicas).
        for stack in (primary, secondary):
            environment = stack.function("PlanFunction").environment
            assert environment["VOXFLOW_JOBS_TABLE"] == tables["JobsTable"]
            assert environment["VOXFLOW_CACHE_TABLE"] == tables["CacheTable"]
            assert environment["VOXFLOW_TENANTS_TABLE"] == tables["TenantsTable"]

        # Each bucket is versioned and replicates audio/, chunks/ and voices/ to the other's.
        for stack, clients, peer in ((primary, in_a, secondary), (secondary, in_b, primary)):
            bucket = stack.resources["AudioBucket"]
            s3 = clients("s3")
            assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
            rules = s3.get_bucket_replication(Bucket=bucket)["ReplicationConfiguration"]["Rules"]
            # moto stores the rules but reads every Filter back as Prefix "" (a moto gap,
            # infra/local/README.md): the rule ids say which prefix each one is.
            assert {rule["ID"] for rule in rules} == {
                "ReplicateAudio",
                "ReplicateChunks",
                "ReplicateVoices",
            }
            peer_arn = f"arn:aws:s3:::{peer.resources['AudioBucket']}"
            assert {rule["Destination"]["Bucket"] for rule in rules} == {peer_arn}

        # The health alarm is in the primary region only, named as the contract says.
        alarm = primary.function("PlanFunction").environment["VOXFLOW_HEALTH_ALARM"]
        assert alarm == "voxflow-primary-health"
        assert secondary.function("PlanFunction").environment["VOXFLOW_HEALTH_ALARM"] == alarm
        (health,) = in_a("cloudwatch").describe_alarms(AlarmNames=[alarm])["MetricAlarms"]
        assert health["TreatMissingData"] == "breaching"
        assert in_b("cloudwatch").describe_alarms(AlarmNames=[alarm])["MetricAlarms"] == []

        # Chunks: GPU workers in A (SynthesizeFunction stands by), Lambda in B; one
        # event source per lane, each with its own runner where enabled.
        def chunks_enabled(stack: DeployedStack) -> dict[str, bool]:
            sources = stack.function("SynthesizeFunction").event_sources
            return {source.queue_logical_id: source.enabled for source in sources}

        assert chunks_enabled(primary) == {
            "ChunksQueue": False,
            "LongChunksQueue": False,
            "RecoveryChunksQueue": False,
        }
        assert chunks_enabled(secondary) == {
            "ChunksQueue": True,
            "LongChunksQueue": True,
            "RecoveryChunksQueue": True,
        }
        # The primary's workers take SynthesizeFunction's environment: both lanes' URLs.
        for stack in (primary, secondary):
            environment = stack.function("SynthesizeFunction").environment
            assert environment["VOXFLOW_CHUNKS_QUEUE_URL"] == stack.resources["ChunksQueue"]
            long_lane = stack.resources["LongChunksQueue"]
            assert environment["VOXFLOW_LONG_CHUNKS_QUEUE_URL"] == long_lane
        assert "HealthFunction" in {f.logical_id for f in primary.functions}
        assert "HealthFunction" not in {f.logical_id for f in secondary.functions}
        assert primary.outputs["Role"] == "primary"
        assert secondary.outputs["Role"] == "secondary"

        # What moto cannot hold is listed, never silently skipped.
        not_emulated = {
            lid for lid, why in primary.not_deployed.items() if why.startswith("not emulated")
        }
        assert not_emulated == {
            "GlobalEndpoint",
            "ServiceSourceBusPolicy",
            "SpeechApi",
            "SpeechApiApiGatewayDefaultStage",
            "WorkerCapacityProvider",
            "WorkerClusterCapacityProviders",
            "WorkerScalableTarget",
            "WorkerScalingPolicy",
        }
        _assert_agree(primary, in_a)
        # B's tables are the primary's replicas, not the secondary stack's own.
        _assert_agree(secondary, in_b, replicas=set(tables.values()))


# ---- the echo function, run by a runner process ----


@pytest.fixture(scope="module")
def echo() -> Iterator[LocalStack]:
    with LocalStack(
        port=0,  # any free port, held until moto listens (voxflow_local.ports)
        region=REGION,
        stack_name="echo",
        template_path=ECHO_TEMPLATE,
        retry_visibility_s=1,
    ) as stack:
        yield stack


def _send(stack: LocalStack, *bodies: dict[str, Any], **attributes: Any) -> None:
    stack.client("sqs").send_message_batch(
        QueueUrl=stack.stack.resources["EchoQueue"],
        Entries=[
            {"Id": str(n), "MessageBody": json.dumps(body), **attributes}
            for n, body in enumerate(bodies)
        ],
    )


def _drain(
    stack: LocalStack,
    queue: str,
    tag: str,
    done: Callable[[list[dict[str, Any]]], bool],
    timeout_s: float = 20.0,
) -> list[dict[str, Any]]:
    """Reads (and deletes) ``queue`` until ``done`` holds for what it saw of ``tag``."""
    sqs = stack.client("sqs")
    url = stack.stack.resources[queue]
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        response = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        for message in response.get("Messages", []):
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            body = json.loads(message["Body"])
            records = body.get("records", [body])
            if any(record.get("tag") == tag for record in records):
                seen.append(body)
        if done(seen):
            return seen
    raise AssertionError(f"{queue}: gave up waiting; saw {seen}")


def _ids(report: dict[str, Any]) -> list[int]:
    return [record["id"] for record in report["records"]]


def test_the_handler_gets_lambdas_event_and_environment(echo: LocalStack) -> None:
    tag = uuid.uuid4().hex
    attribute = {"MessageAttributes": {"kind": {"DataType": "String", "StringValue": "probe"}}}
    _send(echo, {"id": 1, "tag": tag}, **attribute)
    (report,) = _drain(echo, "ReportQueue", tag, lambda seen: len(seen) >= 1)
    function = echo.stack.function("EchoFunction")
    (record,) = report["records"]
    assert set(record["keys"]) == LAMBDA_RECORD_KEYS
    assert record["message_attributes"] == {
        "kind": {
            "stringValue": "probe",
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": "String",
        }
    }
    assert report["function"] == function.name
    assert 0 < report["remaining_ms"] <= function.timeout_s * 1000
    assert report["environment"] == {
        "ECHO_QUEUE_ARN": function.event_sources[0].queue_arn,
        "ECHO_STACK_REGION": f"echo@{REGION}",
        "AWS_LAMBDA_FUNCTION_NAME": function.name,
    }
    # awscrt is in this venv, not on Lambda: the runner signs as Lambda does.
    assert report["sigv4"] == "SigV4Auth"


def test_batch_size_is_respected(echo: LocalStack) -> None:
    tag = uuid.uuid4().hex
    _send(echo, *({"id": n, "tag": tag} for n in range(7)))

    def all_handled(seen: list[dict[str, Any]]) -> bool:
        return sorted(i for report in seen for i in _ids(report)) == list(range(7))

    reports = _drain(echo, "ReportQueue", tag, all_handled)
    sizes = [len(report["records"]) for report in reports]
    batch_size = echo.stack.function("EchoFunction").event_sources[0].batch_size
    assert max(sizes) == batch_size  # the batching window gathers full batches
    assert sum(sizes) == 7


def test_partial_batch_failure_retries_only_the_failures_then_dead_letters(
    echo: LocalStack,
) -> None:
    tag = uuid.uuid4().hex
    receives = echo.stack.function("EchoFunction").event_sources[0].max_receive_count
    assert receives == 2
    _send(echo, {"id": 1, "tag": tag}, {"id": 2, "tag": tag, "fail": True}, {"id": 3, "tag": tag})
    dead = _drain(echo, "EchoDLQ", tag, lambda seen: len(seen) >= 1)
    assert [record["id"] for record in dead] == [2]
    reports = _drain(echo, "ReportQueue", tag, lambda seen: len(seen) >= receives)
    handled = [(record["id"], record["receive_count"]) for r in reports for record in r["records"]]
    # Successes were deleted after their first batch; the failure came back until
    # moto moved it to the DLQ on the receive after maxReceiveCount.
    assert sorted(handled) == [(1, 1), (2, 1), (2, 2), (3, 1)]


def test_a_raising_handler_fails_the_whole_batch(echo: LocalStack) -> None:
    tag = uuid.uuid4().hex
    _send(echo, {"id": 1, "tag": tag}, {"id": 2, "tag": tag, "raise": True})
    dead = _drain(echo, "EchoDLQ", tag, lambda seen: len(seen) >= 2)
    assert sorted(record["id"] for record in dead) == [1, 2]


def test_stopping_finishes_the_batch_and_leaves_no_process() -> None:
    stack = LocalStack(
        port=0,  # any free port, held until moto listens (voxflow_local.ports)
        region=REGION,
        stack_name="echo",
        template_path=ECHO_TEMPLATE,
        concurrency=2,
    ).start()
    try:
        pids = stack.pids
        assert len(stack.runner_pids) == 2
        children = {child.pid for child in psutil.Process().children()}
        assert set(pids) <= children
        tag = uuid.uuid4().hex
        _send(stack, {"id": 1, "tag": tag, "sleep": 1.5})
        _drain(stack, "ReportQueue", tag, lambda seen: any(r["kind"] == "started" for r in seen))
        stack.stop_functions()  # SIGTERM while the handler sleeps
        reports = _drain(stack, "ReportQueue", tag, lambda seen: len(seen) >= 1, timeout_s=3)
        assert [r["kind"] for r in reports] == ["handled"]
        attributes = stack.client("sqs").get_queue_attributes(
            QueueUrl=stack.stack.resources["EchoQueue"], AttributeNames=["All"]
        )["Attributes"]
        assert attributes["ApproximateNumberOfMessages"] == "0"
        assert attributes["ApproximateNumberOfMessagesNotVisible"] == "0"  # deleted
    finally:
        stack.stop()
    assert all(_gone(pid) for pid in pids)
    assert stack.state_file is not None
    assert not stack.state_file.exists()


def test_up_and_down_from_the_command_line(tmp_path: Path) -> None:
    state_file = tmp_path / "local-stack.json"
    up = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "voxflow_local",
            "up",
            *("--port", "0", "--stack-name", "echo"),
            *("--template", str(ECHO_TEMPLATE), "--state-file", str(state_file)),
            *("--log-dir", str(tmp_path / "logs")),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while not (state_file.exists() and read_state(state_file).processes[-1].role == "runner"):
            assert up.poll() is None, up.communicate()[0].decode()
            assert time.monotonic() < deadline, "no running stack in time"
            time.sleep(0.2)
        state = read_state(state_file)
        pids = [up.pid, *(p.pid for p in state.processes)]
        assert json.loads(state_file.read_text())["endpoint_url"] == state.stack.endpoint_url
        down = subprocess.run(
            [sys.executable, "-m", "voxflow_local", "down", "--state-file", str(state_file)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert down.returncode == 0, down.stderr
        assert up.wait(timeout=30) == 0
    finally:
        if up.poll() is None:
            up.kill()
            up.wait()
    assert all(_gone(pid) for pid in pids)
    assert not state_file.exists()


# ---- pieces, without processes ----


def test_function_timeout_interrupts_the_handler(tmp_path: Path) -> None:
    module = f"slow_{uuid.uuid4().hex}"
    (tmp_path / f"{module}.py").write_text(
        "import time\n\ndef handler(event, context):\n    time.sleep(10)\n"
    )
    function = LocalFunction(
        logical_id="Slow",
        name="slow",
        arn="arn:aws:lambda:us-east-1:123456789012:function:slow",
        code_dir=tmp_path,
        handler=f"{module}.handler",
        runtime="python3.12",
        timeout_s=1,
        memory_mb=128,
    )
    started = time.monotonic()
    with pytest.raises(FunctionTimeoutError):
        FunctionRunner(function).invoke({"Records": []})
    assert time.monotonic() - started < 3
    sys.modules.pop(module, None)
    sys.path.remove(str(tmp_path))


@pytest.mark.parametrize(
    ("response", "failed"),
    [
        (None, set()),
        ({}, set()),
        ({"batchItemFailures": []}, set()),
        ({"batchItemFailures": None}, set()),
        ({"batchItemFailures": [{"itemIdentifier": "b"}]}, {"b"}),
        ({"batchItemFailures": [{"itemIdentifier": "z"}]}, None),
        ({"batchItemFailures": [{"itemIdentifier": ""}]}, None),
        ({"batchItemFailures": [{"id": "a"}]}, None),
        ({"batchItemFailures": "a"}, None),
        ("ok", None),
    ],
)
def test_batch_item_failures_follow_lambdas_rules(response: Any, failed: set[str] | None) -> None:
    assert batch_item_failures(response, {"a", "b"}) == failed


def test_lambda_event_shape() -> None:
    message = {
        "MessageId": "m1",
        "ReceiptHandle": "r1",
        "Body": "{}",
        "MD5OfBody": "99914b932bd37a50b983c5e7c90ae93b",
        "Attributes": {"ApproximateReceiveCount": "1"},
        "MessageAttributes": {"bin": {"DataType": "Binary", "BinaryValue": b"\x00\x01"}},
        "MD5OfMessageAttributes": "x",
    }
    (record,) = lambda_event([message], "arn:aws:sqs:us-east-1:1:q", "us-east-1")["Records"]
    assert set(record) == LAMBDA_RECORD_KEYS
    assert record["eventSource"] == "aws:sqs"
    assert record["messageAttributes"]["bin"]["binaryValue"] == "AAE="


def test_resolver_evaluates_the_intrinsics_of_an_environment() -> None:
    resolver = Resolver(
        {
            ("AWS::Region", None): "eu-west-1",
            ("Queue", None): "http://q",
            ("Queue", "Arn"): "arn:aws:sqs:eu-west-1:1:q",
        }
    )
    environment = {
        "A": {"Fn::Sub": "${AWS::Region}/${Queue.Arn}/${!Literal}"},
        "B": {"Fn::Join": ["-", [{"Ref": "Queue"}, "x"]]},
        "C": {"Fn::Select": [1, {"Fn::Split": [":", {"Fn::GetAtt": ["Queue", "Arn"]}]}]},
        "D": {"Ref": "AWS::NoValue"},
        "E": {"Fn::Sub": ["${X}!", {"X": {"Ref": "Queue"}}]},
    }
    assert resolver.resolve(environment) == {
        "A": "eu-west-1/arn:aws:sqs:eu-west-1:1:q/${Literal}",
        "B": "http://q-x",
        "C": "aws",
        "E": "http://q!",
    }


def test_a_poller_settling_behind_deletes_what_succeeded_and_leaves_what_failed(
    client: Callable[[str], Any],
) -> None:
    """SqsPoller(settle_behind=True), as the runners poll: a batch's deletes run while
    the next receive waits, and are done when ``run`` returns."""
    sqs = client("sqs")
    name = f"settle-{uuid.uuid4().hex[:8]}"
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    for body in ("ok-1", "fail", "ok-2"):
        sqs.send_message(QueueUrl=url, MessageBody=body)
    source = SqsEventSource(
        "Mapping", "Queue", url, arn, function_response_types=("ReportBatchItemFailures",)
    )
    seen: list[str] = []

    def invoke(event: dict[str, Any]) -> dict[str, Any]:
        records = event["Records"]
        seen.extend(record["body"] for record in records)
        failed = [r["messageId"] for r in records if r["body"] == "fail"]
        return {"batchItemFailures": [{"itemIdentifier": m} for m in failed]}

    poller = SqsPoller(source, invoke, sqs, REGION, retry_visibility_s=30, settle_behind=True)
    poller.run(lambda: len(seen) >= 3)
    assert sorted(seen) == ["fail", "ok-1", "ok-2"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    # Settled before run returned: the two that succeeded are gone, the failure is held.
    assert attributes["ApproximateNumberOfMessages"] == "0"
    assert attributes["ApproximateNumberOfMessagesNotVisible"] == "1"
