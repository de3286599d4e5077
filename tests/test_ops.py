"""voxflow redrive and the stuck-job sweeper, on the local stack over HTTP with the real voice.

Stuck states are made the way they happen: a chunk task that arrives before its job
exists (and dead-letters), a plan whose chunk tasks were lost, a worker that stored
every chunk and died before assembling.
"""

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import StartStack
from stack_cli import queue_depth, voxflow_cli

from voxflow.audio import AudioFormat
from voxflow.aws import AwsClients, AwsSettings
from voxflow.client import StackTarget, VoxflowClient
from voxflow.events import ChunkTask, SynthesisCompleted, SynthesisRequested
from voxflow.ops.sweeper import STUCK, Sweeper, SweptJob, pipeline_for, sweeper_for
from voxflow.pipeline.context import ChunkQueue, Pipeline
from voxflow.pipeline.plan import plan_item
from voxflow.store.models import bind
from voxflow.voices import VoiceRegistry
from voxflow_local.stack import LocalStack

pytestmark = pytest.mark.slow
TERMINAL = {"SynthesisCompleted", "SynthesisFailed"}


class LostTasks(ChunkQueue):
    """A chunk queue that loses what it is given (and keeps it, for the test)."""

    def __init__(self) -> None:
        super().__init__(None, "lost")
        self.lost: list[ChunkTask] = []

    def send(
        self,
        tasks: list[ChunkTask],
        delay_s: int = 0,  # noqa: ARG002
        *,
        recovery: bool = False,  # noqa: ARG002
        job_chunks: int | None = None,  # noqa: ARG002
    ) -> None:
        self.lost.extend(tasks)


@pytest.fixture(scope="module")
def stack(local_stack: StartStack) -> LocalStack:
    return local_stack(retry_visibility_s=1)


@pytest.fixture(scope="module")
def aws(stack: LocalStack) -> AwsSettings:
    return AwsSettings.local(stack.url, stack.region)


@pytest.fixture(scope="module")
def pipeline(stack: LocalStack, aws: AwsSettings, registry: VoiceRegistry) -> Pipeline:
    return pipeline_for(stack.stack.resources, aws, registry)


@pytest.fixture(scope="module")
def sweeper(pipeline: Pipeline, aws: AwsSettings) -> Sweeper:
    return sweeper_for(pipeline, aws)


@pytest.fixture(scope="module")
def client(stack: LocalStack, aws: AwsSettings) -> Iterator[VoxflowClient]:
    target = StackTarget.from_resources(stack.stack.resources)
    with VoxflowClient(AwsClients(aws), target) as voxflow:
        yield voxflow


def terminal_events(stack: LocalStack, bus_tap: str, request_id: str, wait_s: float) -> list[Any]:
    """The terminal events for ``request_id``: waits for the first, then ``wait_s`` more
    for any duplicate."""
    sqs = stack.client("sqs")
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + 180
    settle: float | None = None
    while time.monotonic() < (settle or deadline):
        for message in sqs.receive_message(
            QueueUrl=bus_tap, MaxNumberOfMessages=10, WaitTimeSeconds=1
        ).get("Messages", []):
            sqs.delete_message(QueueUrl=bus_tap, ReceiptHandle=message["ReceiptHandle"])
            event = json.loads(message["Body"])
            if event["detail"].get("request_id") == request_id and event["detail-type"] in TERMINAL:
                seen.append(event)
                settle = settle or time.monotonic() + wait_s
    return seen


def plan_with_lost_tasks(pipeline: Pipeline, request_id: str, text: str) -> list[ChunkTask]:
    """Plan a request as the plan function would, but lose its chunk tasks."""
    lost = LostTasks()
    planning = Pipeline(**{**pipeline.__dict__, "chunk_queue": lost})
    (item,) = SynthesisRequested(request_id=request_id, text=text, format=AudioFormat.WAV).expand()
    plan_item(item, planning)
    return lost.lost


