"""Calls on a request's critical path (benchmarks/pipeline.py's breakdown): plan reads the
cache once for a request and its chunks, and a chunk's event reaches the sender's reply
queue before the bus, a terminal event after it. Plan and synthesis run in this process
on moto server (real DynamoDB tables) with the real voice; S3, the bus and the queues
are the plan harness's outbox, which keeps what was sent in order."""

from typing import Any

import pytest
from plan_harness import PlanHarness

TEXT = "Press one for sales. Press two for support."
REPLIES = "https://sqs.us-east-1.amazonaws.com/123456789012/replies"


@pytest.fixture
def reads(voiced_plan: PlanHarness, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """Every cache read plan makes: (method, keys asked for)."""
    cache, made = voiced_plan.pipeline.cache, []
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


def test_a_miss_and_a_hit_each_read_the_cache_once(
    voiced_plan: PlanHarness, reads: list[tuple[str, int]]
) -> None:
    job = voiced_plan.plan(TEXT)
    assert reads == [("lookup_many", 3)]  # the request's key and its two chunks'
    assert [task.index for task in voiced_plan.outbox.tasks] == [0, 1]
    assert job.dispatched
    voiced_plan.synthesize_all()
    reads.clear()

    voiced_plan.plan(TEXT)
    assert reads == [("lookup_many", 3)]
    assert voiced_plan.outbox.details("SynthesisCompleted")[-1]["cache"] == "hit"


def test_chunks_cached_by_another_request_are_not_queued_again(
    voiced_plan: PlanHarness, reads: list[tuple[str, int]]
) -> None:
    voiced_plan.plan("Press one for sales.")
    voiced_plan.synthesize_all()
    reads.clear()
    voiced_plan.plan(TEXT, format="wav")
    assert reads == [("lookup_many", 3)]
    assert [task.index for task in voiced_plan.outbox.tasks] == [1]


def test_more_keys_than_one_batch_get_are_read_in_two_steps(
    voiced_plan: PlanHarness, reads: list[tuple[str, int]]
) -> None:
    text = " ".join(f"Item number {n} is on the list." for n in range(120))
    job = voiced_plan.plan(text)
    count = int(job.chunk_count)
    assert count >= 100
    assert reads == [("lookup", 1), ("lookup_many", count)]
    assert len(voiced_plan.outbox.tasks) == count


def test_chunk_events_reach_the_reply_queue_before_the_bus_and_terminal_events_after(
    voiced_plan: PlanHarness,
) -> None:
    voiced_plan.plan(TEXT, reply_to={"queue_url": REPLIES})
    voiced_plan.outbox.events.clear()
    voiced_plan.synthesize_all()
    order = [
        ("reply" if "QueueUrl" in event else "bus", event.get("detail-type") or event["DetailType"])
        for event in voiced_plan.outbox.events
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
    voiced_plan: PlanHarness, reads: list[tuple[str, int]]
) -> None:
    asked: dict[str, Any] = {"speech_marks": ["word", "sentence"]}
    voiced_plan.plan(TEXT, **asked)
    assert reads == [("lookup_many", 4)]  # the request's, its marks' and two chunks' keys
    voiced_plan.synthesize_all()
    reads.clear()

    voiced_plan.plan(TEXT, **asked)
    assert reads == [("lookup_many", 4)]
    completed = voiced_plan.outbox.details("SynthesisCompleted")[-1]
    assert completed["cache"] == "hit"
    assert completed["marks_url"]
