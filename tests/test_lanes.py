"""Two chunk lanes: short jobs on ChunksQueue, long ones on LongChunksQueue.

Unit tests for the routing, the settings and the worker's priority; then the local
stack over HTTP with the real voice: a short request published right after a long
text finishes first, and the long text's chunks go through the long lane's runner.
"""

import json
import re
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from bus_tap import tap_bus
from conftest import StartStack
from stack_cli import queue_depth, voxflow_cli

from voxflow.audio import decode, join_pcm
from voxflow.aws import AwsClients, AwsSettings
from voxflow.client import StackTarget, VoxflowClient
from voxflow.config import Config
from voxflow.engine import Engine, SynthesisParams
from voxflow.errors import SettingsError
from voxflow.events import ChunkTask, SynthesisCompleted
from voxflow.pipeline.context import ChunkQueue, route_by_count
from voxflow.service_settings import ServiceSettings
from voxflow.text import normalize_text, split_into_chunks
from voxflow.worker.loop import LONG_LANE_WAIT_S, BatchLoop, StopSignal, WorkerContext
from voxflow.worker.settings import WorkerSettings
from voxflow_local.stack import LocalStack

SHORT, LONG = "http://sqs.local/123456789012/chunks", "http://sqs.local/123456789012/long-chunks"
RECOVERY = "http://sqs.local/123456789012/recovery-chunks"
SILENT: dict[str, Any] = {"noise_scale": 0.0, "noise_w": 0.0}
CORPUS = Path(__file__).resolve().parent.parent / "benchmarks" / "corpus"
REQUIRED_ENV = {
    "VOXFLOW_BUS_NAME": "bus",
    "VOXFLOW_CHUNKS_QUEUE_URL": SHORT,
    "VOXFLOW_BUCKET": "bucket",
    "VOXFLOW_CACHE_TABLE": "cache",
    "VOXFLOW_JOBS_TABLE": "jobs",
}


def task(count: int, index: int = 0, request_id: str = "r") -> ChunkTask:
    return ChunkTask(
        request_id=request_id,
        index=index,
        count=count,
        text="Hello.",
        chunk_key="0" * 64,
        voice="joe",
        model_version="f" * 64,
        params={"length_scale": 1.0, "noise_scale": 0.667, "noise_w": 0.8, "sentence_pause_s": 0.2},
        sample_rate=22050,
    )


# ---- routing ----


def test_a_job_with_at_most_short_job_chunks_to_make_goes_short_more_go_long() -> None:
    one = [task(1, request_id="one")]
    three = [task(3, n, request_id="three") for n in range(3)]
    four = [task(4, n, request_id="four") for n in range(4)]
    lanes = route_by_count([*one, *three, *four], SHORT, LONG, short_job_chunks=3)
    assert lanes[SHORT] == [*one, *three]
    assert lanes[LONG] == four
    assert route_by_count([*one, *three], SHORT, LONG, short_job_chunks=1)[SHORT] == one


def test_a_long_text_with_one_chunk_to_make_goes_short() -> None:
    """The chunks to make, not the job's count: in the drill, medium texts whose other
    chunks were cached waited ~40 s on the long lane behind long texts."""
    cached_but_one = [task(30, 29, request_id="mostly-cached")]
    whole = [task(30, n, request_id="uncached") for n in range(30)]
    lanes = route_by_count([*cached_but_one, *whole], SHORT, LONG, short_job_chunks=3)
    assert lanes == {SHORT: cached_but_one, LONG: whole}


def test_a_job_sent_in_parts_goes_by_the_chunks_it_makes_in_all() -> None:
    """A sharing job's first chunk goes out before the rest (voxflow.pipeline.shared_chunks):
    each part goes where the whole job would."""
    first = [task(30, 0, request_id="parts")]
    assert route_by_count(first, SHORT, LONG, short_job_chunks=3, job_chunks=30) == {LONG: first}
    rest = [task(30, n, request_id="parts") for n in range(1, 3)]
    assert route_by_count(rest, SHORT, LONG, short_job_chunks=3, job_chunks=3) == {SHORT: rest}


def test_recovery_work_goes_to_the_long_lane_whatever_its_size() -> None:
    tasks = [task(1), task(2, 1), task(30, 29)]
    assert route_by_count(tasks, SHORT, LONG, short_job_chunks=3, recovery=True) == {LONG: tasks}
    # One lane only: recovery work still has somewhere to go.
    assert route_by_count(tasks, SHORT, None, short_job_chunks=3, recovery=True) == {SHORT: tasks}


