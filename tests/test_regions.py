"""Two regions (docs/regions.md): the decision table, then the pipeline core of a primary
(us-east-1) and a secondary (us-west-2) against one moto server over HTTP, which serves
every region, with the real voice. Replication is done by hand, item by item, so each
test chooses exactly what has replicated.
"""

import json
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from botocore.exceptions import EndpointConnectionError

from voxflow.audio import decode, join_pcm
from voxflow.aws import AwsClients, AwsSettings
from voxflow.config import Config
from voxflow.engine import Engine, SynthesisParams
from voxflow.errors import SettingsError
from voxflow.events import ChunkTask, ReplyTo, SynthesisCompleted
from voxflow.pipeline.chunks import BatchSynthesis, complete_chunk
from voxflow.pipeline.context import Pipeline
from voxflow.pipeline.publisher import ReplyQueues
from voxflow.pipeline.requests import handle_request_message
from voxflow.pipeline.standby_looks import (
    Invocation,
    QueuedRequest,
    first_deliveries_first,
    still_on_standby,
)
from voxflow.regions import (
    FIRST_SEEN_ATTRIBUTE,
    AlarmHealth,
    Decision,
    PeerJobs,
    PeerUnavailable,
    RegionConfig,
    Role,
    StandbyQueue,
    StaticHealth,
    decide,
    first_seen_of,
    peer_jobs,
    primary_health,
    standby_delay_s,
)
from voxflow.service_settings import ServiceSettings
from voxflow.settings import EngineSettings
from voxflow.store.chunk_keys import chunk_keys_in
from voxflow.text import normalize_text, split_into_chunks
from voxflow.voices import VoiceRegistry
from voxflow_local.moto_server import MotoServer, free_port

PRIMARY, SECONDARY = "us-east-1", "us-west-2"
ALARM = "voxflow-primary-health"
SILENT: dict[str, Any] = {"noise_scale": 0.0, "noise_w": 0.0}


# --- the decision table, row by row ---------------------------------------------------


@dataclass(frozen=True)
class _Job:
    status: str
    owner_region: str | None


def _decide(job: _Job | None, here: str, healthy: bool, expired: bool = False) -> Decision:
    return decide(
        job,
        here,
        healthy,
        primary_region=PRIMARY,
        secondary_region=SECONDARY,
        standby_expired=expired,
    )


@pytest.mark.parametrize("status", ["completed", "failed"])
@pytest.mark.parametrize("here", [PRIMARY, SECONDARY])
@pytest.mark.parametrize("owner", [PRIMARY, SECONDARY])
@pytest.mark.parametrize("healthy", [True, False])
def test_row1_terminal_job_is_dropped(status: str, here: str, owner: str, healthy: bool) -> None:
    assert _decide(_Job(status, owner), here, healthy) is Decision.DROP
    assert _decide(_Job(status, owner), here, healthy, expired=True) is Decision.DROP


@pytest.mark.parametrize("here", [PRIMARY, SECONDARY])
@pytest.mark.parametrize("healthy", [True, False])
def test_row2_pending_job_owned_here_proceeds(here: str, healthy: bool) -> None:
    assert _decide(_Job("pending", here), here, healthy) is Decision.PROCEED


def test_row3_pending_job_of_a_healthy_owner_means_standby() -> None:
    assert _decide(_Job("pending", PRIMARY), SECONDARY, True) is Decision.STANDBY
    # The secondary has no health signal: its jobs count as in good hands.
    assert _decide(_Job("pending", SECONDARY), PRIMARY, True) is Decision.STANDBY
    assert _decide(_Job("pending", SECONDARY), PRIMARY, False) is Decision.STANDBY


def test_row4_pending_job_of_an_unhealthy_owner_is_taken_over() -> None:
    assert _decide(_Job("pending", PRIMARY), SECONDARY, False) is Decision.TAKE_OVER
    # A job written before regions existed was the primary's.
    assert _decide(_Job("pending", None), SECONDARY, False) is Decision.TAKE_OVER
    assert _decide(_Job("pending", None), SECONDARY, True) is Decision.STANDBY
    assert _decide(_Job("pending", None), PRIMARY, True) is Decision.PROCEED


def test_row5_no_job_in_the_active_region_is_created() -> None:
    assert _decide(None, PRIMARY, True) is Decision.CREATE
    assert _decide(None, SECONDARY, False) is Decision.CREATE


def test_row6_no_job_elsewhere_means_standby() -> None:
    assert _decide(None, SECONDARY, True) is Decision.STANDBY
    assert _decide(None, PRIMARY, False) is Decision.STANDBY


def test_standby_ends_after_its_maximum() -> None:
    assert _decide(None, SECONDARY, True, expired=True) is Decision.CREATE
    assert _decide(_Job("pending", PRIMARY), SECONDARY, True, expired=True) is Decision.TAKE_OVER


# --- settings -------------------------------------------------------------------------

_SECONDARY_ENV = {
    "VOXFLOW_ROLE": "secondary",
    "AWS_REGION": SECONDARY,
    "VOXFLOW_HEALTH_ALARM": ALARM,
    "VOXFLOW_REQUESTS_QUEUE_URL": "https://sqs.us-west-2.amazonaws.com/123456789012/requests",
}


def test_region_config_from_env() -> None:
    assert RegionConfig.of(Config.load({})) == RegionConfig()
    assert not RegionConfig.of(Config.load({})).regional
    config = RegionConfig.of(Config.load({**_SECONDARY_ENV, "VOXFLOW_STANDBY_RETRY_S": "7"}))
    assert config.role is Role.SECONDARY
    assert (config.region, config.other_region, config.standby_retry_s) == (SECONDARY, PRIMARY, 7)
    assert config.standby_max_s == 900
    assert config.stale_request_s == 10
    assert (
        RegionConfig.of(
            Config.load({**_SECONDARY_ENV, "VOXFLOW_STALE_REQUEST_S": "0"})
        ).stale_request_s
        == 0
    )
    assert config.active_region(True) == PRIMARY
    assert config.active_region(False) == SECONDARY


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"VOXFLOW_ROLE": "tertiary"}, "VOXFLOW_ROLE"),
        ({"VOXFLOW_HEALTH_ALARM": ""}, "VOXFLOW_HEALTH_ALARM"),
        ({"VOXFLOW_REQUESTS_QUEUE_URL": ""}, "VOXFLOW_REQUESTS_QUEUE_URL"),
        ({"VOXFLOW_STANDBY_RETRY_S": "901"}, "VOXFLOW_STANDBY_RETRY_S"),
        ({"VOXFLOW_STANDBY_RETRY_MAX_S": "2"}, "VOXFLOW_STANDBY_RETRY_MAX_S"),
        ({"VOXFLOW_STANDBY_MAX_S": "soon"}, "VOXFLOW_STANDBY_MAX_S"),
        ({"VOXFLOW_PRIMARY_ENDPOINT_URL": "ftp://x"}, "VOXFLOW_PRIMARY_ENDPOINT_URL"),
        ({"VOXFLOW_SECONDARY_ENDPOINT_URL": "x"}, "VOXFLOW_SECONDARY_ENDPOINT_URL"),
        ({"VOXFLOW_STALE_REQUEST_S": "-1"}, "VOXFLOW_STALE_REQUEST_S"),
        ({"VOXFLOW_STALE_REQUEST_S": "ten"}, "VOXFLOW_STALE_REQUEST_S"),
        ({"VOXFLOW_CHUNK_STALL_S": "0"}, "VOXFLOW_CHUNK_STALL_S"),
        ({"VOXFLOW_SECONDARY_REGION": PRIMARY}, "must differ"),
        ({"AWS_REGION": "eu-west-1"}, "runs in us-west-2"),
    ],
)
def test_region_config_names_what_is_wrong(change: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError, match=named):
        RegionConfig.of(Config.load({**_SECONDARY_ENV, **change}))


def test_first_seen_attribute_of_a_lambda_record() -> None:
    assert first_seen_of({}) is None
    record = {FIRST_SEEN_ATTRIBUTE: {"stringValue": "1700000000.250", "dataType": "Number"}}
    assert first_seen_of(record) == 1700000000.25
    assert first_seen_of({FIRST_SEEN_ATTRIBUTE: {"stringValue": "x"}}) is None


# --- health ---------------------------------------------------------------------------


def _secondary_config(**changes: Any) -> RegionConfig:
    base = RegionConfig(
        role=Role.SECONDARY,
        region=SECONDARY,
        health_alarm=ALARM,
        requests_queue_url="unused",
    )
    return replace(base, **changes)


def test_standalone_health_makes_no_client() -> None:
    health = primary_health(RegionConfig(), AwsSettings.local("http://127.0.0.1:1"))
    assert isinstance(health, StaticHealth)
    assert health.is_healthy()


def test_unreachable_primary_is_unhealthy_fast() -> None:
    refused = f"http://127.0.0.1:{free_port()}"
    health = primary_health(_secondary_config(primary_endpoint_url=refused), _local(SECONDARY))
    started = time.monotonic()
    assert not health.is_healthy()
    assert time.monotonic() - started < 2.5


def test_frozen_primary_is_unhealthy_within_its_read_timeout() -> None:
    # A frozen (SIGSTOPped) server: the kernel accepts the connection, nobody answers.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        frozen = f"http://127.0.0.1:{listener.getsockname()[1]}"
        health = primary_health(_secondary_config(primary_endpoint_url=frozen), _local(SECONDARY))
        started = time.monotonic()
        assert not health.is_healthy()
        assert time.monotonic() - started < 3.0


