"""A job's chunk texts (voxflow.store.job_texts): in its item when short, in the audio
bucket when long, so each of a long job's many writes is billed for a smaller item.

plan runs in this process on moto server over HTTP (tests/plan_harness.py): the items
are read back from moto as DynamoDB stores them, and sized by DynamoDB's billing rules.
"""

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from plan_harness import PlanHarness

from voxflow.store.audio import AudioStore
from voxflow.store.job_texts import IN_ITEM_MAX_BYTES, kept_in_item

LONG_TEXT = (
    (Path(__file__).resolve().parents[1] / "benchmarks" / "corpus" / "long.txt")
    .read_text(encoding="utf-8")
    .strip()
)
KB = 1024


def value_bytes(value: dict[str, Any]) -> int:
    """One attribute value's size as DynamoDB bills it (its documented item size rules)."""
    ((kind, inner),) = value.items()
    if kind == "S":
        return len(inner.encode())
    if kind == "B":
        return len(inner)
    if kind == "N":
        digits = Decimal(inner).normalize().as_tuple().digits
        return (len(digits) + 1) // 2 + 1
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(text.encode()) for text in inner)
    if kind == "NS":
        return sum(value_bytes({"N": number}) for number in inner)
    if kind == "L":
        return 3 + sum(value_bytes(element) + 1 for element in inner)
    if kind == "M":
        return 3 + sum(len(k.encode()) + value_bytes(v) + 1 for k, v in inner.items())
    raise AssertionError(f"unsized attribute type {kind}")


def item_bytes(item: dict[str, dict[str, Any]]) -> int:
    return sum(len(name.encode()) + value_bytes(value) for name, value in item.items())


def stored_item(harness: PlanHarness, request_id: str) -> dict[str, dict[str, Any]]:
    model = harness.pipeline.jobs._model  # the jobs table's bound model
    client = model._get_connection().connection.client
    item: dict[str, dict[str, Any]] = client.get_item(
        TableName=model.Meta.table_name, Key={"request_id": {"S": request_id}}, ConsistentRead=True
    )["Item"]
    return item


def test_texts_stay_in_the_item_up_to_the_bound_counted_in_bytes() -> None:
    assert kept_in_item(["a" * IN_ITEM_MAX_BYTES])
    assert not kept_in_item(["a" * (IN_ITEM_MAX_BYTES - 10), "b" * 11])
    assert not kept_in_item(["é" * (IN_ITEM_MAX_BYTES // 2 + 1)])  # two bytes each


def test_a_short_jobs_texts_are_in_its_item_which_stays_within_one_write_unit(
    voiced_plan: PlanHarness,
) -> None:
    text = "A short request, spoken in one chunk and kept whole in its job item."
    job = voiced_plan.plan(text)
    assert job.chunk_texts is not None
    assert "".join(job.chunk_texts).startswith("A short")
    assert AudioStore.job_texts_object(job.request_id) not in voiced_plan.outbox.objects
    item = stored_item(voiced_plan, job.request_id)
    texts_bytes = value_bytes(item["chunk_texts"]) + len("chunk_texts")
    # The bound's premise: a one-chunk item without its text leaves room for the bound.
    assert item_bytes(item) - texts_bytes + IN_ITEM_MAX_BYTES <= KB


def test_a_long_jobs_texts_are_in_the_bucket_and_each_of_its_writes_bills_less_than_half(
    voiced_plan: PlanHarness,
) -> None:
    job = voiced_plan.plan(LONG_TEXT)
    assert job.chunk_texts is None
    assert len(job.chunk_keys) >= 30
    stored = json.loads(voiced_plan.outbox.objects[AudioStore.job_texts_object(job.request_id)])
    queued = sorted(voiced_plan.outbox.tasks, key=lambda task: task.index)
    assert stored["chunk_texts"] == [task.text for task in queued]
    assert voiced_plan.pipeline.audio.job_texts(job.request_id) == stored["chunk_texts"]

    item = stored_item(voiced_plan, job.request_id)
    with_texts = {**item, "chunk_texts": {"L": [{"S": text} for text in stored["chunk_texts"]]}}
    units = -(-item_bytes(item) // KB)
    units_with_texts = -(-item_bytes(with_texts) // KB)
    print(f"long job item: {item_bytes(item)} B ({units} WCU a write), with its texts "
          f"{item_bytes(with_texts)} B ({units_with_texts} WCU)")  # fmt: skip
    assert units * 2 <= units_with_texts
    assert units <= 2  # its keys packed too (voxflow.store.chunk_keys): 1,459 B
