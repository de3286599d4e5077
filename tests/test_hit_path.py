"""A cache hit answered in one transaction (voxflow.pipeline.hit), controls on: the job
created terminal, the quota charged and both halves of the audit record written
together, then the bus and the reply; every request still ends in exactly one terminal
event, whichever path it took. plan runs in this process on moto server over HTTP (real
DynamoDB tables: jobs, cache, quotas, audit) with the real voice; S3, the bus and the
queues are the plan harness's outbox."""

import json
import threading
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from plan_harness import PlanHarness, plan_harness

from voxflow.audit import AuditLog, AuditSettings, create_audit_table
from voxflow.aws import AwsClients, AwsSettings
from voxflow.engine import Engine
from voxflow.events import SynthesisRequested
from voxflow.pipeline.chunks import BatchSynthesis, complete_chunk
from voxflow.pipeline.hit import Hit, hit_in
from voxflow.pipeline.plan import plan_item
from voxflow.pipeline.publisher import PublishFailed
from voxflow.quotas import QuotaSettings, TenantLimits, TokenBucket, create_quotas_table
from voxflow.store import CacheEntry
from voxflow.store.batch_read import BatchRead
from voxflow.store.jobs import COMPLETED, FAILED
from voxflow.voices import VoiceRegistry
from voxflow_local.moto_server import MotoServer

PHRASE = "Your order has shipped."
REPLIES = "https://sqs.us-east-1.amazonaws.com/123456789012/replies"
LIMITS = TenantLimits(chars_per_s=0.01, chars_burst=500, requests_per_s=1, requests_burst=100)


@pytest.fixture(scope="module")
def moto() -> Iterator[MotoServer]:
    with MotoServer() as server:
        yield server


@pytest.fixture
def harness(moto: MotoServer, registry: VoiceRegistry, engine: Engine) -> PlanHarness:
    aws = AwsSettings.local(moto.url)
    clients = AwsClients(aws)
    suffix = uuid.uuid4().hex[:8]
    create_quotas_table(clients.dynamodb, f"quotas-{suffix}")
    create_audit_table(clients.dynamodb, f"audit-{suffix}")
    harness = plan_harness(
        moto.url,
        registry,
        quotas=TokenBucket.bound(QuotaSettings(f"quotas-{suffix}", default=LIMITS), aws),
        audit=AuditLog.bound(AuditSettings(f"audit-{suffix}"), aws),
    )
    harness.pipeline._engine = engine
    return harness


def cached(harness: PlanHarness, text: str = PHRASE, **fields: Any) -> str:
    """Plans ``text`` once as a miss and synthesizes it; returns the request's key."""
    job = harness.plan(text, **fields)
    tasks, harness.outbox.tasks = harness.outbox.tasks, []
    batch = BatchSynthesis(tasks, harness.pipeline)
    for task in tasks:
        complete_chunk(task, batch, 1, harness.pipeline)
    return str(job.key)


def terminal_events(harness: PlanHarness, request_id: str) -> list[tuple[str, str]]:
    """(where, detail type) of every terminal event of ``request_id``, in order."""
    found = []
    for event in harness.outbox.events:
        kind = event.get("detail-type") or event.get("DetailType")
        if kind not in {"SynthesisCompleted", "SynthesisFailed"}:
            continue
        where = "reply" if "QueueUrl" in event else "bus"
        detail = event.get("detail") or _detail(event)
        if detail["request_id"] == request_id:
            found.append((where, kind))
    return found


def _detail(entry: dict[str, Any]) -> dict[str, Any]:
    if "Detail" in entry:
        return dict(json.loads(entry["Detail"]))
    return dict(json.loads(entry["MessageBody"])["detail"])


def _noted(call: Any, name: str, calls: list[str]) -> Any:
    def noted(*args: Any, **kwargs: Any) -> Any:
        calls.append(name)
        return call(*args, **kwargs)

    return noted


def chars_left(harness: PlanHarness, tenant: str = "acme") -> float:
    quotas = harness.pipeline.controls.quotas
    assert quotas is not None
    return float(quotas.read(tenant).chars)


