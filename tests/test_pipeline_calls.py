"""Calls on a request's critical path (benchmarks/pipeline.py's breakdown): plan reads the
cache once for a request and its chunks, and a chunk's event reaches the sender's reply
queue before the bus, a terminal event after it. Plan and synthesis run in this process
on moto server (real DynamoDB tables) with the real voice; S3, the bus and the queues
are the plan harness's outbox, which keeps what was sent in order."""

from pathlib import Path
from typing import Any

import pytest
from plan_harness import PlanHarness

from voxflow.errors import InvalidParameter
from voxflow.events import MAX_TEXT_CHARS
from voxflow.pipeline import marks as marks_module
from voxflow.pipeline.chunks import BatchSynthesis, complete_chunk
from voxflow.pipeline.marks import RequestMarks
from voxflow.pipeline.recent import RecentChunks
from voxflow.store import CacheEntry

TEXT = "Press one for sales. Press two for support."
REPLIES = "https://sqs.us-east-1.amazonaws.com/123456789012/replies"


@pytest.fixture
def reads(voiced_plan: PlanHarness, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """Every cache read plan makes: (method, keys asked for)."""
    cache, made = voiced_plan.pipeline.cache, []
    lookup, lookup_many, lookup_in = cache.lookup, cache.lookup_many, cache.lookup_in

    def counted_lookup(key: str) -> Any:
        made.append(("lookup", 1))
        return lookup(key)

    def counted_many(keys: list[str], **options: Any) -> Any:
        made.append(("lookup_many", len(keys)))
        return lookup_many(keys, **options)

    def counted_in(read: Any, keys: list[str]) -> Any:
        made.append(("lookup_in", len(keys)))  # with the quota item, in one BatchGetItem
        return lookup_in(read, keys)

    monkeypatch.setattr(cache, "lookup", counted_lookup)
    monkeypatch.setattr(cache, "lookup_many", counted_many)
    monkeypatch.setattr(cache, "lookup_in", counted_in)
    return made


def test_a_miss_and_a_hit_each_read_the_cache_once(
    voiced_plan: PlanHarness, reads: list[tuple[str, int]]
) -> None:
    job = voiced_plan.plan(TEXT)
    assert reads == [("lookup_in", 3)]  # the request's key and its two chunks'
    assert [task.index for task in voiced_plan.outbox.tasks] == [0, 1]
    assert job.dispatched
    voiced_plan.synthesize_all()
    reads.clear()

    voiced_plan.plan(TEXT)
    assert reads == [("lookup_in", 3)]
    assert voiced_plan.outbox.details("SynthesisCompleted")[-1]["cache"] == "hit"


def test_chunks_cached_by_another_request_are_not_queued_again(
    voiced_plan: PlanHarness, reads: list[tuple[str, int]]
) -> None:
    voiced_plan.plan("Press one for sales.")
    voiced_plan.synthesize_all()
    reads.clear()
    voiced_plan.plan(TEXT, format="wav")
    assert reads == [("lookup_in", 3)]
    assert [task.index for task in voiced_plan.outbox.tasks] == [1]


def test_plan_reports_every_cached_chunk_together(voiced_plan: PlanHarness) -> None:
    """A request whose chunks are all cached (a takeover after replication, a long text
    said before in pieces): plan counts them in one job write and sends their events ten
    to a PutEvents call (and ten to a SendMessageBatch to the reply queue), then
    assembles; no chunk task is queued. Sent as tasks, they held the lanes in the drill
    (issue 17)."""
    sentences = [f"Sentence {n} of the cached text." for n in range(12)]
    for sentence in sentences:
        voiced_plan.plan(sentence)
        voiced_plan.synthesize_all()
    voiced_plan.outbox.events.clear()
    voiced_plan.outbox.puts.clear()
    chunk_objects = {key for key in voiced_plan.outbox.objects if key.startswith("chunks/")}
    job = voiced_plan.plan(" ".join(sentences), format="wav", reply_to={"queue_url": REPLIES})
    assert int(job.chunk_count) == 12
    assert voiced_plan.outbox.tasks == []
    bus = voiced_plan.outbox.details("ChunkSynthesized")
    assert [d["index"] for d in bus] == list(range(12))
    assert {d["request_id"] for d in bus} == {job.request_id}
    replies = [e for e in voiced_plan.outbox.events if e.get("QueueUrl") == REPLIES]
    assert [
        e["detail"]["index"] for e in replies if e["detail-type"] == "ChunkSynthesized"
    ] == list(range(12))
    # Ten events to a call, then the terminal event on its own.
    assert voiced_plan.outbox.puts == [10, 2, 1]
    assert voiced_plan.outbox.batches == [10, 2]
    # Nothing synthesized again: no chunk object written.
    assert {key for key in voiced_plan.outbox.objects if key.startswith("chunks/")} == chunk_objects
    completed = voiced_plan.outbox.details("SynthesisCompleted")
    assert [d["request_id"] for d in completed] == [job.request_id]
    stored = voiced_plan.pipeline.jobs.get(job.request_id)
    assert stored is not None
    assert stored.status == "completed"


def test_more_keys_than_one_batch_get_are_read_in_two_steps(
    voiced_plan: PlanHarness, reads: list[tuple[str, int]]
) -> None:
    text = " ".join(f"Item number {n} is on the list." for n in range(120))
    job = voiced_plan.plan(text)
    count = int(job.chunk_count)
    assert count >= 100
    assert reads == [("lookup", 1), ("lookup_many", count)]
    assert len(voiced_plan.outbox.tasks) == count


def test_the_chunk_that_completes_a_miss_assembles_without_reading_its_job_again(
    voiced_plan: PlanHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = voiced_plan.plan(TEXT, format="wav")
    jobs, read = voiced_plan.pipeline.jobs, []
    get = jobs.get

    def counted_get(request_id: str) -> Any:
        read.append(request_id)
        return get(request_id)

    monkeypatch.setattr(jobs, "get", counted_get)
    voiced_plan.synthesize_all()
    assert read == []  # the last chunk's record returned the job as written
    completed = voiced_plan.outbox.details("SynthesisCompleted")[-1]
    assert completed["request_id"] == job.request_id
    assert completed["duration_s"] > 2.0  # two sentences of speech


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


def test_a_chunks_index_write_starts_once_its_reply_is_sent(
    voiced_plan: PlanHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The index write is off the path to the chunk's event: it starts after the reply
    (alongside the bus put), and the chunk's message ends once it is written."""
    job = voiced_plan.plan(TEXT, format="wav", reply_to={"queue_url": REPLIES})
    outbox, replies_before = voiced_plan.outbox, []
    save = CacheEntry.save

    def noted_save(entry: CacheEntry, *args: Any, **kwargs: Any) -> Any:
        if entry.kind == "chunk":
            replies_before.append(sum("QueueUrl" in event for event in outbox.events))
        return save(entry, *args, **kwargs)

    monkeypatch.setattr(CacheEntry, "save", noted_save)
    outbox.events.clear()
    voiced_plan.synthesize_all()
    assert replies_before == [1, 2]  # each chunk's after its own reply
    assert set(voiced_plan.pipeline.cache.lookup_many(job.chunk_keys)) == set(job.chunk_keys)
    assert voiced_plan.outbox.details("SynthesisCompleted")[-1]["request_id"] == job.request_id


def test_assembly_reads_a_counted_chunk_whose_index_entry_is_not_written(
    voiced_plan: PlanHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two workers: the first counts chunk 0 and stores its object, but its index write
    fails (the message is retried); the second completes the job with chunk 1 and
    assembles chunk 0 from its object, not from an index entry it cannot find."""
    job = voiced_plan.plan(TEXT, format="wav")
    pipeline, (first, second) = voiced_plan.pipeline, voiced_plan.outbox.tasks
    voiced_plan.outbox.tasks = []
    save = CacheEntry.save

    def failing_save(entry: CacheEntry, *args: Any, **kwargs: Any) -> Any:
        if entry.key == first.chunk_key:
            raise ConnectionError("index write lost")
        return save(entry, *args, **kwargs)

    monkeypatch.setattr(CacheEntry, "save", failing_save)
    with pytest.raises(ConnectionError):
        complete_chunk(first, BatchSynthesis([first], pipeline), 1, pipeline)
    monkeypatch.setattr(CacheEntry, "save", save)
    assert pipeline.cache.lookup_many([first.chunk_key]) == {}
    assert [event["index"] for event in voiced_plan.outbox.details("ChunkSynthesized")] == [0]
    pipeline.recent = RecentChunks()  # the other worker's memory: chunk 0 is not in it
    complete_chunk(second, BatchSynthesis([second], pipeline), 1, pipeline)
    completed = voiced_plan.outbox.details("SynthesisCompleted")
    assert [event["request_id"] for event in completed] == [job.request_id]
    assert completed[0]["duration_s"] > 2.0  # both sentences, chunk 0's from its object


def test_a_request_with_speech_marks_is_a_hit_with_its_marks_in_one_read(
    voiced_plan: PlanHarness, reads: list[tuple[str, int]]
) -> None:
    asked: dict[str, Any] = {"speech_marks": ["word", "sentence"]}
    voiced_plan.plan(TEXT, **asked)
    assert reads == [("lookup_in", 4)]  # the request's, its marks' and two chunks' keys
    voiced_plan.synthesize_all()
    reads.clear()

    voiced_plan.plan(TEXT, **asked)
    assert reads == [("lookup_in", 4)]
    completed = voiced_plan.outbox.details("SynthesisCompleted")[-1]
    assert completed["cache"] == "hit"
    assert completed["marks_url"]


def test_marks_for_a_text_at_the_request_limit_ride_on_the_job_item(
    voiced_plan: PlanHarness,
) -> None:
    # 100,000 characters of prose (these docs): the plan's JSON would be ~800 KB, over
    # DynamoDB's 400 KB item limit (moto server enforces it too); packed it is ~80 KB.
    docs = sorted((Path(__file__).resolve().parents[1] / "docs").glob("*.md"))
    text = "\n\n".join(path.read_text(encoding="utf-8") for path in docs)[:MAX_TEXT_CHARS]
    job = voiced_plan.plan(text, speech_marks=["word", "sentence"])
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
    voiced_plan: PlanHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What a 100,000-character text of poorly compressible script could pack to.
    monkeypatch.setattr(marks_module, "MAX_PACKED_PLAN_BYTES", 100)
    with pytest.raises(InvalidParameter, match=r"marks plan packs to .* bytes, over the 100 "):
        voiced_plan.plan(TEXT * 3, speech_marks=["word"])
    assert not voiced_plan.outbox.tasks
