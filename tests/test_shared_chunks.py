"""Jobs in flight together share the chunks they lack: one job makes each, the others
wait on its claim (voxflow.store.claims, voxflow.pipeline.shared_chunks).

The claims table over HTTP on moto server: a claim, a waiter, the release that hands the
waiters over, a lapsed claim taken over with its waiters. Then plan and the synthesize
step with the real voice: a long text that shares all but its first sentence with one in
flight queues one short task and waits for the rest, and both come out as the engine's
own audio; a maker whose chunks fail for good hands its waiters back to the lanes.
"""

import threading
import uuid
from typing import Any

import numpy as np
import pytest
from plan_harness import PlanHarness, plan_harness

from voxflow.audio import decode, join_pcm
from voxflow.aws import AwsClients, AwsSettings
from voxflow.engine import Engine, SynthesisParams
from voxflow.events import ChunkTask
from voxflow.pipeline.chunks import BatchSynthesis, complete_chunk
from voxflow.store import Job
from voxflow.store.claims import ChunkClaims
from voxflow.text import normalize_text, split_into_chunks
from voxflow.voices import VoiceRegistry
from voxflow_local.moto_server import MotoServer

SILENT: dict[str, Any] = {"noise_scale": 0.0, "noise_w": 0.0}
SHARED = [
    "The harbour lights came on one by one.",
    "A ferry sounded twice across the water.",
    "Gulls settled on the posts of the old pier.",
    "Somewhere a radio played a slow waltz.",
]


def claims_table(moto_url: str, **options: Any) -> ChunkClaims:
    """A new, empty claims table of the template's schema on the moto server."""
    dynamodb = AwsClients(AwsSettings.local(moto_url)).dynamodb
    name = f"chunk-claims-{uuid.uuid4().hex[:8]}"
    dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "chunk_key", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "chunk_key", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return ChunkClaims(dynamodb, name, **options)


def task(request_id: str, index: int = 0, key: str = "k" * 64) -> ChunkTask:
    return ChunkTask(
        request_id=request_id,
        index=index,
        count=index + 1,
        text="Hello.",
        chunk_key=key,
        voice="joe",
        model_version="f" * 64,
        params={"length_scale": 1.0, "noise_scale": 0.0, "noise_w": 0.0, "sentence_pause_s": 0.2},
        sample_rate=22050,
    )


def test_the_first_claim_makes_the_others_wait_and_the_release_hands_them_over(
    moto: MotoServer,
) -> None:
    claims = claims_table(moto.url)
    maker, waiter = task("a"), task("b", index=3)
    assert claims.claim(maker)
    assert claims.claim(maker)  # its own claim again (a redelivered plan)
    assert not claims.claim(waiter)
    assert claims.release(maker.chunk_key, "b") == []  # not b's claim
    assert claims.release(maker.chunk_key, "a") == [waiter]
    assert claims.release(maker.chunk_key, "a") == []  # released once
    assert claims.claim(waiter)  # nobody makes it now: the next claim does


def test_a_jobs_claims_are_decided_together(moto: MotoServer) -> None:
    claims = claims_table(moto.url)
    first, second, third = "a" * 64, "b" * 64, "c" * 64
    tasks = [task("a", 0, first), task("a", 1, second)]
    assert claims.claim_many(tasks, claims.held([first, second])) == [True, True]
    # b lacks the second chunk (a makes it) and a third nobody makes.
    tasks = [task("b", 0, second), task("b", 1, third), task("b", 2, second)]
    assert claims.held([second, third]) == {second: "a"}
    assert claims.claim_many(tasks, claims.held([second, third])) == [False, True, False]
    waiters = claims.release(second, "a")  # written side by side: in either order
    assert sorted((w.request_id, w.index) for w in waiters) == [("b", 0), ("b", 2)]
    assert claims.release(third, "b") == []


class StaleReads(ChunkClaims):
    """Claims whose read of the live claims is out of date by the time they write."""

    def __init__(self, dynamodb: Any, table: str, stale: dict[str, str]) -> None:
        super().__init__(dynamodb, table)
        self.stale = stale

    def held(self, keys: list[str]) -> dict[str, str]:
        return {key: maker for key, maker in self.stale.items() if key in keys}