def test_a_hit_is_answered_once_with_its_audio_charged_and_audited(
    harness: PlanHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = cached(harness)
    before = chars_left(harness)
    general: list[str] = []  # the general path's steps, which a hit does not take
    jobs = harness.pipeline.jobs
    for step in ("create", "finish", "get"):
        monkeypatch.setattr(jobs, step, _noted(getattr(jobs, step), step, general))
    job = harness.plan(PHRASE, reply_to={"queue_url": REPLIES})
    assert general == ["get"]  # the harness's own read of the job, after plan
    assert job.status == COMPLETED
    assert job.cache == "hit"
    assert job.terminal_sent
    assert not job.reply_sent
    # Bus and reply in one round: either may land first.
    assert sorted(terminal_events(harness, job.request_id)) == [
        ("bus", "SynthesisCompleted"),
        ("reply", "SynthesisCompleted"),
    ]
    completed = harness.outbox.details("SynthesisCompleted")[-1]
    assert completed["cache"] == "hit"
    assert completed["key"] == key
    assert completed["duration_s"] > 0.5
    # Charged once, the normalized phrase's length (refill: 0.01 char/s).
    assert before - len(PHRASE) <= chars_left(harness) <= before - len(PHRASE) + 5
    audit = harness.pipeline.controls.audit
    assert audit is not None
    record = audit.get(job.request_id)
    assert record is not None
    assert (record.status, record.cache, record.chars) == ("completed", "hit", len(PHRASE))
    assert record.text_sha256
    assert record.finished_at
    assert record.at
    entry = harness.pipeline.cache.lookup(key)
    assert entry is not None
    assert entry.hits >= 1


def test_a_redelivered_hit_sends_no_second_terminal_event(harness: PlanHarness) -> None:
    cached(harness)
    request = SynthesisRequested.model_validate(
        {
            "request_id": "again",
            "tenant": "acme",
            "text": PHRASE,
            "reply_to": {"queue_url": REPLIES},
        }
    )
    (item,) = request.expand()
    plan_item(item, harness.pipeline)
    before = chars_left(harness)
    plan_item(item, harness.pipeline)  # the same message delivered again
    assert sorted(terminal_events(harness, "again")) == [
        ("bus", "SynthesisCompleted"),
        ("reply", "SynthesisCompleted"),
    ]
    assert chars_left(harness) >= before  # not charged again


def test_concurrent_deliveries_of_one_hit_end_in_exactly_one_terminal_event(
    harness: PlanHarness,
) -> None:
    cached(harness)
    request = SynthesisRequested.model_validate(
        {
            "request_id": "racing",
            "tenant": "acme",
            "text": PHRASE,
            "reply_to": {"queue_url": REPLIES},
        }
    )
    (item,) = request.expand()
    errors: list[BaseException] = []

    def deliver() -> None:
        try:
            plan_item(item, harness.pipeline)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert sorted(terminal_events(harness, "racing")) == [
        ("bus", "SynthesisCompleted"),
        ("reply", "SynthesisCompleted"),
    ]


def test_a_hit_sends_to_the_bus_and_the_reply_in_one_round(
    harness: PlanHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Neither send can finish before the other has started: sent one after the other,
    the barrier breaks (its timeout only bounds a failing run)."""
    cached(harness)
    both = threading.Barrier(2, timeout=10)
    outbox = harness.outbox

    def meeting(call: Any) -> Any:
        def met(*args: Any, **kwargs: Any) -> Any:
            detail = kwargs.get("Entries", [{}])[0].get("DetailType") or kwargs.get("MessageBody")
            if "SynthesisCompleted" in str(detail):
                both.wait()
            return call(*args, **kwargs)

        return met

    monkeypatch.setattr(outbox, "put_events", meeting(outbox.put_events))
    monkeypatch.setattr(outbox, "send_message", meeting(outbox.send_message))
    job = harness.plan(PHRASE, reply_to={"queue_url": REPLIES})
    assert job.cache == "hit"
    assert job.terminal_sent
    assert sorted(terminal_events(harness, job.request_id)) == [
        ("bus", "SynthesisCompleted"),
        ("reply", "SynthesisCompleted"),
    ]


def test_a_bus_failure_beside_the_reply_resends_to_the_bus_only(
    harness: PlanHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    cached(harness)
    outbox, jobs = harness.outbox, harness.pipeline.jobs
    monkeypatch.setattr(jobs, "_send_lease", timedelta(0))  # a resend may follow at once
    put_events = outbox.put_events
    failures = [1]

    def failing_once(Entries: list[dict[str, Any]]) -> dict[str, Any]:  # noqa: N803
        if Entries[0]["DetailType"] == "SynthesisCompleted" and failures:
            failures.pop()
            return {"FailedEntryCount": 1, "Entries": [{"ErrorCode": "InternalFailure"}]}
        return put_events(Entries=Entries)

    monkeypatch.setattr(outbox, "put_events", failing_once)
    request = SynthesisRequested.model_validate(
        {
            "request_id": "bus-down",
            "tenant": "acme",
            "text": PHRASE,
            "reply_to": {"queue_url": REPLIES},
        }
    )
    (item,) = request.expand()
    with pytest.raises(PublishFailed):
        plan_item(item, harness.pipeline)
    job = jobs.get("bus-down")
    assert job is not None
    assert job.reply_sent
    assert not job.terminal_sent
    assert terminal_events(harness, "bus-down") == [("reply", "SynthesisCompleted")]
    plan_item(item, harness.pipeline)  # the message retried
    assert terminal_events(harness, "bus-down") == [
        ("reply", "SynthesisCompleted"),
        ("bus", "SynthesisCompleted"),
    ]
    job = jobs.get("bus-down")
    assert job is not None
    assert job.terminal_sent


def test_a_quota_item_changed_after_its_read_sends_the_hit_down_the_general_path(
    harness: PlanHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    cached(harness)
    quotas = harness.pipeline.controls.quotas
    assert quotas is not None
    read_in = quotas.read_in

    def read_then_another_writer(batch: BatchRead, tenant: str) -> Any:
        item = read_in(batch, tenant)

        def read_item() -> Any:
            found = item()
            quotas.take(tenant, 7)  # another worker charges between the read and the write
            return found

        return read_item

    before = chars_left(harness)
    monkeypatch.setattr(quotas, "read_in", read_then_another_writer)
    job = harness.plan(PHRASE)
    monkeypatch.undo()
    assert job.status == COMPLETED
    assert job.cache == "hit"
    assert terminal_events(harness, job.request_id) == [("bus", "SynthesisCompleted")]
    # The transaction wrote nothing: the phrase is charged once, by the general path.
    assert before - 7 - len(PHRASE) <= chars_left(harness) <= before - 7 - len(PHRASE) + 5


def test_a_hit_over_quota_fails_once_as_throttled(harness: PlanHarness) -> None:
    cached(harness)
    quotas = harness.pipeline.controls.quotas
    assert quotas is not None
    quotas.take("acme", int(chars_left(harness)) - 3)  # leave fewer than the phrase needs
    job = harness.plan(PHRASE)
    assert job.status == FAILED
    assert terminal_events(harness, job.request_id) == [("bus", "SynthesisFailed")]
    assert harness.outbox.details("SynthesisFailed")[-1]["code"] == "THROTTLED"


def test_a_hit_needs_its_marks_when_it_asks_for_them() -> None:
    entry = CacheEntry("k", kind="request")
    marks = CacheEntry("m", kind="request")
    assert hit_in({"k": entry}, "k", None) == Hit(entry, None)
    assert hit_in({"k": entry}, "k", "m") is None
    assert hit_in({"k": entry, "m": marks}, "k", "m") == Hit(entry, marks)
    assert hit_in({"m": marks}, "k", "m") is None


def test_a_hit_writes_the_audit_record_the_two_updates_would(harness: PlanHarness) -> None:
    cached(harness)
    audit = harness.pipeline.controls.audit
    assert audit is not None
    job = harness.plan(PHRASE)
    whole = audit.get(job.request_id)
    assert whole is not None
    assert whole.timings is not None
    audit.received(
        "by-halves",
        tenant="acme",
        text=PHRASE,
        voice="joe",
        format=str(whole.format),
        batch_id=None,
    )
    audit.finished(
        "by-halves",
        tenant="acme",
        status="completed",
        region=str(whole.region),
        timings=dict(whole.timings.as_dict()),  # type: ignore[no-untyped-call]
        cache="hit",
    )
    halves = audit.get("by-halves")
    assert halves is not None

    def values(record: Any) -> dict[str, Any]:
        times = {"request_id", "at", "finished_at", "expires_at"}
        return {
            name: value.as_dict() if hasattr(value, "as_dict") else value
            for name, value in record.attribute_values.items()
            if name not in times
        }

    assert values(whole) == values(halves)
    assert set(whole.attribute_values) == set(halves.attribute_values)


def test_an_audit_record_there_already_sends_the_hit_down_the_general_path(
    harness: PlanHarness,
) -> None:
    cached(harness)
    audit = harness.pipeline.controls.audit
    assert audit is not None
    audit.received("seen", tenant="acme", text=PHRASE, voice="joe", format="mp3", batch_id=None)
    first = audit.get("seen")
    assert first is not None
    request = SynthesisRequested.model_validate(
        {"request_id": "seen", "tenant": "acme", "text": PHRASE}
    )
    (item,) = request.expand()
    plan_item(item, harness.pipeline)
    assert terminal_events(harness, "seen") == [("bus", "SynthesisCompleted")]
    record = audit.get("seen")
    assert record is not None
    assert (record.status, record.cache, record.at) == ("completed", "hit", first.at)