# --- the two regions on one moto server -------------------------------------------------


def _local(region: str, url: str = "http://127.0.0.1:1") -> AwsSettings:
    return AwsSettings.local(url, region)


@dataclass
class Region:
    name: str
    clients: AwsClients
    service: ServiceSettings
    requests_url: str
    replies_url: str

    def client(self, service: str) -> Any:
        return self.clients.client(service)


class CountingMeter:
    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def count(self, name: str, value: float = 1) -> None:
        self.counts[name] += int(value)

    def seconds(self, name: str, value: float) -> None:
        pass

    def ratio(self, name: str, value: float) -> None:
        pass

    def count_by(self, name: str, dimension: str, value: str) -> None:
        self.counts[f"{name}:{dimension}={value}"] += 1


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    with MotoServer(log_path=log) as server:
        yield server


def _create_region(url: str, name: str) -> Region:
    clients = AwsClients(AwsSettings.local(url, name))
    bucket = f"voxflow-audio-123456789012-{name}"
    location = (
        {} if name == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": name}}
    )
    clients.s3.create_bucket(Bucket=bucket, **location)
    for table, key in (("voxflow-cache", "key"), ("voxflow-jobs", "request_id")):
        clients.dynamodb.create_table(
            TableName=table,
            KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
    queues = {
        queue: clients.sqs.create_queue(QueueName=f"voxflow-{queue}")["QueueUrl"]
        for queue in ("requests", "chunks")
    }
    replies = clients.sqs.create_queue(QueueName="voxflow-replies-client")["QueueUrl"]
    clients.events.create_event_bus(Name="voxflow-bus")
    service = ServiceSettings(
        bus_name="voxflow-bus",
        chunks_queue_url=queues["chunks"],
        bucket=bucket,
        cache_table="voxflow-cache",
        jobs_table="voxflow-jobs",
        region_name=name,
    )
    return Region(name, clients, service, queues["requests"], replies)


@pytest.fixture(scope="module")
def regions(moto: MotoServer) -> dict[str, Region]:
    created = {name: _create_region(moto.url, name) for name in (PRIMARY, SECONDARY)}
    created[PRIMARY].client("cloudwatch").put_metric_alarm(
        AlarmName=ALARM,
        Namespace="voxflow",
        MetricName="WorkerHeartbeat",
        Dimensions=[{"Name": "Region", "Value": PRIMARY}],
        Statistic="SampleCount",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="LessThanThreshold",
    )
    return created


def _set_primary(regions: dict[str, Region], healthy: bool) -> None:
    regions[PRIMARY].client("cloudwatch").set_alarm_state(
        AlarmName=ALARM, StateValue="OK" if healthy else "ALARM", StateReason="test"
    )


def _pipeline(
    region: Region,
    role: Role,
    moto: MotoServer,
    registry: VoiceRegistry,
    engine: Engine,
    *,
    stale_request_s: int = 10,
    chunk_stall_s: int = 120,
    standby_queue_url: str | None = None,
) -> Pipeline:
    config = RegionConfig(
        role=role,
        region=region.name,
        health_alarm=ALARM,
        standby_retry_s=1,
        requests_queue_url=region.requests_url,
        standby_queue_url=standby_queue_url,
        stale_request_s=stale_request_s,
        chunk_stall_s=chunk_stall_s,
        primary_endpoint_url=moto.url,
        secondary_endpoint_url=moto.url,
    )
    aws = AwsSettings.local(moto.url, region.name)
    pipeline = Pipeline.create(
        region.service,
        EngineSettings(),
        aws,
        config,
        meter=CountingMeter(),
        registry=registry,
        engine=engine,
    )
    # The real alarm, read without the one-second cache: each step sees the state just set.
    assert isinstance(pipeline.regions.health, AlarmHealth)
    pipeline.regions.health = primary_health_uncached(moto.url)
    return pipeline


def primary_health_uncached(url: str) -> AlarmHealth:
    clients = AwsClients(AwsSettings.local(url, PRIMARY))
    return AlarmHealth(lambda: clients.cloudwatch, ALARM, cache_s=0)


@pytest.fixture(scope="module")
def primary(
    regions: dict[str, Region], moto: MotoServer, registry: VoiceRegistry, engine: Engine
) -> Pipeline:
    return _pipeline(regions[PRIMARY], Role.PRIMARY, moto, registry, engine)


@pytest.fixture(scope="module")
def secondary(
    regions: dict[str, Region], moto: MotoServer, registry: VoiceRegistry, engine: Engine
) -> Pipeline:
    return _pipeline(regions[SECONDARY], Role.SECONDARY, moto, registry, engine)


def counts(pipeline: Pipeline) -> Counter[str]:
    assert isinstance(pipeline.meter, CountingMeter)
    return pipeline.meter.counts


# --- driving the queues by hand, as the plan and synthesize functions do -------------------


def receive(region: Region, queue_url: str, wait_s: int = 0) -> list[dict[str, Any]]:
    return list(
        region.client("sqs")
        .receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=wait_s,
            MessageAttributeNames=["All"],
        )
        .get("Messages", [])
    )


def delete(region: Region, queue_url: str, message: dict[str, Any]) -> None:
    region.client("sqs").delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


def plan_queued(region: Region, pipeline: Pipeline, wait_s: int = 0) -> list[Decision]:
    """Every request message queued in ``region`` through plan, deleted as Lambda would."""
    decisions: list[Decision] = []
    for message in receive(region, region.requests_url, wait_s):
        attributes = {
            name: {"stringValue": value.get("StringValue")}
            for name, value in message.get("MessageAttributes", {}).items()
        }
        decisions += handle_request_message(
            message["Body"], message["MessageId"], 1, pipeline, first_seen=first_seen_of(attributes)
        )
        delete(region, region.requests_url, message)
    return decisions


def synthesize_queued(
    region: Region, pipeline: Pipeline, request_id: str | None = None, only: int | None = None
) -> int:
    """Chunk tasks queued in ``region`` through synthesize, deleted as Lambda would.

    ``request_id``: only that request's tasks (others, left by earlier tests, are
    deleted), and ``only``: of those, only that index (the rest go back to the queue).
    Returns how many were handled."""
    sqs, queue = region.client("sqs"), region.service.chunks_queue_url
    handled = 0
    while messages := receive(region, queue, wait_s=1):
        chosen, back = [], []
        for message in messages:
            task = ChunkTask.model_validate_json(message["Body"])
            if request_id not in (None, task.request_id):
                delete(region, queue, message)
            elif only in (None, task.index):
                chosen.append((task, message))
            else:
                back.append(message)
        batch = BatchSynthesis([task for task, _ in chosen], pipeline)
        try:
            for task, message in chosen:
                complete_chunk(task, batch, 1, pipeline)
                delete(region, queue, message)
                handled += 1
        finally:
            batch.close()
        for message in back:  # visible again at once, not after the visibility timeout
            sqs.change_message_visibility(
                QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
            )
        if back or not chosen:
            break
    return handled


def replies(region: Region, request_id: str, wait_s: int = 2) -> list[dict[str, Any]]:
    seen = []
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        for message in receive(region, region.replies_url, wait_s=1):
            event = json.loads(message["Body"])
            if event["detail"].get("request_id") == request_id:
                seen.append(event)
            delete(region, region.replies_url, message)
    return seen


# --- replication by hand ---------------------------------------------------------------------


def replicate_item(regions: dict[str, Region], table: str, key: dict[str, Any]) -> dict[str, Any]:
    item = (
        regions[PRIMARY]
        .client("dynamodb")
        .get_item(TableName=table, Key=key, ConsistentRead=True)["Item"]
    )
    regions[SECONDARY].client("dynamodb").put_item(TableName=table, Item=item)
    return dict(item)


def replicate_object(regions: dict[str, Region], key: str) -> None:
    body = (
        regions[PRIMARY]
        .client("s3")
        .get_object(Bucket=regions[PRIMARY].service.bucket, Key=key)["Body"]
        .read()
    )
    regions[SECONDARY].client("s3").put_object(
        Bucket=regions[SECONDARY].service.bucket, Key=key, Body=body, ContentType="audio/wav"
    )


def job_item(region: Region, request_id: str) -> dict[str, Any] | None:
    item = region.client("dynamodb").get_item(
        TableName="voxflow-jobs", Key={"request_id": {"S": request_id}}, ConsistentRead=True
    )
    found: dict[str, Any] | None = item.get("Item")
    return found


def chunk_objects(region: Region) -> set[str]:
    listing = region.client("s3").list_objects_v2(Bucket=region.service.bucket, Prefix="chunks/")
    return {item["Key"] for item in listing.get("Contents", [])}


def request_body(request_id: str, text: str, reply_url: str) -> str:
    return json.dumps(
        {
            "request_id": request_id,
            "text": text,
            "format": "wav",
            "params": SILENT,
            "reply_to": {"queue_url": reply_url},
        }
    )


def engine_audio(engine: Engine, text: str) -> Any:
    chunks = split_into_chunks(normalize_text(text))
    local = [c.pcm for c in engine.synthesize(chunks, "joe", SynthesisParams(**SILENT))]
    return join_pcm(local, 22050, pause_s=0.2)


# --- (a) standby, then drop ---------------------------------------------------------------------


