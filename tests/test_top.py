"""``voxflow top``: one frame of a local stack's live numbers (``--once``), and the
rendering of a frame without a stack."""

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from conftest import StartStack
from stack_cli import voxflow_cli

from voxflow.aws import AwsClients, AwsSettings
from voxflow.client import StackTarget, VoxflowClient
from voxflow.ops.top import Frame, QueueDepth, RecentJob, queue_ids, render
from voxflow_local.stack import LocalStack

SECRET = "Zanzibar quokka marmalade"  # request text: must never be shown


@pytest.fixture(scope="module")
def stack(local_stack: StartStack) -> LocalStack:
    return local_stack(retry_visibility_s=1)


@pytest.fixture(scope="module")
def client(stack: LocalStack) -> Iterator[VoxflowClient]:
    clients = AwsClients(AwsSettings.local(stack.url, stack.region))
    with VoxflowClient(clients, StackTarget.from_resources(stack.stack.resources)) as voxflow:
        yield voxflow


def test_once_shows_queues_dead_letters_jobs_and_health(
    stack: LocalStack, client: VoxflowClient
) -> None:
    first = client.synthesize(f"{SECRET}.", timeout_s=180)
    again = client.synthesize(f"{SECRET}.", timeout_s=180)  # the same text: a cache hit
    sqs = stack.client("sqs")
    sqs.send_message(QueueUrl=stack.stack.resources["ChunksDLQ"], MessageBody="{}")
    result = voxflow_cli(stack, "top", "--once")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines() if line.strip()}
    for logical_id in queue_ids(stack.stack.resources):
        assert logical_id in rows, logical_id
    assert rows["ChunksDLQ"][:1] == ["1"]
    assert "dead letters" in " ".join(rows["ChunksDLQ"])
    assert rows["RequestsDLQ"][:1] == ["0"]
    assert first.request_id[:37] in out
    assert again.request_id[:37] in out
    assert "cache hit ratio 50%" in out
    assert "health alarm: no health alarm here (standalone or secondary)" in out
    assert SECRET not in out
    assert SECRET.split(maxsplit=1)[0] not in result.stderr


def test_render_lists_every_queue_and_flags_only_dead_letters() -> None:
    frame = Frame(
        stack="voxflow",
        region="us-east-1",
        queues=[QueueDepth("ChunksQueue", 5, 2), QueueDepth("ChunksDLQ", 3, 0)],
        recent=[RecentJob("r-1", "completed", "hit", "us-east-1", 12.4)],
        statuses={"completed": 1},
        hit_ratio=1.0,
        sampled=1,
        health="ALARM",
        serving="the secondary",
        errors=["JobsTable: ResourceNotFoundException"],
    )
    text = render(frame, taken_at=datetime(2026, 1, 1, 12, 0, tzinfo=UTC))
    lines = text.splitlines()
    assert lines[0] == "voxflow top: stack voxflow in us-east-1  12:00:00 UTC"
    (chunks,) = [line for line in lines if line.startswith("ChunksQueue")]
    (dlq,) = [line for line in lines if line.startswith("ChunksDLQ")]
    assert chunks.split() == ["ChunksQueue", "5", "2"]
    assert dlq.split()[:3] == ["ChunksDLQ", "3", "0"]
    assert dlq.endswith("<- dead letters")
    assert "cache hit ratio 100%" in text
    assert "health alarm: ALARM; serving: the secondary" in text
    assert lines[-1] == "! JobsTable: ResourceNotFoundException"


def test_queue_ids_are_the_queues_only() -> None:
    resources = {
        "ChunksQueue": "http://127.0.0.1:1/123/chunks",
        "ChunksDLQ": "https://sqs.us-east-1.amazonaws.com/123/dlq",
        "ChunksQueuePolicy": "policy-id",
        "JobsTable": "jobs",
    }
    assert queue_ids(resources) == ["ChunksDLQ", "ChunksQueue"]