def test_claims_read_out_of_date_are_decided_one_by_one(moto: MotoServer) -> None:
    fresh = claims_table(moto.url)
    held, free = "h" * 64, "f" * 64
    claims = StaleReads(fresh._dynamodb, fresh.table, {free: "gone"})
    assert fresh.claim(task("maker", 0, held))
    # Read as free but held since, and read as held but released since: both
    # transactions are cancelled, and each chunk is decided on its own.
    tasks = [task("b", 0, held), task("b", 1, free)]
    assert claims.claim_many(tasks, claims.held([held, free])) == [False, True]
    assert [w.request_id for w in fresh.release(held, "maker")] == ["b"]
    assert fresh.release(free, "b") == []


def test_a_lapsed_claim_is_taken_over_with_its_waiters(moto: MotoServer) -> None:
    now = [1000.0]
    claims = claims_table(moto.url, lease_s=60, clock=lambda: now[0])
    assert claims.claim(task("a"))
    now[0] += 10
    assert not claims.claim(task("b"))
    now[0] += 55  # a's lease is over: c makes the chunk now
    assert claims.claim(task("c"))
    assert claims.release("k" * 64, "a") == []  # a came back late: c reports
    assert [waiter.request_id for waiter in claims.release("k" * 64, "c")] == ["b"]


@pytest.fixture
def sharing(moto: MotoServer, registry: VoiceRegistry, engine: Engine) -> PlanHarness:
    harness = plan_harness(moto.url, registry, claims=claims_table(moto.url))
    harness.pipeline._engine = engine
    return harness


def _texts() -> tuple[str, str]:
    tag = uuid.uuid4().hex[:6]
    shared = " ".join(f"{sentence[:-1]}, {tag}." for sentence in SHARED)
    return f"The first reader opens here. {shared}", f"A second reader starts now. {shared}"


def _audio(harness: PlanHarness, job: Job) -> np.ndarray:
    stored = harness.pipeline.audio.audio_object(job.key, ".wav")
    pcm, _ = decode(harness.outbox.objects[stored])
    return pcm


def _expected(engine: Engine, text: str) -> np.ndarray:
    chunks = split_into_chunks(normalize_text(text))
    local = [chunk.pcm for chunk in engine.synthesize(chunks, "joe", SynthesisParams(**SILENT))]
    return join_pcm(local, 22050, pause_s=0.2)


def _assert_speaks(harness: PlanHarness, job: Job, engine: Engine, text: str) -> None:
    pcm, expected = _audio(harness, job), _expected(engine, text)
    assert len(pcm) == len(expected)
    assert np.corrcoef(pcm.astype(float), expected.astype(float))[0, 1] >= 0.999


def test_a_long_text_waits_for_the_chunks_another_makes_and_queues_only_its_own(
    sharing: PlanHarness, engine: Engine
) -> None:
    first_text, second_text = _texts()
    first = sharing.plan(first_text, format="wav", params=SILENT)
    assert [t.request_id for t in sharing.outbox.tasks] == [first.request_id] * 5
    # Its first chunk before the claims, unclaimed; all on the long lane.
    assert sharing.outbox.lanes == ["long-chunks"] * 5
    assert [t.claimed for t in sharing.outbox.tasks] == [False] + [True] * 4

    second = sharing.plan(second_text, format="wav", params=SILENT)
    # Its own first sentence only, on the short lane: the other four are being made.
    (own,) = [t for t in sharing.outbox.tasks if t.request_id == second.request_id]
    assert own.index == 0
    assert sharing.outbox.lanes[-1] == "chunks"

    sharing.synthesize_all()
    made = [key for key in sharing.outbox.objects if key.startswith("chunks/")]
    assert len(made) == 6  # five chunks, and the second text's own first one
    for job, text in ((first, first_text), (second, second_text)):
        events = [
            event
            for event in sharing.outbox.details("ChunkSynthesized")
            if event["request_id"] == job.request_id
        ]
        assert sorted(event["index"] for event in events) == list(range(5))
        completed = sharing.outbox.details("SynthesisCompleted")
        assert [event["request_id"] for event in completed].count(job.request_id) == 1
        _assert_speaks(sharing, job, engine, text)
    claims = sharing.pipeline.chunk_claims
    assert claims is not None
    left = claims._dynamodb.scan(TableName=claims.table)["Items"]
    assert left == []  # every claim released