def test_recovery_work_goes_to_the_recovery_lane_where_there_is_one() -> None:
    """After a failover the old owner's backlog waits on its own lane, so that new
    requests of any size (the long lane's too) are never queued behind it."""
    tasks = [task(1), task(2, 1), task(30, 29)]
    routed = route_by_count(
        tasks, SHORT, LONG, short_job_chunks=3, recovery=True, recovery_url=RECOVERY
    )
    assert routed == {RECOVERY: tasks}
    # New work never goes there.
    assert RECOVERY not in route_by_count(tasks, SHORT, LONG, 3, recovery_url=RECOVERY)
    sqs = RecordingSqs()
    ChunkQueue(sqs, SHORT, LONG, 3, RECOVERY).send(tasks, recovery=True)
    assert sqs.sent == [(RECOVERY, 3)]


def test_without_a_long_lane_everything_goes_to_chunks_queue() -> None:
    tasks = [task(1), task(30, 29)]
    assert route_by_count(tasks, SHORT, None, short_job_chunks=3) == {SHORT: tasks}


class RecordingSqs:
    def __init__(self) -> None:
        self.sent: list[tuple[str, int]] = []

    def send_message_batch(self, QueueUrl: str, Entries: list[Any]) -> dict[str, Any]:  # noqa: N803
        assert len(Entries) <= 10
        self.sent.append((QueueUrl, len(Entries)))
        return {"Successful": [{"Id": e["Id"]} for e in Entries]}


def test_chunk_queue_sends_each_lane_in_batches_of_ten() -> None:
    sqs = RecordingSqs()
    long_job = [task(12, n, "long") for n in range(12)]
    ChunkQueue(sqs, SHORT, LONG, short_job_chunks=3).send([*long_job, task(2, 1, "short")])
    assert sqs.sent == [(LONG, 10), (LONG, 2), (SHORT, 1)]


def test_service_settings_read_and_validate_the_lane_variables() -> None:
    one_lane = ServiceSettings.of(Config.load(REQUIRED_ENV))
    assert (one_lane.long_chunks_queue_url, one_lane.short_job_chunks) == (None, 3)
    assert ChunkQueue.for_service(None, one_lane).long_queue_url is None
    two = ServiceSettings.of(
        Config.load(
            {**REQUIRED_ENV, "VOXFLOW_LONG_CHUNKS_QUEUE_URL": LONG, "VOXFLOW_SHORT_JOB_CHUNKS": "5"}
        )
    )
    queue = ChunkQueue.for_service(None, two)
    assert (queue.queue_url, queue.long_queue_url, queue.short_job_chunks) == (SHORT, LONG, 5)
    for bad in ("0", "-2", "three"):
        with pytest.raises(SettingsError, match="VOXFLOW_SHORT_JOB_CHUNKS"):
            ServiceSettings.of(Config.load({**REQUIRED_ENV, "VOXFLOW_SHORT_JOB_CHUNKS": bad}))


# ---- the worker's two lanes, against an in-process fake of two queues ----


class TwoQueues:
    """receive/delete per queue URL; records each receive's queue and wait."""

    def __init__(self, short: int, long: int) -> None:
        self.waiting = {
            SHORT: [self._message(f"s{n}") for n in range(short)],
            LONG: [self._message(f"l{n}") for n in range(long)],
        }
        self.receives: list[tuple[str, int]] = []
        self.deleted: list[tuple[str, str]] = []

    @staticmethod
    def _message(message_id: str) -> dict[str, Any]:
        return {
            "MessageId": message_id,
            "ReceiptHandle": f"r-{message_id}",
            "Body": "{}",
            "MD5OfBody": "-",
            "Attributes": {"ApproximateReceiveCount": "1"},
        }

    def receive_message(self, **kwargs: Any) -> dict[str, Any]:
        queue = self.waiting[kwargs["QueueUrl"]]
        taken = queue[: kwargs["MaxNumberOfMessages"]]
        del queue[: len(taken)]
        lane = {SHORT: "short", LONG: "long", RECOVERY: "recovery"}[kwargs["QueueUrl"]]
        self.receives.append((lane, kwargs["WaitTimeSeconds"]))
        return {"Messages": taken} if taken else {}

    def delete_message_batch(self, **kwargs: Any) -> dict[str, Any]:
        self.deleted += [(kwargs["QueueUrl"], e["ReceiptHandle"]) for e in kwargs["Entries"]]
        return {"Successful": [], "Failed": []}

    def change_message_visibility_batch(self, **_: Any) -> dict[str, Any]:
        return {"Successful": [], "Failed": []}