def test_secondary_stands_by_while_the_primary_works_then_drops(
    regions: dict[str, Region], primary: Pipeline, secondary: Pipeline
) -> None:
    _set_primary(regions, healthy=True)
    east, west = regions[PRIMARY], regions[SECONDARY]
    request_id = f"standby-{uuid.uuid4().hex[:8]}"
    body = request_body(request_id, "Wait for the primary.", east.replies_url)
    # The primary plans it (its chunk tasks stay queued there) and the job replicates.
    assert handle_request_message(body, "m-1", 1, primary) == [Decision.CREATE]
    replicate_item(regions, "voxflow-jobs", {"request_id": {"S": request_id}})
    objects_before = chunk_objects(west)

    west.client("sqs").send_message(QueueUrl=west.requests_url, MessageBody=body)
    assert plan_queued(west, secondary) == [Decision.STANDBY]
    # Sent again with a delay: not visible at once, then carrying the first-seen time.
    assert receive(west, west.requests_url) == []
    time.sleep(1.2)
    again = receive(west, west.requests_url, wait_s=2)
    assert [json.loads(m["Body"])["request_id"] for m in again] == [request_id]
    first_seen = float(again[0]["MessageAttributes"][FIRST_SEEN_ATTRIBUTE]["StringValue"])
    assert time.time() - 10 < first_seen <= time.time()
    for message in again:  # back to the queue, to be planned below
        west.client("sqs").change_message_visibility(
            QueueUrl=west.requests_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
        )
    assert receive(west, west.service.chunks_queue_url) == []
    assert chunk_objects(west) == objects_before
    assert job_item(west, request_id)["owner_region"]["S"] == PRIMARY  # type: ignore[index]

    # The primary finishes; its terminal state replicates (its event not yet marked sent).
    west.client("dynamodb").update_item(
        TableName="voxflow-jobs",
        Key={"request_id": {"S": request_id}},
        UpdateExpression="SET #s = :done, result_json = :r",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":done": {"S": "completed"}, ":r": {"S": "{}"}},
    )
    assert plan_queued(west, secondary) == [Decision.DROP]
    assert receive(west, west.requests_url, wait_s=2) == []  # not sent again
    assert replies(west, request_id, wait_s=1) == []  # the secondary sent no terminal event
    assert counts(secondary)["ChunksSynthesized"] == 0


def _drain(region: Region) -> list[dict[str, Any]]:
    """Every message visible in ``region``'s requests queue, deleted."""
    messages = receive(region, region.requests_url, wait_s=2)
    for message in messages:
        delete(region, region.requests_url, message)
    return messages


def test_standby_copies_are_looked_at_together_and_sent_again_in_one_call(
    regions: dict[str, Region], primary: Pipeline, secondary: Pipeline
) -> None:
    """A batch's standby copies whose table decision is still STANDBY go back in one
    SendMessageBatch after one batched job read; the others are planned one by one."""
    _set_primary(regions, healthy=True)
    west = regions[SECONDARY]
    _drain(west)
    tag = uuid.uuid4().hex[:6]
    owned_there, no_job, answered, fresh = (f"{name}-{tag}" for name in "abcd")
    for request_id in (owned_there, answered):
        body = request_body(request_id, f"Together {request_id}.", west.replies_url)
        assert handle_request_message(body, f"p-{request_id}", 1, primary) == [Decision.CREATE]
        replicate_item(regions, "voxflow-jobs", {"request_id": {"S": request_id}})
    west.client("dynamodb").update_item(
        TableName="voxflow-jobs",
        Key={"request_id": {"S": answered}},
        UpdateExpression="SET #s = :done",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":done": {"S": "completed"}},
    )
    seen = time.time() - 4
    records = [
        QueuedRequest(f"m-{rid}", request_body(rid, "Any.", west.replies_url), first_seen)
        for rid, first_seen in (
            (owned_there, seen),
            (no_job, seen),
            (answered, seen),
            (fresh, None),  # a first delivery: always planned
        )
    ]
    calls: list[str] = []
    assert secondary.regions.standby_queue is not None
    sqs = secondary.regions.standby_queue._sqs
    sqs.meta.events.register("before-send.sqs.*", lambda **kw: calls.append(kw["event_name"]))
    before = counts(secondary)["RequestsOnStandby"]
    try:
        assert still_on_standby(records, secondary) == {f"m-{owned_there}", f"m-{no_job}"}
    finally:
        sqs.meta.events.unregister("before-send.sqs.*")
    assert calls == ["before-send.sqs.SendMessageBatch"]
    assert counts(secondary)["RequestsOnStandby"] == before + 2
    time.sleep(2.5)  # the standby delay of a copy first seen 4 s ago
    again = _drain(west)
    assert sorted(json.loads(m["Body"])["request_id"] for m in again) == sorted(
        [owned_there, no_job]
    )
    assert {m["MessageAttributes"][FIRST_SEEN_ATTRIBUTE]["StringValue"] for m in again} == {
        f"{seen:.3f}"
    }


def test_standby_copies_wait_on_their_own_queue_and_first_deliveries_go_back_to_requests(
    regions: dict[str, Region],
    primary: Pipeline,
    moto: MotoServer,
    registry: VoiceRegistry,
    engine: Engine,
) -> None:
    """With StandbyQueue (the template's), a standby look sends its copy there, never to
    RequestsQueue, so that new requests are not planned behind a failover's takeovers;
    records plan has no time for go back where they came from: first deliveries to
    RequestsQueue, copies to StandbyQueue."""
    _set_primary(regions, healthy=True)
    east, west = regions[PRIMARY], regions[SECONDARY]
    _drain(west)
    standby_url = west.client("sqs").create_queue(QueueName=f"standby-{uuid.uuid4().hex[:6]}")[
        "QueueUrl"
    ]
    split = _pipeline(west, Role.SECONDARY, moto, registry, engine, standby_queue_url=standby_url)
    request_id = f"own-queue-{uuid.uuid4().hex[:8]}"
    body = request_body(request_id, "Wait on your own queue.", east.replies_url)
    assert handle_request_message(body, "m-own", 1, primary) == [Decision.CREATE]
    replicate_item(regions, "voxflow-jobs", {"request_id": {"S": request_id}})
    assert handle_request_message(body, "m-own-west", 1, split) == [Decision.STANDBY]
    time.sleep(1.2)  # the standby delay
    assert receive(west, west.requests_url, wait_s=1) == []
    copies = receive(west, standby_url, wait_s=2)
    assert [json.loads(m["Body"])["request_id"] for m in copies] == [request_id]
    assert FIRST_SEEN_ATTRIBUTE in copies[0]["MessageAttributes"]
    for message in copies:
        delete(west, standby_url, message)

    now = [0.0]
    new, copy = (f"{kind}-{uuid.uuid4().hex[:6]}" for kind in ("new", "copy"))
    records = [
        QueuedRequest(f"m-{new}", request_body(new, "New.", west.replies_url)),
        QueuedRequest(f"m-{copy}", request_body(copy, "Old.", west.replies_url), time.time()),
    ]
    late = Invocation(records, split, remaining_s=30, clock=lambda: now[0])
    now[0] = 16.0  # past half the time: the whole batch goes back
    assert late.settled(records[0])
    assert late.settled(records[1])
    back = {queue: _drain_queue(west, queue) for queue in (west.requests_url, standby_url)}
    assert [json.loads(m["Body"])["request_id"] for m in back[west.requests_url]] == [new]
    assert [json.loads(m["Body"])["request_id"] for m in back[standby_url]] == [copy]


def test_after_a_failover_the_old_owners_backlog_waits_on_the_recovery_lane(
    regions: dict[str, Region], moto: MotoServer, registry: VoiceRegistry, engine: Engine
) -> None:
    """A standby copy planned once the primary is lost is the failover's backlog, even
    where the primary never made its job (created here, not taken over): its chunk tasks
    go to the recovery lane. A request first delivered now goes to the new lanes."""
    _set_primary(regions, healthy=False)
    try:
        west = regions[SECONDARY]
        recovery_url = west.client("sqs").create_queue(
            QueueName=f"recovery-{uuid.uuid4().hex[:6]}"
        )["QueueUrl"]
        with_lane = replace(
            west,
            service=replace(west.service, recovery_chunks_queue_url=recovery_url),
        )
        pipeline = _pipeline(with_lane, Role.SECONDARY, moto, registry, engine)
        _drain_queue(west, west.service.chunks_queue_url)
        old, new = (f"{kind}-{uuid.uuid4().hex[:8]}" for kind in ("old", "new"))
        copy = request_body(old, "Waited for the primary.", west.replies_url)
        decisions = handle_request_message(
            copy, f"m-{old}", 1, pipeline, first_seen=time.time() - 30
        )
        assert decisions == [Decision.CREATE]
        first = request_body(new, "Published after the loss.", west.replies_url)
        assert handle_request_message(first, f"m-{new}", 1, pipeline) == [Decision.CREATE]
        lanes = {
            url: {json.loads(m["Body"])["request_id"] for m in _drain_queue(west, url)}
            for url in (recovery_url, west.service.chunks_queue_url)
        }
        assert lanes == {recovery_url: {old}, west.service.chunks_queue_url: {new}}
    finally:
        _set_primary(regions, healthy=True)