def test_plan_reads_the_claims_beside_its_cache_read_not_before_the_first_chunk(
    sharing: PlanHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The claims' BatchGetItem runs on the read-ahead's threads, beside the cache read,
    so nothing stands between the job's claim and its first chunk's send."""
    claims = sharing.pipeline.chunk_claims
    assert claims is not None
    reads: list[tuple[str, int]] = []
    held = claims.held

    def spied(keys: list[str]) -> dict[str, str]:
        reads.append((threading.current_thread().name, len(keys)))
        return held(keys)

    monkeypatch.setattr(claims, "held", spied)
    first_text, second_text = _texts()
    sharing.plan(first_text, format="wav", params=SILENT)
    second = sharing.plan(second_text, format="wav", params=SILENT)
    assert [name.startswith("voxflow-hit") for name, _ in reads] == [True, True]
    assert [count for _, count in reads] == [5, 5]  # every chunk's key, in one read
    (own,) = [t for t in sharing.outbox.tasks if t.request_id == second.request_id]
    assert own.index == 0  # the read-ahead's claims decided it as before


def test_a_maker_whose_chunks_fail_for_good_hands_its_waiters_back(
    sharing: PlanHarness, engine: Engine
) -> None:
    first_text, second_text = _texts()
    first = sharing.plan(first_text, format="wav", params=SILENT)
    second = sharing.plan(second_text, format="wav", params=SILENT)
    tasks, sharing.outbox.tasks = sharing.outbox.tasks, []
    # The first text's chunks ask for a model this deployment does not have: on their
    # last attempt its job fails, and its claims go back to the second text.
    broken = [
        t.model_copy(update={"model_version": "0" * 64}) if t.request_id == first.request_id else t
        for t in tasks
    ]
    batch = BatchSynthesis(broken, sharing.pipeline)
    last = sharing.pipeline.settings.max_receive_count
    for each in broken:
        try:
            complete_chunk(each, batch, last, sharing.pipeline)
        except Exception:
            assert each.request_id == first.request_id
    (failed,) = sharing.outbox.details("SynthesisFailed")
    assert failed["request_id"] == first.request_id
    handed = [t for t in sharing.outbox.tasks if t.request_id == second.request_id]
    assert sorted(t.index for t in handed) == [1, 2, 3, 4]

    sharing.synthesize_all()
    (done,) = sharing.outbox.details("SynthesisCompleted")
    assert done["request_id"] == second.request_id
    _assert_speaks(sharing, second, engine, second_text)


def test_jobs_a_shared_chunk_completes_are_assembled_one_here_the_others_queued(
    sharing: PlanHarness, engine: Engine
) -> None:
    """Three texts share four sentences; the last shared chunk completes the two that
    waited. The maker's step assembles one of them and queues the other's task again,
    whose own step then assembles it: each once, as the engine's audio, no chunk made
    twice."""
    first_text, second_text = _texts()
    third_text = "A third reader joins in. " + second_text.split(". ", 1)[1]
    first = sharing.plan(first_text, format="wav", params=SILENT)
    second = sharing.plan(second_text, format="wav", params=SILENT)
    third = sharing.plan(third_text, format="wav", params=SILENT)
    queued, sharing.outbox.tasks = sharing.outbox.tasks, []
    # The waiters' own first sentences first: the maker's last chunk completes both.
    own = [t for t in queued if t.request_id != first.request_id]
    assert sorted(t.request_id for t in own) == sorted([second.request_id, third.request_id])
    sharing.outbox.tasks = own
    sharing.synthesize_all()
    sharing.outbox.tasks = [t for t in queued if t.request_id == first.request_id]
    sharing.synthesize_all()

    completed = [event["request_id"] for event in sharing.outbox.details("SynthesisCompleted")]
    assert first.request_id in completed
    (waiter_done,) = [rid for rid in completed if rid != first.request_id]
    (handed,) = sharing.outbox.tasks
    assert {handed.request_id, waiter_done} == {second.request_id, third.request_id}
    assert handed.index == 4  # the task of the chunk that completed it
    made = len([key for key in sharing.outbox.objects if key.startswith("chunks/")])

    sharing.synthesize_all()  # the handed-on task's own step
    completed = [event["request_id"] for event in sharing.outbox.details("SynthesisCompleted")]
    assert sorted(completed) == sorted([first.request_id, second.request_id, third.request_id])
    assert len([key for key in sharing.outbox.objects if key.startswith("chunks/")]) == made
    for job, text in ((first, first_text), (second, second_text), (third, third_text)):
        _assert_speaks(sharing, job, engine, text)