def test_worker_takes_the_short_lane_first_and_settles_on_each_batchs_queue() -> None:
    sqs = TwoQueues(short=3, long=3)
    seen: list[tuple[str, list[str]]] = []

    def handler(event: dict[str, Any], _context: Any) -> None:
        records = event["Records"]
        seen.append((records[0]["eventSourceARN"], [r["messageId"] for r in records]))

    loop = BatchLoop(
        sqs,
        WorkerSettings(SHORT, long_chunks_queue_url=LONG, batch_size=2, batch_wait_s=0),
        handler,
        queue_arn="arn:aws:sqs:us-east-1:123456789012:chunks",
        long_queue_arn="arn:aws:sqs:us-east-1:123456789012:long-chunks",
        region="us-east-1",
        stop=StopSignal(),
        new_context=lambda: WorkerContext("voxflow-worker", "test"),
    )
    for _ in range(4):
        batch = loop.gather()
        assert batch is not None
        loop.process(batch)
    assert seen == [
        ("arn:aws:sqs:us-east-1:123456789012:chunks", ["s0", "s1"]),
        ("arn:aws:sqs:us-east-1:123456789012:chunks", ["s2"]),
        ("arn:aws:sqs:us-east-1:123456789012:long-chunks", ["l0", "l1"]),
        ("arn:aws:sqs:us-east-1:123456789012:long-chunks", ["l2"]),
    ]
    assert sorted(sqs.deleted) == sorted(
        [(SHORT, f"r-s{n}") for n in range(3)] + [(LONG, f"r-l{n}") for n in range(3)]
    )
    # The short lane is asked without waiting; only the long lane's receive waits, briefly.
    assert {wait for lane, wait in sqs.receives if lane == "short"} == {0}
    assert {wait for lane, wait in sqs.receives if lane == "long"} == {LONG_LANE_WAIT_S}
    assert loop.gather() is None  # both empty: one short look, one brief long poll
    assert sqs.receives[-2:] == [("short", 0), ("long", LONG_LANE_WAIT_S)]


def test_worker_serves_the_recovery_lane_only_when_the_others_are_empty() -> None:
    sqs = TwoQueues(short=1, long=1)
    sqs.waiting[RECOVERY] = [sqs._message(f"r{n}") for n in range(2)]
    arn = "arn:aws:sqs:us-east-1:123456789012:"
    loop = BatchLoop(
        sqs,
        WorkerSettings(
            SHORT,
            long_chunks_queue_url=LONG,
            recovery_chunks_queue_url=RECOVERY,
            batch_size=2,
            batch_wait_s=0,
        ),
        lambda _event, _context: None,
        queue_arn=f"{arn}chunks",
        long_queue_arn=f"{arn}long-chunks",
        recovery_queue_arn=f"{arn}recovery-chunks",
        region="us-east-1",
        stop=StopSignal(),
        new_context=lambda: WorkerContext("voxflow-worker", "test"),
    )
    order = []
    while (batch := loop.gather()) is not None:
        order.append((batch.lane.name, [m["MessageId"] for m in batch.messages]))
        loop.process(batch)
    assert order == [("short", ["s0"]), ("long", ["l0"]), ("recovery", ["r0", "r1"])]
    # Only the last lane's receive waits: the others are asked without waiting.
    assert set(sqs.receives) == {("short", 0), ("long", 0), ("recovery", LONG_LANE_WAIT_S)}


# ---- the local stack: one runner per lane ----


@pytest.fixture(scope="module")
def stack(local_stack: StartStack) -> LocalStack:
    return local_stack(retry_visibility_s=1)


@pytest.fixture(scope="module")
def logs(stack: LocalStack) -> Path:
    assert stack.log_dir is not None
    return stack.log_dir


@pytest.fixture(scope="module")
def client(stack: LocalStack) -> Iterator[VoxflowClient]:
    clients = AwsClients(AwsSettings.local(stack.url, stack.region))
    with VoxflowClient(clients, StackTarget.from_resources(stack.stack.resources)) as voxflow:
        yield voxflow


def handled(logs: Path, event_source: str) -> tuple[int, int]:
    """(messages received, failed) by a SynthesizeFunction runner, from its log."""
    text = (logs / f"SynthesizeFunction-{event_source}-0.log").read_text(errors="replace")
    batches = re.findall(rf"{event_source}: batch of (\d+), (\d+) failed", text)
    return sum(int(n) for n, _ in batches), sum(int(f) for _, f in batches)


