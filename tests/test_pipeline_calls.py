"""Calls on a request's critical path (benchmarks/pipeline.py's breakdown): plan reads the
cache once for a request and its chunks, and a chunk's event reaches the sender's reply
queue before the bus, a terminal event after it. Plan and synthesis run in this process
on moto server (real DynamoDB tables) with the real voice; S3, the bus and the queues
are the plan harness's outbox, which keeps what was sent in order."""

from collections.abc import Iterator
from typing import Any

import pytest
from plan_harness import PlanHarness, plan_harness

from voxflow.engine import Engine
from voxflow.pipeline.chunks import BatchSynthesis, complete_chunk
from voxflow.voices import VoiceRegistry
from voxflow_local.moto_server import MotoServer

TEXT = "Press one for sales. Press two for support."
REPLIES = "https://sqs.us-east-1.amazonaws.com/123456789012/replies"


@pytest.fixture(scope="module")
def moto() -> Iterator[MotoServer]:
    with MotoServer() as server:
        yield server


@pytest.fixture
def harness(moto: MotoServer, registry: VoiceRegistry, engine: Engine) -> PlanHarness:
    harness = plan_harness(moto.url, registry)
    harness.pipeline._engine = engine
    return harness


@pytest.fixture
def reads(harness: PlanHarness, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """Every cache read plan makes: (method, keys asked for)."""
    cache, made = harness.pipeline.cache, []
    lookup, lookup_many = cache.lookup, cache.lookup_many

    def counted_lookup(key: str) -> Any:
        made.append(("lookup", 1))
        return lookup(key)

    def counted_many(keys: list[str], **options: Any) -> Any:
        made.append(("lookup_many", len(keys)))
        return lookup_many(keys, **options)

    monkeypatch.setattr(cache, "lookup", counted_lookup)
    monkeypatch.setattr(cache, "lookup_many", counted_many)
    return made


def synthesize_all(harness: PlanHarness) -> None:
    tasks, harness.outbox.tasks = harness.outbox.tasks, []
    batch = BatchSynthesis(tasks, harness.pipeline)
    for task in tasks:
        complete_chunk(task, batch, 1, harness.pipeline)


def test_a_miss_and_a_hit_each_read_the_cache_once(
    harness: PlanHarness, reads: list[tuple[str, int]]
) -> None:
    job = harness.plan(TEXT)
    assert reads == [("lookup_many", 3)]  # the request's key and its two chunks'
    assert [task.index for task in harness.outbox.tasks] == [0, 1]
    assert job.dispatched
    synthesize_all(harness)
    reads.clear()

    harness.plan(TEXT)
    assert reads == [("lookup_many", 3)]
    assert harness.outbox.details("SynthesisCompleted")[-1]["cache"] == "hit"


def test_chunks_cached_by_another_request_are_not_queued_again(
    harness: PlanHarness, reads: list[tuple[str, int]]
) -> None:
    harness.plan("Press one for sales.")
    synthesize_all(harness)
    reads.clear()
    harness.plan(TEXT, format="wav")
    assert reads == [("lookup_many", 3)]
    assert [task.index for task in harness.outbox.tasks] == [1]


def test_plan_reports_a_few_cached_chunks_and_leaves_the_rest_to_the_lanes(
    harness: PlanHarness,
) -> None:
    """A request whose chunks are all cached (a takeover after replication, a long text
    said before in pieces): plan reports three of them itself and sends the rest as
    tasks, which the synthesize step reports without synthesizing. Reporting all of a
    32-chunk request in plan ran past its 30 s timeout under load (issue 17 part 7)."""
    sentences = [f"Sentence {n} of the cached text." for n in range(6)]
    for sentence in sentences:
        harness.plan(sentence)
        synthesize_all(harness)
    harness.outbox.events.clear()
    job = harness.plan(" ".join(sentences), format="wav")
    assert int(job.chunk_count) == 6
    assert [task.index for task in harness.outbox.tasks] == [3, 4, 5]
    assert [d["index"] for d in harness.outbox.details("ChunkSynthesized")] == [0, 1, 2]
    chunk_objects = {key for key in harness.outbox.objects if key.startswith("chunks/")}
    synthesize_all(harness)
    # Nothing synthesized again: no chunk object written.
    assert {key for key in harness.outbox.objects if key.startswith("chunks/")} == chunk_objects
    assert sorted(d["index"] for d in harness.outbox.details("ChunkSynthesized")) == list(range(6))
    assert harness.outbox.details("SynthesisCompleted")[-1]["request_id"] == job.request_id


def test_more_keys_than_one_batch_get_are_read_in_two_steps(
    harness: PlanHarness, reads: list[tuple[str, int]]
) -> None:
    text = " ".join(f"Item number {n} is on the list." for n in range(120))
    job = harness.plan(text)
    count = int(job.chunk_count)
    assert count >= 100
    assert reads == [("lookup", 1), ("lookup_many", count)]
    assert len(harness.outbox.tasks) == count


def test_chunk_events_reach_the_reply_queue_before_the_bus_and_terminal_events_after(
    harness: PlanHarness,
) -> None:
    harness.plan(TEXT, reply_to={"queue_url": REPLIES})
    harness.outbox.events.clear()
    synthesize_all(harness)
    order = [
        ("reply" if "QueueUrl" in event else "bus", event.get("detail-type") or event["DetailType"])
        for event in harness.outbox.events
    ]
    assert order == [
        ("reply", "ChunkSynthesized"),
        ("bus", "ChunkSynthesized"),
        ("reply", "ChunkSynthesized"),
        ("bus", "ChunkSynthesized"),
        ("bus", "SynthesisCompleted"),
        ("reply", "SynthesisCompleted"),
    ]


def test_a_request_with_speech_marks_is_a_hit_with_its_marks_in_one_read(
    harness: PlanHarness, reads: list[tuple[str, int]]
) -> None:
    asked: dict[str, Any] = {"speech_marks": ["word", "sentence"]}
    harness.plan(TEXT, **asked)
    assert reads == [("lookup_many", 4)]  # the request's, its marks' and two chunks' keys
    synthesize_all(harness)
    reads.clear()

    harness.plan(TEXT, **asked)
    assert reads == [("lookup_many", 4)]
    completed = harness.outbox.details("SynthesisCompleted")[-1]
    assert completed["cache"] == "hit"
    assert completed["marks_url"]
