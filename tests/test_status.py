"""`voxflow status`: both clients read the job through the Job model, with their own
DynamoDB client (moto in process: real boto3 and pynamodb, no server)."""

import hashlib
from collections.abc import Iterator

import pytest
from moto import mock_aws

from voxflow.aws import AwsClients, AwsSettings
from voxflow.client import (
    GlobalTarget,
    GlobalVoxflowClient,
    RegionalStack,
    StackTarget,
    VoxflowClient,
)
from voxflow.store.jobs import JobStore
from voxflow.store.models import Job, bind

PRIMARY, SECONDARY = "us-east-1", "us-west-2"
ALARM = "voxflow-primary-health"
CHUNK_KEYS = [hashlib.sha256(f"c-{index}".encode()).hexdigest() for index in range(11)]


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws():
        yield


def jobs_in(region: str) -> JobStore:
    model = bind(Job, "jobs", AwsSettings(region=region))
    model.create_table(billing_mode="PAY_PER_REQUEST", wait=True)
    return JobStore(model, ttl_s=3600, region=region)


def add_job(store: JobStore, request_id: str, *, done: list[int]) -> None:
    job = store.new(
        request_id,
        tenant="t-1",
        voice="joe",
        format="mp3",
        key="request-key",
        sample_rate=22050,
        params_json="{}",
        chunk_keys=CHUNK_KEYS,
        chunk_count=11,
    )
    assert store.create(job)
    for index in done:
        store.record_chunk(request_id, index)


@pytest.mark.usefixtures("aws")
def test_status_gives_the_models_values() -> None:
    add_job(jobs_in(PRIMARY), "r-1", done=[10, 2, 0])
    client = VoxflowClient(AwsClients(AwsSettings(region=PRIMARY)), StackTarget("bus", "jobs"))

    status = client.status("r-1")
    assert status is not None
    assert status["status"] == "pending"
    assert status["chunk_count"] == 11  # a number, not DynamoDB's string
    assert status["sample_rate"] == 22050
    assert status["done"] == [0, 2, 10]  # a set: sorted, as numbers
    assert status["chunk_keys"] == CHUNK_KEYS  # a list of strings, not the packed bytes
    assert status["terminal_sent"] is False
    assert status["created_at"].endswith("+0000")
    assert client.status("no-such-request") is None


@pytest.mark.usefixtures("aws")
def test_global_status_reads_the_active_regions_replica() -> None:
    add_job(jobs_in(PRIMARY), "r-1", done=[1])
    add_job(jobs_in(SECONDARY), "r-1", done=[1, 3])  # the secondary got further
    primary = AwsClients(AwsSettings(region=PRIMARY))
    cloudwatch = primary.client("cloudwatch")
    cloudwatch.put_metric_alarm(
        AlarmName=ALARM,
        MetricName="WorkerHeartbeat",
        Namespace="voxflow",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="LessThanThreshold",
    )
    target = GlobalTarget(
        RegionalStack(primary, StackTarget("bus", "jobs")),
        RegionalStack(AwsClients(AwsSettings(region=SECONDARY)), StackTarget("bus", "jobs")),
        ALARM,
    )
    client = GlobalVoxflowClient(target, health_cache_s=0)

    cloudwatch.set_alarm_state(AlarmName=ALARM, StateValue="OK", StateReason="test")
    assert (client.status("r-1") or {})["done"] == [1]
    cloudwatch.set_alarm_state(AlarmName=ALARM, StateValue="ALARM", StateReason="test")
    assert (client.status("r-1") or {})["done"] == [1, 3]
    assert client.status("no-such-request") is None


@pytest.mark.usefixtures("aws")
def test_the_last_chunks_record_returns_the_job_as_written() -> None:
    # assemble starts from this item instead of reading the job again.
    store = jobs_in(PRIMARY)
    add_job(store, "r-1", done=list(range(10)))
    progress = store.record_chunk("r-1", 10)
    read = store.get("r-1")
    assert progress.complete
    assert progress.job is not None
    assert read is not None
    assert progress.job.attribute_values == read.attribute_values
    assert progress.job.done == set(range(11))
    again = store.record_chunk("r-1", 10)  # a redelivery: nothing written, no item
    assert not again.newly_recorded
    assert again.job is None


@pytest.mark.usefixtures("aws")
def test_chunks_recorded_together_count_once_each() -> None:
    # Plan's cached chunks: one write for all; where one was counted already (a
    # redelivery, a takeover's old owner), each of the others is counted on its own.
    store = jobs_in(PRIMARY)
    add_job(store, "r-1", done=[0])
    recorded, progress = store.record_chunks("r-1", [1, 2, 3])
    assert recorded == [1, 2, 3]
    assert progress.done == 4
    assert not progress.complete
    recorded, progress = store.record_chunks("r-1", [3, 4, 5, 6])
    assert recorded == [4, 5, 6]
    assert progress.done == 7
    read = store.get("r-1")
    assert read is not None
    assert read.done == set(range(7))
    recorded, progress = store.record_chunks("r-1", list(range(7, 11)))
    assert recorded == [7, 8, 9, 10]
    assert progress.complete
    assert progress.job is not None
    assert progress.job.done == set(range(11))