def wait_handled(logs: Path, event_source: str, received: int, timeout_s: float = 10) -> None:
    """Until the runner's log accounts for ``received`` messages (logged after settling)."""
    deadline = time.monotonic() + timeout_s
    while handled(logs, event_source)[0] < received:
        assert time.monotonic() < deadline, handled(logs, event_source)
        time.sleep(0.1)


@pytest.mark.slow
def test_a_short_request_after_a_long_text_finishes_first(
    stack: LocalStack, client: VoxflowClient, logs: Path, engine: Engine
) -> None:
    chunks = split_into_chunks(normalize_text((CORPUS / "long.txt").read_text()))[:10]
    long_text = " ".join(chunks)
    assert split_into_chunks(normalize_text(long_text)) == chunks
    short_text = f"Short lane {uuid.uuid4().hex[:6]}."
    tap = tap_bus(stack, client.target.bus_name, "lanes-tap")
    before = {
        lane: handled(logs, lane)[0]
        for lane in ("SynthesizeFunctionChunks", "SynthesizeFunctionLongChunks")
    }

    long_id = client.publish(long_text, format="wav", params=SILENT)
    short_id = client.publish(short_text, format="wav", params=SILENT)
    short = client.wait([short_id], timeout_s=120)[short_id]
    assert isinstance(short.terminal, SynthesisCompleted), short.terminal
    # The short request did not wait behind the long text's ten chunks.
    long_status = client.status(long_id)
    assert long_status is not None
    assert long_status["status"] == "pending", long_status

    long = client.wait([long_id], timeout_s=300)[long_id]
    assert isinstance(long.terminal, SynthesisCompleted), long.terminal
    assert sorted(chunk.index for chunk in long.chunks) == list(range(10))
    with urllib.request.urlopen(long.terminal.url, timeout=30) as response:
        pcm, rate = decode(response.read())
    local = [c.pcm for c in engine.synthesize(chunks, "joe", SynthesisParams(**SILENT))]
    expected = join_pcm(local, rate, pause_s=0.2)
    assert len(pcm) == len(expected)
    assert np.corrcoef(pcm.astype(float), expected.astype(float))[0, 1] >= 0.999

    # The long text's ten chunks went through LongChunksQueue's runner, the short
    # request's one chunk through ChunksQueue's.
    wait_handled(logs, "SynthesizeFunctionLongChunks", before["SynthesizeFunctionLongChunks"] + 10)
    wait_handled(logs, "SynthesizeFunctionChunks", before["SynthesizeFunctionChunks"] + 1)
    assert (
        handled(logs, "SynthesizeFunctionLongChunks")[0]
        == before["SynthesizeFunctionLongChunks"] + 10
    )
    assert handled(logs, "SynthesizeFunctionChunks")[0] == before["SynthesizeFunctionChunks"] + 1
    stack.client("sqs").delete_queue(QueueUrl=tap)


@pytest.mark.slow
def test_redrive_long_chunks_moves_long_chunks_dlq_back_to_the_long_lane(
    stack: LocalStack, logs: Path
) -> None:
    poison = json.dumps({"request_id": f"poison-{uuid.uuid4().hex[:8]}", "index": "first"})
    stack.client("sqs").send_message(
        QueueUrl=stack.stack.resources["LongChunksDLQ"], MessageBody=poison
    )
    dry = voxflow_cli(stack, "redrive", "all", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "LongChunksDLQ\t1 waiting" in dry.stdout

    failed_before = handled(logs, "SynthesizeFunctionLongChunks")[1]
    moved = voxflow_cli(stack, "redrive", "long-chunks")
    assert moved.returncode == 0, moved.stderr
    assert "LongChunksDLQ\t1 moved to LongChunksQueue\t0 failed" in moved.stdout
    # The long lane's runner gets it, fails it on each of its 3 receives, and the long
    # lane's redrive policy puts it back in LongChunksDLQ.
    deadline = time.monotonic() + 60
    while handled(logs, "SynthesizeFunctionLongChunks")[1] < failed_before + 3:
        assert time.monotonic() < deadline, handled(logs, "SynthesizeFunctionLongChunks")
        time.sleep(0.2)
    while queue_depth(stack, "LongChunksDLQ") < 1:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert queue_depth(stack, "LongChunksQueue") == 0
