"""Calls on a request's critical path (benchmarks/pipeline.py's breakdown): plan reads the
cache once for a request and its chunks, and a chunk's event reaches the sender's reply
queue before the bus, a terminal event after it. Plan and synthesis run in this process
on moto server (real DynamoDB tables) with the real voice; S3, the bus and the queues
are the plan harness's outbox, which keeps what was sent in order."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from plan_harness import PlanHarness, plan_harness

from voxflow.engine import Engine
from voxflow.errors import InvalidParameter
from voxflow.events import MAX_TEXT_CHARS
from voxflow.pipeline import marks as marks_module
from voxflow.pipeline.chunks import BatchSynthesis, complete_chunk
from voxflow.pipeline.marks import RequestMarks
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


def test_marks_for_a_text_at_the_request_limit_ride_on_the_job_item(
    harness: PlanHarness,
) -> None:
    # 100,000 characters of prose (these docs): the plan's JSON would be ~800 KB, over
    # DynamoDB's 400 KB item limit (moto server enforces it too); packed it is ~80 KB.
    docs = sorted((Path(__file__).resolve().parents[1] / "docs").glob("*.md"))
    text = "\n\n".join(path.read_text(encoding="utf-8") for path in docs)[:MAX_TEXT_CHARS]
    job = harness.plan(text, speech_marks=["word", "sentence"])
    assert job.marks_json is not None
    assert len(job.marks_json) < 150_000
    marks = RequestMarks.from_json(job.marks_json)
    assert len(marks.plan.words) > 10_000
    assert len(marks.plan.chunk_words) == len(job.chunk_keys)
    data = text.encode("utf-8")
    assert all(
        data[word.start : word.end].decode("utf-8") == word.value for word in marks.plan.words
    )
    assert marks.plan.sentences[-1].end <= len(data)


def test_a_marks_plan_too_large_for_a_job_is_a_typed_failure(
    harness: PlanHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What a 100,000-character text of poorly compressible script could pack to.
    monkeypatch.setattr(marks_module, "MAX_PACKED_PLAN_BYTES", 100)
    with pytest.raises(InvalidParameter, match=r"marks plan packs to .* bytes, over the 100 "):
        harness.plan(TEXT * 3, speech_marks=["word"])
    assert not harness.outbox.tasks