def test_a_dead_lettered_chunk_is_redriven_and_completes(
    stack: LocalStack, pipeline: Pipeline, bus_tap: str
) -> None:
    # The chunk task arrives before its job exists (say, the job's write was lost and
    # replayed): every attempt fails to count it, and it ends in ChunksDLQ.
    request_id = f"redrive-{uuid.uuid4().hex[:8]}"
    (task,) = plan_with_lost_tasks(pipeline, request_id, "Back from the dead letter queue.")
    jobs = stack.client("dynamodb")
    table = stack.stack.resources["JobsTable"]
    job = jobs.get_item(TableName=table, Key={"request_id": {"S": request_id}})["Item"]
    jobs.delete_item(TableName=table, Key={"request_id": {"S": request_id}})
    sqs = stack.client("sqs")
    sqs.send_message(
        QueueUrl=stack.stack.resources["ChunksQueue"], MessageBody=task.model_dump_json()
    )
    deadline = time.monotonic() + 90
    while queue_depth(stack, "ChunksDLQ") < 1:
        assert time.monotonic() < deadline, "the chunk never reached ChunksDLQ"
        time.sleep(0.5)
    assert queue_depth(stack, "ChunksQueue") == 0
    jobs.put_item(TableName=table, Item=job)  # the job is back

    dry = voxflow_cli(stack, "redrive", "chunks", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "1 waiting" in dry.stdout
    assert queue_depth(stack, "ChunksDLQ") == 1

    moved = voxflow_cli(stack, "redrive", "chunks", "--max", "5")
    assert moved.returncode == 0, moved.stderr
    assert "1 moved to ChunksQueue\t0 failed" in moved.stdout
    assert queue_depth(stack, "ChunksDLQ") == 0

    (event,) = terminal_events(stack, bus_tap, request_id, wait_s=3)
    assert event["detail-type"] == "SynthesisCompleted"


def test_sweeper_assembles_a_job_whose_chunks_are_all_done(
    stack: LocalStack, pipeline: Pipeline, sweeper: Sweeper, client: VoxflowClient, bus_tap: str
) -> None:
    text = f"Every chunk is stored. Nobody assembled {uuid.uuid4().hex[:6]}."
    request_id = f"assemble-{uuid.uuid4().hex[:8]}"
    tasks = plan_with_lost_tasks(pipeline, request_id, text)
    # Another request synthesizes the same chunks; this job's worker stored them and
    # counted them, then died before assembling.
    assert isinstance(client.synthesize(text, format="wav").terminal, SynthesisCompleted)
    for task in tasks:
        pipeline.jobs.record_chunk(request_id, task.index)

    report = sweeper.sweep(older_than_s=0)
    assert request_id in report.assembled
    (event,) = terminal_events(stack, bus_tap, request_id, wait_s=3)
    assert event["detail-type"] == "SynthesisCompleted"
    assert sweeper.sweep(older_than_s=0).assembled.count(request_id) == 0  # done: not pending


def _store_chunk_texts(
    aws: AwsSettings, stack: LocalStack, request_id: str, texts: list[str]
) -> None:
    swept = bind(SweptJob, stack.stack.resources["JobsTable"], aws)
    swept(request_id).update(actions=[swept.chunk_texts.set(texts)])


def test_lost_chunk_tasks_are_queued_again_and_the_job_completes(
    stack: LocalStack, pipeline: Pipeline, sweeper: Sweeper, bus_tap: str
) -> None:
    request_id = f"lost-{uuid.uuid4().hex[:8]}"
    tasks = plan_with_lost_tasks(pipeline, request_id, f"Lost once {uuid.uuid4().hex[:6]}.")
    job = pipeline.jobs.get(request_id)
    assert job is not None
    assert job.chunk_texts == [task.text for task in tasks]  # what plan stored

    report = sweeper.sweep(older_than_s=0)
    assert report.requeued[request_id] == [task.index for task in tasks]
    (event,) = terminal_events(stack, bus_tap, request_id, wait_s=3)
    assert event["detail-type"] == "SynthesisCompleted"


def test_a_long_jobs_lost_tasks_are_made_again_from_its_texts_in_the_bucket(
    stack: LocalStack, pipeline: Pipeline, sweeper: Sweeper, bus_tap: str
) -> None:
    request_id = f"lost-long-{uuid.uuid4().hex[:8]}"
    tag = uuid.uuid4().hex[:6]
    text = " ".join(f"Sentence {n} of a long request {tag}, lost and found." for n in range(9))
    tasks = plan_with_lost_tasks(pipeline, request_id, text)
    assert len(tasks) > 1
    job = pipeline.jobs.get(request_id)
    assert job is not None
    assert job.chunk_texts is None  # too long for the item (voxflow.store.job_texts)
    assert pipeline.audio.job_texts(request_id) == [task.text for task in tasks]
    assert pipeline.audio.job_texts(f"never-{request_id}") is None  # S3's NoSuchKey

    report = sweeper.sweep(older_than_s=0)
    assert report.requeued[request_id] == [task.index for task in tasks]
    (event,) = terminal_events(stack, bus_tap, request_id, wait_s=3)
    assert event["detail-type"] == "SynthesisCompleted"
    assert event["detail"]["duration_s"] > len(tasks)  # every chunk spoken, not one


def test_a_hopeless_job_fails_stuck_on_its_second_sweep(
    stack: LocalStack, pipeline: Pipeline, sweeper: Sweeper, aws: AwsSettings, bus_tap: str
) -> None:
    request_id = f"hopeless-{uuid.uuid4().hex[:8]}"
    plan_with_lost_tasks(pipeline, request_id, f"Never to be spoken {uuid.uuid4().hex[:6]}.")
    # Its texts are gone: nothing can be queued again.
    _store_chunk_texts(aws, stack, request_id, [])

    first = sweeper.sweep(older_than_s=0)
    assert request_id in first.waiting
    second = voxflow_cli(stack, "sweep", "--older-than", "0")
    assert second.returncode == 0, second.stderr
    assert request_id in json.loads(second.stdout)["failed"]

    (event,) = terminal_events(stack, bus_tap, request_id, wait_s=3)
    assert event["detail-type"] == "SynthesisFailed"
    assert event["detail"]["code"] == STUCK
    assert event["detail"]["retryable"] is True