def test_with_the_primary_down_the_secondary_plans_a_stale_request_without_the_guard(
    regions: dict[str, Region],
    moto: MotoServer,
    registry: VoiceRegistry,
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Behind a failover's backlog every new request grows stale; the guard asks a peer
    that is up only, so here the job is created first, without reading it (and plan
    reads ahead): two calls fewer a request while plan is the bottleneck (issue 17)."""
    _set_primary(regions, healthy=False)
    try:
        west = regions[SECONDARY]
        pipeline = _pipeline(west, Role.SECONDARY, moto, registry, engine)
        assert not pipeline.regions.primary_healthy()
        claimed: list[str] = []
        for step in ("create", "get"):
            monkeypatch.setattr(
                pipeline.jobs, step, _noted(getattr(pipeline.jobs, step), step, claimed)
            )
        request_id = f"late-{uuid.uuid4().hex[:8]}"
        body = stale_body(request_id, "Published before the backlog cleared.", west.replies_url)
        assert pipeline.regions.stale(time.time() - 120)
        assert not pipeline.regions.guards(time.time() - 120)
        assert handle_request_message(body, f"w-{request_id}", 1, pipeline) == [Decision.CREATE]
        assert claimed == ["create"]
        assert job_item(west, request_id) is not None
        _drain_queue(west, west.service.chunks_queue_url)
    finally:
        _set_primary(regions, healthy=True)


def _drain_queue(region: Region, queue_url: str) -> list[dict[str, Any]]:
    messages = receive(region, queue_url, wait_s=2)
    for message in messages:
        delete(region, queue_url, message)
    return messages


def test_records_plan_has_no_time_for_are_sent_back_at_once_together(
    regions: dict[str, Region], secondary: Pipeline
) -> None:
    """Records start only in the first half of the invocation's time, and only while
    twice the slowest record so far fits before its end: the rest of the batch goes
    back in one call, without delay, and those records succeed unplanned."""
    west = regions[SECONDARY]
    _drain(west)
    now = [0.0]

    def batch(*names: str) -> list[QueuedRequest]:
        return [QueuedRequest(f"m-{n}", request_body(n, "Later.", west.replies_url)) for n in names]

    first = batch("h1", "h2", "h3")
    halves = Invocation(first, secondary, remaining_s=30, clock=lambda: now[0])
    assert not halves.settled(first[0])
    now[0] = 5.0
    assert not halves.settled(first[1])  # 5 s so far: 2 x 5 s still fits
    now[0] = 15.0
    before = counts(secondary)["RequestsDeferred"]
    assert halves.settled(first[2])  # past half the time
    assert counts(secondary)["RequestsDeferred"] == before + 1

    second = batch("s1", "s2", "s3", "s4")
    now[0] = 100.0
    slow = Invocation(second, secondary, remaining_s=30, clock=lambda: now[0])
    assert not slow.settled(second[0])
    now[0] = 112.0  # the first took 12 s: two more would not fit
    assert slow.settled(second[1])
    assert slow.settled(second[2])
    assert slow.settled(second[3])
    assert counts(secondary)["RequestsDeferred"] == before + 4
    back = _drain(west)  # no delay
    assert sorted(json.loads(m["Body"])["request_id"] for m in back) == ["h3", "s2", "s3", "s4"]
    # First deliveries go back as first deliveries: never on standby, no first-seen time.
    assert not any(FIRST_SEEN_ATTRIBUTE in m.get("MessageAttributes", {}) for m in back)


# --- (a2) the stale-request guard: a late copy of a request after failback --------------------


def stale_body(request_id: str, text: str, reply_url: str, age_s: float = 120.0) -> str:
    """A request as its late copy reaches a region: published ``age_s`` ago."""
    body = json.loads(request_body(request_id, text, reply_url))
    body["requested_at"] = (datetime.now(UTC) - timedelta(seconds=age_s)).isoformat()
    return json.dumps(body)


def terminal_replies(region: Region, request_id: str, wait_s: int = 2) -> list[str]:
    return [
        event["detail-type"]
        for event in replies(region, request_id, wait_s)
        if event["detail-type"] in ("SynthesisCompleted", "SynthesisFailed")
    ]


def answered_by_the_secondary_alone(
    regions: dict[str, Region], secondary: Pipeline, text: str, *, finish: bool = True
) -> tuple[str, str]:
    """A request the secondary planned (and answered) while the primary was down, whose
    job has not replicated to the primary: (its id, its body)."""
    west = regions[SECONDARY]
    request_id = f"late-{uuid.uuid4().hex[:8]}"
    body = stale_body(request_id, text, west.replies_url)
    _set_primary(regions, healthy=False)
    try:
        assert handle_request_message(body, f"w-{request_id}", 1, secondary) == [Decision.CREATE]
    finally:
        _set_primary(regions, healthy=True)
    if finish:
        synthesize_queued(west, secondary, request_id)
        assert terminal_replies(west, request_id) == ["SynthesisCompleted"]
    return request_id, body


def test_without_the_guard_a_recovered_primary_answers_a_late_copy_again(
    regions: dict[str, Region],
    moto: MotoServer,
    registry: VoiceRegistry,
    engine: Engine,
    secondary: Pipeline,
) -> None:
    """The double answer the guard prevents, reproduced with the guard off."""
    east = regions[PRIMARY]
    unguarded = _pipeline(east, Role.PRIMARY, moto, registry, engine, stale_request_s=0)
    unguarded.regions.health = primary_health_uncached(moto.url)
    request_id, body = answered_by_the_secondary_alone(regions, secondary, "Answer me once.")
    assert job_item(east, request_id) is None  # not replicated yet

    assert handle_request_message(body, f"e-{request_id}", 1, unguarded) == [Decision.CREATE]
    assert synthesize_queued(east, unguarded, request_id) == 1
    assert terminal_replies(east, request_id) == ["SynthesisCompleted"]  # a second answer


def test_the_guard_drops_a_late_copy_the_other_region_answered(
    regions: dict[str, Region], primary: Pipeline, secondary: Pipeline
) -> None:
    east = regions[PRIMARY]
    request_id, body = answered_by_the_secondary_alone(regions, secondary, "Answer me once.")
    assert job_item(east, request_id) is None

    before = counts(primary)["StaleRequestsAnsweredElsewhere"]
    assert handle_request_message(body, f"e-{request_id}", 1, primary) == [Decision.DROP]
    assert counts(primary)["StaleRequestsAnsweredElsewhere"] == before + 1
    assert job_item(east, request_id) is None  # nothing created here
    assert synthesize_queued(east, primary, request_id) == 0  # no chunk task queued
    assert terminal_replies(east, request_id) == []


def test_the_guard_stands_by_for_a_late_copy_pending_in_the_other_region(
    regions: dict[str, Region], primary: Pipeline, secondary: Pipeline
) -> None:
    east, west = regions[PRIMARY], regions[SECONDARY]
    request_id, body = answered_by_the_secondary_alone(
        regions, secondary, "Still working on it.", finish=False
    )
    assert handle_request_message(body, f"e-{request_id}", 1, primary) == [Decision.STANDBY]
    assert job_item(east, request_id) is None
    # Once the secondary's job has replicated, the look from standby follows the table:
    # a healthy owner's pending job (the secondary counts as healthy) is not worked here.
    item = replicate_to_primary(regions, request_id)
    assert item["owner_region"]["S"] == SECONDARY
    again = receive(east, east.requests_url, wait_s=3)
    assert [json.loads(m["Body"])["request_id"] for m in again] == [request_id]
    for message in again:
        east.client("sqs").change_message_visibility(
            QueueUrl=east.requests_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
        )
    assert plan_queued(east, primary) == [Decision.STANDBY]
    synthesize_queued(west, secondary, request_id)
    assert terminal_replies(west, request_id) == ["SynthesisCompleted"]
    replicate_to_primary(regions, request_id)
    time.sleep(1.2)  # the standby delay
    assert plan_queued(east, primary, wait_s=3) == [Decision.DROP]
    assert terminal_replies(east, request_id, wait_s=1) == []


def _noted(call: Any, name: str, calls: list[str]) -> Any:
    def noted(*args: Any, **kwargs: Any) -> Any:
        calls.append(name)
        return call(*args, **kwargs)

    return noted


def test_a_hit_is_answered_at_once_only_where_the_claim_creates_first(
    regions: dict[str, Region],
    primary: Pipeline,
    secondary: Pipeline,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """voxflow.pipeline.hit with two regions (docs/failover.md, "Cache hits with two
    regions"): the active region answers a fresh hit in one transaction, without the
    claim's create or read; a stale copy still meets the guard, and the region that is
    not the active one still stands by, though the audio is cached in both."""
    east, west = regions[PRIMARY], regions[SECONDARY]
    text = f"Answered at once {uuid.uuid4().hex[:6]}."
    # Cached in the secondary (its answer while the primary was down; not replicated).
    late_id, late_body = answered_by_the_secondary_alone(regions, secondary, text)
    first = f"first-{uuid.uuid4().hex[:8]}"
    body = stale_body(first, text, east.replies_url, age_s=0)
    assert handle_request_message(body, f"e-{first}", 1, primary) == [Decision.CREATE]
    assert synthesize_queued(east, primary, first) == 1  # cached in the primary too
    assert terminal_replies(east, first) == ["SynthesisCompleted"]

    claimed: list[str] = []
    for step in ("create", "get"):
        monkeypatch.setattr(primary.jobs, step, _noted(getattr(primary.jobs, step), step, claimed))
    hit = f"hit-{uuid.uuid4().hex[:8]}"
    body = stale_body(hit, text, east.replies_url, age_s=0)
    assert handle_request_message(body, f"e-{hit}", 1, primary) == [Decision.CREATE]
    assert claimed == []  # one transaction, no claim
    assert terminal_replies(east, hit) == ["SynthesisCompleted"]
    job = job_item(east, hit)
    assert job is not None
    assert (job["status"]["S"], job["cache"]["S"]) == ("completed", "hit")
    assert synthesize_queued(east, primary, hit) == 0

    # The stale copy of the secondary's answer: the guard asks the secondary and drops it.
    before = counts(primary)["StaleRequestsAnsweredElsewhere"]
    assert handle_request_message(late_body, f"e-{late_id}", 1, primary) == [Decision.DROP]
    assert counts(primary)["StaleRequestsAnsweredElsewhere"] == before + 1
    assert job_item(east, late_id) is None
    assert terminal_replies(east, late_id) == []

    # The secondary, primary healthy and no job: standby, no answer, though cached there.
    fresh = f"west-{uuid.uuid4().hex[:8]}"
    body = stale_body(fresh, text, west.replies_url, age_s=0)
    assert handle_request_message(body, f"w-{fresh}", 1, secondary) == [Decision.STANDBY]
    assert job_item(west, fresh) is None
    assert terminal_replies(west, fresh, wait_s=1) == []
    time.sleep(1.2)
    _drain(west)  # its copy sent again from standby: not for the tests after this one


def test_a_fresh_request_or_one_without_a_time_is_not_checked_with_the_other_region(
    regions: dict[str, Region], primary: Pipeline
) -> None:
    east = regions[PRIMARY]
    assert primary.regions.stale(time.time() - 11)
    assert not primary.regions.stale(time.time() - 1)
    assert not primary.regions.stale(None)
    for request_id, body in (
        (rid := f"fresh-{uuid.uuid4().hex[:8]}", stale_body(rid, "Now.", east.replies_url, 0)),
        (rid2 := f"timeless-{uuid.uuid4().hex[:8]}", request_body(rid2, "Now.", east.replies_url)),
    ):
        assert handle_request_message(body, f"e-{request_id}", 1, primary) == [Decision.CREATE]
    assert counts(primary)["StaleRequestPeerUnavailable"] == 0


def test_an_unreachable_other_region_puts_a_stale_request_on_standby(
    regions: dict[str, Region], primary: Pipeline
) -> None:
    east = regions[PRIMARY]
    config = replace(
        primary.regions.config, secondary_endpoint_url=f"http://127.0.0.1:{free_port()}"
    )
    cut_off = replace(
        primary,
        regions=replace(
            primary.regions,
            config=config,
            peer_jobs=peer_jobs(config, _local(PRIMARY), "voxflow-jobs"),
        ),
    )
    request_id = f"cutoff-{uuid.uuid4().hex[:8]}"
    body = stale_body(request_id, "Nobody to ask.", east.replies_url)
    before = counts(primary)["StaleRequestPeerUnavailable"]
    assert handle_request_message(body, f"e-{request_id}", 1, cut_off) == [Decision.STANDBY]
    assert counts(primary)["StaleRequestPeerUnavailable"] == before + 1
    assert job_item(east, request_id) is None  # a slow peer may have answered it: not here
    again = receive(east, east.requests_url, wait_s=3)  # looked at again later
    assert [json.loads(m["Body"])["request_id"] for m in again] == [request_id]
    for message in again:
        delete(east, east.requests_url, message)


def test_the_other_region_is_not_asked_again_right_after_it_did_not_answer() -> None:
    calls: list[str] = []
    now = [100.0]

    class Failing:
        def get_item(self, **_: Any) -> dict[str, Any]:
            calls.append("get_item")
            raise EndpointConnectionError(endpoint_url="http://peer")

    peer = PeerJobs(Failing, "voxflow-jobs", hold_s=3, clock=lambda: now[0])
    for _ in range(3):
        with pytest.raises(PeerUnavailable):
            peer.get("r-1")
    assert calls == ["get_item"]  # one timeout per hold, not one per request
    now[0] += 3.5
    with pytest.raises(PeerUnavailable):
        peer.get("r-1")
    assert len(calls) == 2


class _SlowPeer:
    """The other region's DynamoDB endpoint, loaded: its first connection is dropped
    without an answer, every later read answers "no item" after ``delay_s``."""

    def __init__(self, delay_s: float) -> None:
        self.delay_s = delay_s
        self.requests = 0
        self._server = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._server.getsockname()[1]}"
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self._server.accept()
            except OSError:
                return
            with connection:
                connection.recv(65536)
                self.requests += 1
                if self.requests == 1:
                    continue  # dropped: the client sees the connection closed
                time.sleep(self.delay_s)
                body = b"{}"
                connection.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.0\r\n"
                    b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body)
                )

    def close(self) -> None:
        self._server.close()


def test_a_slow_other_region_is_waited_for_and_asked_twice() -> None:
    """The peer read the guard makes: a dropped first try is tried again, and an answer
    that takes 2 s (past the health probe's 1 s, which the read used to share) counts."""
    peer = _SlowPeer(delay_s=2.0)
    try:
        config = _secondary_config(
            role=Role.PRIMARY, region=PRIMARY, secondary_endpoint_url=peer.url
        )
        jobs = peer_jobs(config, _local(PRIMARY), "voxflow-jobs")
        assert jobs is not None
        assert jobs.get("r-slow") is None  # no job there: create here
        assert peer.requests == 2
    finally:
        peer.close()


def _held_and_looked_at(
    east_body: str, primary: Pipeline, waited_s: float, regions: dict[str, Region]
) -> list[Decision]:
    east = regions[PRIMARY]
    decisions = handle_request_message(
        east_body, f"e-{uuid.uuid4().hex[:6]}", 1, primary, first_seen=time.time() - waited_s
    )
    for message in receive(east, east.requests_url, wait_s=0):
        delete(east, east.requests_url, message)  # the standby copy: looked at by hand
    return decisions


def test_both_regions_standing_by_on_a_silent_peer_ends_in_one_answer(
    regions: dict[str, Region],
    moto: MotoServer,
    registry: VoiceRegistry,
    engine: Engine,
    secondary: Pipeline,
) -> None:
    """The stall after failback (issue 17 part 7): a late copy of a request reaches the
    recovered primary, whose reads of the secondary's table get no answer, and the
    secondary's own copy looks again while the primary is healthy. Each stands by for
    the other until VOXFLOW_STANDBY_MAX_S. With VOXFLOW_PEER_SILENT_MAX_S the primary
    creates it once it has held it that long, and answers it once."""
    east, west = regions[PRIMARY], regions[SECONDARY]

    def cut_off(silent_max_s: int) -> Pipeline:
        pipeline = _pipeline(east, Role.PRIMARY, moto, registry, engine)
        config = replace(
            pipeline.regions.config,
            secondary_endpoint_url=f"http://127.0.0.1:{free_port()}",
            peer_silent_max_s=silent_max_s,
        )
        return replace(
            pipeline,
            regions=replace(
                pipeline.regions,
                config=config,
                peer_jobs=peer_jobs(config, _local(PRIMARY), "voxflow-jobs"),
            ),
        )

    request_id = f"stall-{uuid.uuid4().hex[:8]}"
    text = f"Nobody answers {request_id[-4:]}."
    _set_primary(regions, healthy=True)
    # Without the bound (as before: only VOXFLOW_STANDBY_MAX_S, 900 s, ends it), five
    # minutes on, neither region works on it.
    unbounded = cut_off(silent_max_s=900)
    for waited_s in (0, 60, 300):
        west_body = stale_body(request_id, text, west.replies_url, age_s=waited_s + 30)
        assert handle_request_message(
            west_body, f"w-{waited_s}", 1, secondary, first_seen=time.time() - waited_s
        ) == [Decision.STANDBY]
        for message in receive(west, west.requests_url, wait_s=0):
            delete(west, west.requests_url, message)
        east_body = stale_body(request_id, text, east.replies_url, age_s=waited_s + 30)
        assert _held_and_looked_at(east_body, unbounded, waited_s, regions) == [Decision.STANDBY]
    assert job_item(east, request_id) is None
    assert job_item(west, request_id) is None

    bounded = cut_off(silent_max_s=60)
    east_body = stale_body(request_id, text, east.replies_url, age_s=60)
    assert _held_and_looked_at(east_body, bounded, 30, regions) == [Decision.STANDBY]
    assert _held_and_looked_at(east_body, bounded, 61, regions) == [Decision.CREATE]
    assert counts(bounded)["StaleRequestsCreatedPeerSilent"] == 1
    assert synthesize_queued(east, bounded, request_id) == 1
    assert terminal_replies(east, request_id) == ["SynthesisCompleted"]
    # The secondary, once the primary's finished job has replicated, drops its copy.
    item = (
        regions[PRIMARY]
        .client("dynamodb")
        .get_item(
            TableName="voxflow-jobs", Key={"request_id": {"S": request_id}}, ConsistentRead=True
        )["Item"]
    )
    west.client("dynamodb").put_item(TableName="voxflow-jobs", Item=item)
    west_body = stale_body(request_id, text, west.replies_url, age_s=120)
    assert handle_request_message(west_body, "w-last", 1, secondary) == [Decision.DROP]
    assert terminal_replies(west, request_id, wait_s=1) == []
    for region in (east, west):  # the standby copies still delayed: not the next test's
        region.client("sqs").purge_queue(QueueUrl=region.requests_url)


def replicate_to_primary(regions: dict[str, Region], request_id: str) -> dict[str, Any]:
    key = {"request_id": {"S": request_id}}
    item = (
        regions[SECONDARY]
        .client("dynamodb")
        .get_item(TableName="voxflow-jobs", Key=key, ConsistentRead=True)["Item"]
    )
    regions[PRIMARY].client("dynamodb").put_item(TableName="voxflow-jobs", Item=item)
    return dict(item)


# --- (b) takeover -------------------------------------------------------------------------------


def test_takeover_synthesizes_only_the_missing_chunks(
    regions: dict[str, Region], primary: Pipeline, secondary: Pipeline, engine: Engine
) -> None:
    _set_primary(regions, healthy=True)
    east, west = regions[PRIMARY], regions[SECONDARY]
    tag = uuid.uuid4().hex[:4]
    # The tag never ends a sentence: one ending in "cf" reads as an abbreviation.
    text = f"First part {tag} now. Second part {tag} now. Third part {tag} now."
    request_id = f"takeover-{tag}"
    body = request_body(request_id, text, east.replies_url)
    assert handle_request_message(body, "m-2", 1, primary) == [Decision.CREATE]
    # The primary stores chunks 0 and 1, then stops before chunk 2.
    assert synthesize_queued(east, primary, request_id, only=0) == 1
    job_after_0 = replicate_item(regions, "voxflow-jobs", {"request_id": {"S": request_id}})
    assert synthesize_queued(east, primary, request_id, only=1) == 1
    # What replicated: the job as it was after chunk 0, both chunks' index entries and audio.
    assert {int(n) for n in job_after_0["done"]["NS"]} == {0}
    chunk_keys = chunk_keys_in(job_after_0["chunk_keys"])
    for key in chunk_keys[:2]:
        entry = replicate_item(regions, "voxflow-cache", {"key": {"S": key}})
        assert entry["region"]["S"] == PRIMARY
        replicate_object(regions, entry["s3_key"]["S"])
    west_objects = chunk_objects(west)

    _set_primary(regions, healthy=False)
    synthesized = counts(secondary)["ChunksSynthesized"]
    west.client("sqs").send_message(QueueUrl=west.requests_url, MessageBody=body)
    assert plan_queued(west, secondary) == [Decision.TAKE_OVER]
    assert job_item(west, request_id)["owner_region"]["S"] == SECONDARY  # type: ignore[index]
    assert synthesize_queued(west, secondary) == 1  # only chunk 2 was queued
    assert counts(secondary)["ChunksSynthesized"] - synthesized == 1
    assert chunk_objects(west) - west_objects == {f"chunks/{chunk_keys[2]}.wav"}

    # The reply goes to this region's queue of the same name as the one the client named.
    events = replies(west, request_id)
    kinds = Counter(event["detail-type"] for event in events)
    assert kinds["SynthesisCompleted"] == 1
    assert "SynthesisFailed" not in kinds
    completed = SynthesisCompleted.model_validate(
        next(e["detail"] for e in events if e["detail-type"] == "SynthesisCompleted")
    )
    assert completed.region == SECONDARY
    key = f"audio/{completed.key}.wav"
    data = west.client("s3").get_object(Bucket=west.service.bucket, Key=key)["Body"].read()
    pcm, rate = decode(data)
    expected = engine_audio(engine, text)
    assert rate == 22050
    assert len(pcm) == len(expected)
    assert np.corrcoef(pcm.astype(float), expected.astype(float))[0, 1] >= 0.999
    # A redelivery after the takeover finds the job done: dropped, nothing sent again.
    west.client("sqs").send_message(QueueUrl=west.requests_url, MessageBody=body)
    assert plan_queued(west, secondary) == [Decision.DROP]
    assert replies(west, request_id, wait_s=1) == []


def test_takeover_synthesizes_chunks_done_elsewhere_whose_audio_has_not_arrived(
    regions: dict[str, Region], primary: Pipeline, secondary: Pipeline, engine: Engine
) -> None:
    """The job's item replicates before the chunk objects do: a chunk the old owner
    finished counts as done here only once its audio is here (the drill's NoSuchKey)."""
    _set_primary(regions, healthy=True)
    east, west = regions[PRIMARY], regions[SECONDARY]
    tag = uuid.uuid4().hex[:4]
    text = f"Early part {tag} now. Late part {tag} now."
    request_id = f"takeover-noaudio-{tag}"
    body = request_body(request_id, text, east.replies_url)
    assert handle_request_message(body, "m-3", 1, primary) == [Decision.CREATE]
    assert synthesize_queued(east, primary, request_id, only=0) == 1
    job = replicate_item(regions, "voxflow-jobs", {"request_id": {"S": request_id}})
    assert {int(n) for n in job["done"]["NS"]} == {0}
    first_key = chunk_keys_in(job["chunk_keys"])[0]
    replicate_item(regions, "voxflow-cache", {"key": {"S": first_key}})  # not its audio

    _set_primary(regions, healthy=False)
    west.client("sqs").send_message(QueueUrl=west.requests_url, MessageBody=body)
    assert plan_queued(west, secondary) == [Decision.TAKE_OVER]
    assert synthesize_queued(west, secondary) == 2  # chunk 0 again, and chunk 1
    events = replies(west, request_id)
    kinds = Counter(event["detail-type"] for event in events)
    assert kinds["SynthesisCompleted"] == 1, kinds
    assert "SynthesisFailed" not in kinds
    completed = SynthesisCompleted.model_validate(
        next(e["detail"] for e in events if e["detail-type"] == "SynthesisCompleted")
    )
    key = f"audio/{completed.key}.wav"
    data = west.client("s3").get_object(Bucket=west.service.bucket, Key=key)["Body"].read()
    pcm, _ = decode(data)
    expected = engine_audio(engine, text)
    assert len(pcm) == len(expected)
    assert np.corrcoef(pcm.astype(float), expected.astype(float))[0, 1] >= 0.999


# --- (c) chunk tasks of another region's job ---------------------------------------------------


def synthesize_batch(region: Region, pipeline: Pipeline, wait_s: int = 2) -> list[ChunkTask]:
    """One batch of the chunks queue through synthesize, deleted as Lambda would."""
    queue = region.service.chunks_queue_url
    messages = receive(region, queue, wait_s)
    tasks = [ChunkTask.model_validate_json(message["Body"]) for message in messages]
    batch = BatchSynthesis(tasks, pipeline)
    try:
        for task, message in zip(tasks, messages, strict=True):
            complete_chunk(task, batch, 1, pipeline)
            delete(region, queue, message)
    finally:
        batch.close()
    return tasks


def owned_by_the_primary_with_its_task_in_the_secondary(
    regions: dict[str, Region], primary: Pipeline, text: str
) -> str:
    """A job the primary owns (replicated), whose one chunk task is queued in the
    secondary only (as after a takeover that replication has since undone)."""
    _set_primary(regions, healthy=True)
    east, west = regions[PRIMARY], regions[SECONDARY]
    request_id = f"foreign-chunk-{uuid.uuid4().hex[:8]}"
    body = request_body(request_id, f"{text} {uuid.uuid4().int % 1000}.", east.replies_url)
    assert handle_request_message(body, f"m-{request_id}", 1, primary) == [Decision.CREATE]
    replicate_item(regions, "voxflow-jobs", {"request_id": {"S": request_id}})
    tasks = receive(east, east.service.chunks_queue_url, wait_s=1)
    mine = [m for m in tasks if json.loads(m["Body"])["request_id"] == request_id]
    assert len(mine) == 1
    west.client("sqs").send_message(
        QueueUrl=west.service.chunks_queue_url, MessageBody=mine[0]["Body"]
    )
    for message in tasks:
        delete(east, east.service.chunks_queue_url, message)
    return request_id


def test_chunk_task_of_a_job_owned_elsewhere_waits_unsynthesized_until_the_job_ends(
    regions: dict[str, Region], primary: Pipeline, secondary: Pipeline
) -> None:
    west = regions[SECONDARY]
    request_id = owned_by_the_primary_with_its_task_in_the_secondary(regions, primary, "Not yours")
    objects = chunk_objects(west)
    parked, dropped = counts(secondary)["ChunksParked"], counts(secondary)["ChunksDropped"]

    [task] = synthesize_batch(west, secondary)
    assert (task.request_id, task.parked_at) == (request_id, None)
    assert counts(secondary)["ChunksParked"] - parked == 1  # sent again, later
    assert chunk_objects(west) == objects
    job = job_item(west, request_id)
    assert job is not None
    assert "done" not in job
    assert job["status"]["S"] == "pending"

    # The primary finishes; its terminal state replicates: the parked task ends.
    west.client("dynamodb").update_item(
        TableName="voxflow-jobs",
        Key={"request_id": {"S": request_id}},
        UpdateExpression="SET #s = :done, result_json = :r",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":done": {"S": "completed"}, ":r": {"S": "{}"}},
    )
    [again] = synthesize_batch(west, secondary, wait_s=3)
    assert again.request_id == request_id
    assert again.parked_at is not None
    assert counts(secondary)["ChunksParked"] - parked == 1
    assert counts(secondary)["ChunksDropped"] - dropped == 2
    assert chunk_objects(west) == objects
    assert receive(west, west.service.chunks_queue_url, wait_s=2) == []


def test_a_parked_chunk_task_reports_a_job_that_makes_no_progress_but_leaves_it(
    regions: dict[str, Region],
    moto: MotoServer,
    registry: VoiceRegistry,
    engine: Engine,
    primary: Pipeline,
) -> None:
    """Both regions up, the job owned by the primary, no progress: the secondary says so
    within VOXFLOW_CHUNK_STALL_S, and does not take a healthy owner's job (a busy owner
    looks the same, and both regions would answer it)."""
    west = regions[SECONDARY]
    watchful = _pipeline(west, Role.SECONDARY, moto, registry, engine, chunk_stall_s=2)
    watchful.regions.health = primary_health_uncached(moto.url)
    request_id = owned_by_the_primary_with_its_task_in_the_secondary(
        regions, primary, "Nobody works on me"
    )
    objects = chunk_objects(west)
    started = time.monotonic()
    while not counts(watchful)["JobsStalledElsewhere"]:
        assert time.monotonic() - started < 30
        synthesize_batch(west, watchful, wait_s=3)
    assert counts(watchful)["ChunksParked"] >= 2  # parked first: a healthy owner gets its time
    assert counts(watchful)["JobsTakenOver"] == 0
    assert chunk_objects(west) == objects
    job = job_item(west, request_id)
    assert job is not None
    assert (job["status"]["S"], job["owner_region"]["S"]) == ("pending", PRIMARY)
    # Its owner finishes it: the parked task ends.
    west.client("dynamodb").update_item(
        TableName="voxflow-jobs",
        Key={"request_id": {"S": request_id}},
        UpdateExpression="SET #s = :done, result_json = :r",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":done": {"S": "completed"}, ":r": {"S": "{}"}},
    )
    while synthesize_batch(west, watchful, wait_s=12):
        assert time.monotonic() - started < 60
    assert chunk_objects(west) == objects


def test_chunk_tasks_outlive_an_old_image_that_gives_the_job_back_to_a_lost_primary(
    regions: dict[str, Region], primary: Pipeline, secondary: Pipeline
) -> None:
    """The drill's lost chunk tasks: the secondary takes a job over and queues its chunk
    tasks, then an image the primary wrote before it was lost replicates over the
    takeover (owner: the primary again). The tasks are the only ones left anywhere:
    they take the job back instead of being dropped."""
    east, west = regions[PRIMARY], regions[SECONDARY]
    request_id = f"handback-{uuid.uuid4().hex[:8]}"
    body = request_body(request_id, f"Handed back {uuid.uuid4().int % 1000}.", west.replies_url)
    key = {"request_id": {"S": request_id}}
    _set_primary(regions, healthy=True)
    assert handle_request_message(body, f"p-{request_id}", 1, primary) == [Decision.CREATE]
    old_image = replicate_item(regions, "voxflow-jobs", key)
    for message in receive(east, east.service.chunks_queue_url, wait_s=1):
        if json.loads(message["Body"])["request_id"] == request_id:
            delete(east, east.service.chunks_queue_url, message)  # lost with the primary
    _set_primary(regions, healthy=False)
    try:
        west.client("sqs").send_message(QueueUrl=west.requests_url, MessageBody=body)
        assert plan_queued(west, secondary) == [Decision.TAKE_OVER]
        west.client("dynamodb").put_item(TableName="voxflow-jobs", Item=old_image)
        assert job_item(west, request_id)["owner_region"]["S"] == PRIMARY  # type: ignore[index]
        dropped = counts(secondary)["ChunksDropped"]

        assert synthesize_queued(west, secondary, request_id) == 1
        assert counts(secondary)["ChunksDropped"] == dropped
        job = job_item(west, request_id)
        assert job is not None
        assert (job["status"]["S"], job["owner_region"]["S"]) == ("completed", SECONDARY)
        assert terminal_replies(west, request_id) == ["SynthesisCompleted"]
    finally:
        _set_primary(regions, healthy=True)


# --- (d) regional reply queues -------------------------------------------------------------------


@pytest.mark.parametrize(
    "named",
    [
        "https://sqs.us-east-1.amazonaws.com/123456789012/voxflow-replies-client",
        f"http://127.0.0.1:{free_port()}/123456789012/voxflow-replies-client",
    ],
    ids=["aws-url-of-the-primary", "another-endpoint"],
)
def test_reply_goes_to_the_same_named_queue_in_this_region(
    regions: dict[str, Region], secondary: Pipeline, named: str
) -> None:
    east, west = regions[PRIMARY], regions[SECONDARY]
    request_id = f"reply-{uuid.uuid4().hex[:8]}"
    event = SynthesisCompleted(
        request_id=request_id,
        url="https://example.com/a.wav",
        expires_at="2030-01-01T00:00:00Z",  # type: ignore[arg-type]
        key="0" * 64,
        duration_s=1.0,
        bytes=10,
        format="wav",  # type: ignore[arg-type]
        sample_rate=22050,
        cache="hit",
        region=SECONDARY,
    )
    assert secondary.publisher.replies is not None
    assert secondary.publisher.replies.resolve(named) == west.replies_url
    secondary.publisher.publish(event, ReplyTo(queue_url=named))
    arrived = replies(west, request_id, wait_s=2)
    assert [e["detail"]["request_id"] for e in arrived] == [request_id]
    assert replies(east, request_id, wait_s=1) == []


def test_reply_queue_resolves_once_and_only_for_other_regions(
    regions: dict[str, Region], moto: MotoServer
) -> None:
    west = regions[SECONDARY]
    sqs = AwsClients(AwsSettings.local(moto.url, SECONDARY)).sqs
    lookups: list[str] = []
    sqs.meta.events.register(
        "provide-client-params.sqs.GetQueueUrl",
        lambda params, **_: lookups.append(params["QueueName"]),
    )
    queues = ReplyQueues(sqs, SECONDARY)
    here = "https://sqs.us-west-2.amazonaws.com/123456789012/voxflow-replies-client"
    assert queues.resolve(here) == here
    assert queues.resolve(west.replies_url) == west.replies_url  # this endpoint's own URL
    assert lookups == []
    east = "https://sqs.us-east-1.amazonaws.com/123456789012/voxflow-replies-client"
    assert queues.resolve(east) == west.replies_url
    assert queues.resolve(east) == west.replies_url
    assert lookups == ["voxflow-replies-client"]
    # No such queue here: the URL as named (and asked again next time, it may be created).
    missing = "https://sqs.us-east-1.amazonaws.com/123456789012/nowhere"
    assert queues.resolve(missing) == missing
    assert lookups == ["voxflow-replies-client", "nowhere"]


# --- (e) a cache entry whose audio has not replicated ------------------------------------------


def test_cache_entry_from_the_other_region_without_its_object_is_a_miss(
    regions: dict[str, Region], primary: Pipeline, secondary: Pipeline
) -> None:
    _set_primary(regions, healthy=True)
    east, west = regions[PRIMARY], regions[SECONDARY]
    text = f"Cached in the east {uuid.uuid4().hex[:4]}."
    first = f"east-{uuid.uuid4().hex[:8]}"
    handle_request_message(request_body(first, text, east.replies_url), "m-4", 1, primary)
    assert synthesize_queued(east, primary, first) == 1
    done = job_item(east, first)
    assert done is not None
    assert done["status"]["S"] == "completed"
    # The index replicates ahead of the objects: request entry and chunk entry, no audio.
    request_key = done["key"]["S"]
    chunk_key = chunk_keys_in(done["chunk_keys"])[0]
    for key in (request_key, chunk_key):
        entry = replicate_item(regions, "voxflow-cache", {"key": {"S": key}})
        assert entry["region"]["S"] == PRIMARY

    _set_primary(regions, healthy=False)
    synthesized = counts(secondary)["ChunksSynthesized"]
    second = f"west-{uuid.uuid4().hex[:8]}"
    west.client("sqs").send_message(
        QueueUrl=west.requests_url, MessageBody=request_body(second, text, west.replies_url)
    )
    assert plan_queued(west, secondary) == [Decision.CREATE]
    assert synthesize_queued(west, secondary) == 1
    assert counts(secondary)["ChunksSynthesized"] - synthesized == 1
    [completed] = [e for e in replies(west, second) if e["detail-type"] == "SynthesisCompleted"]
    assert completed["detail"]["cache"] == "miss"
    assert completed["detail"]["key"] == request_key
    _set_primary(regions, healthy=True)


def test_standalone_pipeline_makes_no_regional_calls(tmp_path: Path) -> None:
    pipeline = Pipeline.create(
        ServiceSettings("bus", "http://127.0.0.1:1/123456789012/q", "b", "c", "j", "us-east-1"),
        EngineSettings(),
        AwsSettings.local("http://127.0.0.1:1"),
        RegionConfig(),
        registry=VoiceRegistry.default(cache_dir=tmp_path),
    )
    assert isinstance(pipeline.regions.health, StaticHealth)
    assert pipeline.regions.standby_queue is None
    assert pipeline.publisher.replies is None  # reply URLs are used as given: no GetQueueUrl
    assert not pipeline.regions.standby_expired(0.0)


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class _CloudWatch:
    """describe_alarms answers with the state, or raises while ``down``."""

    def __init__(self) -> None:
        self.down = False
        self.calls = 0

    def describe_alarms(self, **_: Any) -> dict[str, Any]:
        self.calls += 1
        if self.down:
            raise EndpointConnectionError(endpoint_url="http://primary")
        return {"MetricAlarms": [{"StateValue": "OK"}]}


def _probe_times(
    health: AlarmHealth, cloudwatch: _CloudWatch, clock: _Clock, until: float
) -> list[float]:
    """The clock readings at which ``is_healthy`` asked CloudWatch, asking every 0.5 s."""
    asked: list[float] = []
    while clock.now <= until:
        before = cloudwatch.calls
        health.is_healthy()
        if cloudwatch.calls > before:
            asked.append(clock.now)
        clock.now += 0.5
    return asked


def test_an_unreachable_primary_is_probed_less_and_less_often() -> None:
    clock, cloudwatch = _Clock(), _CloudWatch()
    health = AlarmHealth(
        lambda: cloudwatch,
        ALARM,
        unreachable_cache_s=3.0,
        unreachable_cache_max_s=10.0,
        clock=clock,
    )
    cloudwatch.down = True
    # Held 3, 6, then 10 s (the cap): each probe of a dead region costs a timeout.
    assert _probe_times(health, cloudwatch, clock, until=40.0) == [0.0, 3.0, 9.0, 19.0, 29.0, 39.0]
    assert not health.is_healthy()
    cloudwatch.down = False
    clock.now = 49.0
    assert health.is_healthy()
    # Back to the short hold: the next outage starts at 3 s again.
    cloudwatch.down = True
    clock.now = 50.0
    assert not health.is_healthy()
    assert _probe_times(health, cloudwatch, clock, until=54.0) == [53.0]


def test_a_healthy_primary_is_asked_again_after_the_short_hold() -> None:
    clock, cloudwatch = _Clock(), _CloudWatch()
    health = AlarmHealth(lambda: cloudwatch, ALARM, cache_s=1.0, clock=clock)
    assert _probe_times(health, cloudwatch, clock, until=3.0) == [0.0, 1.0, 2.0, 3.0]


def test_standby_waits_longer_the_longer_a_request_has_waited() -> None:
    assert [standby_delay_s(w, 5, 30) for w in (0, 9, 10, 30, 59, 60, 600)] == [
        5,
        5,
        5,
        15,
        29,
        30,
        30,
    ]
    assert standby_delay_s(100, 1, 1) == 1  # a fixed period, as before


class _Sqs:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def send_message(self, **request: Any) -> dict[str, Any]:
        self.sent.append(request)
        return {}


def test_standby_queue_sends_again_with_the_grown_delay() -> None:
    sqs, now = _Sqs(), 1_000.0
    queue = StandbyQueue(sqs, "url", 1, 10, clock=lambda: now)
    for first_seen in (now, now - 6, now - 40):
        queue.send_again("{}", first_seen)
    assert [m["DelaySeconds"] for m in sqs.sent] == [1, 3, 10]
    assert sqs.sent[2]["MessageAttributes"][FIRST_SEEN_ATTRIBUTE]["StringValue"] == "960.000"


def test_a_copy_naming_the_other_regions_queue_of_the_same_name_is_answered_once(
    regions: dict[str, Region], secondary: Pipeline
) -> None:
    """The drill's double answer: a client publishes to the frozen primary (the put times
    out), then to the secondary, each copy naming its own region's reply queue; the
    primary takes its copy when it thaws and the replicator brings it here. Replies go to
    the queue of that name in this region either way, so the copy names no new target:
    answered once, whether it arrives while the job is pending or after it finished."""
    west = regions[SECONDARY]
    request_id = f"copy-{uuid.uuid4().hex[:8]}"
    text = f"One answer for copy {request_id[-4:]}."  # not cached by another test: a miss
    body = request_body(request_id, text, west.replies_url)
    primarys_queue = "https://sqs.us-east-1.amazonaws.com/123456789012/voxflow-replies-client"
    legacy_host = "https://us-east-1.queue.amazonaws.com/123456789012/voxflow-replies-client"
    _set_primary(regions, healthy=False)
    try:
        assert handle_request_message(body, "c-1", 1, secondary) == [Decision.CREATE]
        pending_copy = request_body(request_id, text, primarys_queue)
        assert handle_request_message(pending_copy, "c-2", 1, secondary) == [Decision.PROCEED]
        assert synthesize_queued(west, secondary, request_id) > 0
        assert terminal_replies(west, request_id) == ["SynthesisCompleted"]
        finished_copy = request_body(request_id, text, legacy_host)
        assert handle_request_message(finished_copy, "c-3", 1, secondary) == [Decision.DROP]
        assert terminal_replies(west, request_id) == []
    finally:
        _set_primary(regions, healthy=True)


# --- calls per planned request in the secondary during a takeover (issue 17) ----------------


class _CallCount:
    """The AWS operations this process sends (botocore's Endpoint.make_request: one per
    HTTP request to moto), by service and name, while ``active``."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import botocore.endpoint

        self.calls: Counter[str] = Counter()
        self.active = False
        original = botocore.endpoint.Endpoint.make_request

        def counting(endpoint: Any, operation_model: Any, request_dict: Any) -> Any:
            if self.active:
                service = operation_model.service_model.endpoint_prefix
                self.calls[f"{service}.{operation_model.name}"] += 1
            return original(endpoint, operation_model, request_dict)

        monkeypatch.setattr(botocore.endpoint.Endpoint, "make_request", counting)

    def plan_batch(self, region: Region, pipeline: Pipeline) -> tuple[list[str], Counter[str]]:
        """One plan invocation over what is queued, as functions/plan/app.py runs it
        (first deliveries first, the batch's standby copies read together); the request
        ids in the order planned, and plan's calls: not receiving and deleting the
        messages (the poller's, or Lambda's), not the health alarm (read uncached here,
        by the service once a second at most)."""
        messages = receive(region, region.requests_url, wait_s=1)
        raw = [
            {
                "messageId": m["MessageId"],
                "body": m["Body"],
                "messageAttributes": {
                    name: {"stringValue": value.get("StringValue")}
                    for name, value in m.get("MessageAttributes", {}).items()
                },
            }
            for m in messages
        ]
        records = [
            QueuedRequest(r["messageId"], r["body"], first_seen_of(r["messageAttributes"]))
            for r in first_deliveries_first(raw)
        ]
        self.calls.clear()
        self.active = True
        invocation = Invocation(records, pipeline, 30.0)
        order = []
        for record in records:
            if invocation.settled(record):
                continue
            order.append(json.loads(record.body)["request_id"])
            handle_request_message(
                record.body,
                record.message_id,
                1,
                pipeline,
                first_seen=record.first_seen,
                jobs_read=invocation.jobs_read,
            )
        self.active = False
        for message in messages:
            delete(region, region.requests_url, message)
        counted = Counter({k: v for k, v in self.calls.items() if not k.startswith("monitoring")})
        return order, counted


def test_calls_per_request_planned_by_the_secondary_after_the_primary_is_lost(
    regions: dict[str, Region],
    primary: Pipeline,
    secondary: Pipeline,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Sequential calls per planned request bound the secondary's plan rate under load
    (each 1-1.6 s on the drill's loaded moto): counted, not timed. Before (issue 17):
    a takeover alone in its batch 7 calls (the batch's read of the copies' jobs, a
    create tried, a read, the takeover, the cache read, the chunk tasks, dispatched);
    now the batch's read stands for the create and the read."""
    counting = _CallCount(monkeypatch)
    east, west = regions[PRIMARY], regions[SECONDARY]
    tag = uuid.uuid4().hex[:4]
    # Requests the primary created (their items replicated) and was lost with; the
    # secondary holds their copies on standby, seen 20 s ago.
    _set_primary(regions, healthy=True)
    taken = [f"calls-taken-{tag}-{n}" for n in range(4)]
    for n, request_id in enumerate(taken):
        text = f"Part one {tag} {n}. Part two {tag} {n}. Part three {tag} {n}."
        body = request_body(request_id, text, east.replies_url)
        assert handle_request_message(body, f"m-{request_id}", 1, primary) == [Decision.CREATE]
        replicate_item(regions, "voxflow-jobs", {"request_id": {"S": request_id}})
    _set_primary(regions, healthy=False)
    try:
        copies = StandbyQueue(west.client("sqs"), west.requests_url, 0)
        request_id = taken[0]
        text = f"Part one {tag} 0. Part two {tag} 0. Part three {tag} 0."
        copies.send_again(request_body(request_id, text, east.replies_url), time.time() - 20)
        order, alone = counting.plan_batch(west, secondary)
        assert order == [request_id]
        assert job_item(west, request_id)["owner_region"]["S"] == SECONDARY  # type: ignore[index]
        # A batch: three takeovers and three new requests (the copies queued first).
        for n, request_id in enumerate(taken[1:], start=1):
            text = f"Part one {tag} {n}. Part two {tag} {n}. Part three {tag} {n}."
            copies.send_again(request_body(request_id, text, east.replies_url), time.time() - 20)
        new = [f"calls-new-{tag}-{n}" for n in range(3)]
        for n, request_id in enumerate(new):
            text = f"New one {tag} {n}. New two {tag} {n}."
            body = request_body(request_id, text, west.replies_url)
            west.client("sqs").send_message(QueueUrl=west.requests_url, MessageBody=body)
        order, batch = counting.plan_batch(west, secondary)
    finally:
        _set_primary(regions, healthy=True)
    assert sorted(order) == sorted(taken[1:] + new)
    assert set(order[:3]) == set(new)  # new requests are planned first
    for request_id in taken:
        assert job_item(west, request_id)["owner_region"]["S"] == SECONDARY  # type: ignore[index]
    print(f"calls to plan one takeover alone in its batch: {sum(alone.values())} {dict(alone)}")
    print(
        f"calls to plan 3 takeovers and 3 new requests in one batch: {sum(batch.values())} "
        f"({sum(batch.values()) / 6:.1f} a request) {dict(batch)}"
    )
    assert alone["dynamodb.PutItem"] == 0  # no create tried for a job read with its batch
    assert alone["dynamodb.GetItem"] == 0  # nor read again
    assert sum(alone.values()) <= 5
    assert sum(batch.values()) <= 6 * 4 + 1
