"""The pipeline's timeline lines (voxflow.pipeline.timeline): a miss planned, its chunks
synthesized and stored, assembled; a hit answered. Plan, synthesis and assembly run in
this process on moto server (real DynamoDB tables) with the real voice; S3, the bus and
the queues are the plan harness's outbox.

The lines are what benchmarks/pipeline.py splits a request's time with: they must carry
consistent epoch times, and never the request's text."""

import logging
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from plan_harness import PlanHarness

from voxflow.pipeline.timeline import ASSEMBLED, CHUNK_STORED, PLANNED

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
from breakdown import MISS_PARTS, Steps, miss_parts

SECRET_WORD = "Quibblesworth"
TEXT = f"Mister {SECRET_WORD} rang twice this morning. He will ring again at noon."


def timeline(caplog: pytest.LogCaptureFixture, step: str) -> list[dict[str, Any]]:
    return [
        record.__dict__ for record in caplog.records if getattr(record, "timeline", None) == step
    ]


def test_a_miss_logs_plan_each_chunk_and_assembly_in_time_order(
    voiced_plan: PlanHarness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="voxflow.pipeline.timeline")
    published = time.time()
    job = voiced_plan.plan(TEXT)
    voiced_plan.synthesize_all()
    completed = time.time()

    (planned,) = timeline(caplog, PLANNED)
    chunks = sorted(timeline(caplog, CHUNK_STORED), key=lambda line: line["index"])
    (assembled,) = timeline(caplog, ASSEMBLED)
    assert planned["request_id"] == job.request_id
    assert planned["cache"] == "miss"
    assert planned["chunks"] == planned["queued"] == 2
    assert published <= planned["received_at"] <= planned["queued_at"]
    assert [line["index"] for line in chunks] == [0, 1]
    for line in chunks:
        assert line["request_id"] == job.request_id
        assert line["synthesis_s"] > 0
        assert line["storage_s"] > 0
        assert planned["queued_at"] <= line["received_at"]
        assert line["received_at"] + line["synthesis_s"] <= line["synthesized_at"] + 1e-3
        assert line["synthesized_at"] <= line["reported_at"] <= assembled["started_at"]
    assert assembled["started_at"] <= assembled["replied_at"] <= completed

    # The benchmark's parts of this miss add up to its wall time.
    steps = Steps(planned=[planned], chunks=chunks, assembled=[assembled])
    parts = miss_parts(steps, published, completed)
    assert sum(parts[name] for _, name in MISS_PARTS) == pytest.approx(completed - published)
    assert all(parts[name] >= -1e-3 for _, name in MISS_PARTS)

    # Ids, times and codes only: the text is nowhere in what was logged.
    assert caplog.records
    for record in caplog.records:
        assert SECRET_WORD not in str(record.__dict__)


def test_a_hit_logs_the_service_time_up_to_the_reply(
    voiced_plan: PlanHarness, caplog: pytest.LogCaptureFixture
) -> None:
    voiced_plan.plan(TEXT)
    voiced_plan.synthesize_all()
    caplog.set_level(logging.INFO, logger="voxflow.pipeline.timeline")
    caplog.clear()

    started = time.time()
    job = voiced_plan.plan(TEXT)
    ended = time.time()

    (planned,) = timeline(caplog, PLANNED)
    assert planned["request_id"] == job.request_id
    assert planned["cache"] == "hit"
    assert voiced_plan.outbox.details("SynthesisCompleted")[-1]["cache"] == "hit"
    assert started <= planned["received_at"]
    # Receipt to the reply's send: within the call, and after plan's own work.
    assert planned["plan_s"] < planned["service_s"] <= ended - planned["received_at"]
    assert "queued_at" not in planned
    # Its steps, each a round of calls or the work between them, add up to that time
    # (planned directly: no tenant lookup or parse before plan_item here).
    steps = ("key", "read", "check", "write", "send")
    assert all(planned[f"{step}_s"] >= 0 for step in steps)
    assert sum(planned[f"{step}_s"] for step in steps) == pytest.approx(
        planned["service_s"], abs=1e-5
    )
