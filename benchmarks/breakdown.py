"""A request's timeline from the service's structured logs (voxflow.pipeline.timeline).

The runners' log files hold one JSON line per step (request planned, chunk stored,
request assembled) with epoch timestamps; with the client's own publish and arrival
times they split a request's wall time into consecutive parts that add up to it.
"""

import json
import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

from voxflow.pipeline.timeline import ASSEMBLED, CHUNK_STORED, PLANNED

Line = dict[str, Any]


@dataclass
class Steps:
    planned: list[Line] = field(default_factory=list)
    chunks: list[Line] = field(default_factory=list)
    assembled: list[Line] = field(default_factory=list)


def read_steps(log_dir: Path) -> dict[str, Steps]:
    """Every timeline line in ``log_dir``'s logs, by request id."""
    steps: dict[str, Steps] = defaultdict(Steps)
    for path in sorted(log_dir.glob("*.log")):
        for text in path.read_text(encoding="utf-8", errors="replace").splitlines():
            if not text.startswith("{") or '"timeline"' not in text:
                continue
            line = json.loads(text)
            held = steps[line["request_id"]]
            {PLANNED: held.planned, CHUNK_STORED: held.chunks, ASSEMBLED: held.assembled}[
                line["timeline"]
            ].append(line)
    return steps


# The consecutive parts of a miss, publish to the client's receipt of the terminal event.
MISS_PARTS = (
    ("publish -> plan's receipt (bus, requests queue)", "to_plan"),
    ("plan (job, quota, audit, lookups, queue chunk tasks)", "plan"),
    ("chunk tasks queued -> first batch received", "chunk_queue"),
    ("first batch's reads before synthesis", "first_setup"),
    ("synthesis (the engine busy, all chunks)", "synthesis"),
    ("synthesizer idle between chunks (batch ends, receives)", "idle"),
    ("last chunk stored and reported", "last_store"),
    ("assembly (join, encode, store, finish, send)", "assembly"),
    ("terminal event -> client", "to_client"),
)

FIRST_CHUNK_PARTS = (
    ("publish -> plan's receipt", "to_plan"),
    ("plan", "plan"),
    ("chunk tasks queued -> first batch received", "chunk_queue"),
    ("first batch's reads before synthesis", "first_setup"),
    ("first chunk's synthesis", "synthesis"),
    ("store (S3, cache index) and report (job, PutEvents, reply)", "store_report"),
    ("ChunkSynthesized -> client (reply sent before the bus put)", "to_client"),
)


def _synthesis_span(chunks: Iterable[Line]) -> tuple[float, float, float]:
    """(first synthesis start, last synthesis end, sum of synthesis seconds)."""
    chunks = list(chunks)
    starts = [c["synthesized_at"] - c["synthesis_s"] for c in chunks]
    ends = [c["synthesized_at"] for c in chunks]
    return min(starts), max(ends), sum(c["synthesis_s"] for c in chunks)


def miss_parts(steps: Steps, published_at: float, completed_at: float) -> dict[str, float]:
    """A miss's wall time in consecutive parts (seconds); they sum to the whole."""
    plan = steps.planned[0]
    assembled = steps.assembled[0]
    first_batch = min(c["received_at"] for c in steps.chunks)
    first_start, last_end, synthesis = _synthesis_span(steps.chunks)
    return {
        "to_plan": plan["received_at"] - published_at,
        "plan": plan["queued_at"] - plan["received_at"],
        "chunk_queue": first_batch - plan["queued_at"],
        "first_setup": first_start - first_batch,
        "synthesis": synthesis,
        "idle": last_end - first_start - synthesis,
        "last_store": assembled["started_at"] - last_end,
        "assembly": assembled["replied_at"] - assembled["started_at"],
        "to_client": completed_at - assembled["replied_at"],
        **_batch_boundaries(steps.chunks),
        # Alongside, not parts: overlapped with synthesis except for the last chunk.
        "storage_sum": sum(c["storage_s"] for c in steps.chunks),
        "report_sum": sum(c["report_s"] for c in steps.chunks),
        "batches": float(len({c["received_at"] for c in steps.chunks})),
    }


def _batch_boundaries(chunks: list[Line]) -> dict[str, float]:
    """The synthesizer's idle at the ends of batches, in three parts (summed over the
    boundaries): the batch's last chunk stored and reported after the synthesis ended;
    the handler's return, the batch's delete and the next receive; the next batch's
    reads before its synthesis. What is left of the idle is inside batches."""
    batches: dict[float, list[Line]] = defaultdict(list)
    for chunk in chunks:
        batches[chunk["received_at"]].append(chunk)
    ordered = [batches[received] for received in sorted(batches)]
    tail = poll = setup = 0.0
    for done, following in pairwise(ordered):
        last_synthesized = max(c["synthesized_at"] for c in done)
        last_reported = max(c["reported_at"] for c in done)
        received = following[0]["received_at"]
        started = min(c["synthesized_at"] - c["synthesis_s"] for c in following)
        tail += last_reported - last_synthesized
        poll += received - last_reported
        setup += started - received
    return {"batch_tail": tail, "batch_poll": poll, "batch_setup": setup}


def first_chunk_parts(
    steps: Steps, published_at: float, index: int, arrived_at: float
) -> dict[str, float]:
    """The first chunk event's wait (chunk ``index``, which the client got first)."""
    plan = steps.planned[0]
    first = next(c for c in steps.chunks if c["index"] == index)
    start = first["synthesized_at"] - first["synthesis_s"]
    return {
        "to_plan": plan["received_at"] - published_at,
        "plan": plan["queued_at"] - plan["received_at"],
        "chunk_queue": first["received_at"] - plan["queued_at"],
        "first_setup": start - first["received_at"],
        "synthesis": first["synthesis_s"],
        "store_report": first["reported_at"] - first["synthesized_at"],
        "to_client": arrived_at - first["reported_at"],
    }


# Plan's steps on a miss, as its timeline line carries them (voxflow.pipeline.plan): the
# tenant and the parse are the message's, before the item's own steps.
PLAN_STEPS = ("tenant", "parse", "key", "read", "claim", "admit", "lookup", "queue")


def plan_steps(steps: Steps) -> dict[str, float]:
    """A miss's plan step by step (seconds; 0 for a step its line lacks)."""
    plan = steps.planned[0]
    return {name: float(plan.get(f"{name}_s") or 0.0) for name in PLAN_STEPS}


def medians(runs: list[dict[str, float]]) -> dict[str, float]:
    return {name: statistics.median(run[name] for run in runs) for name in runs[0]}


# The consecutive parts of a hit answered at once (voxflow.pipeline.hit), publish to the
# client's receipt of the reply: the transport's, then plan's step by step (Laps).
HIT_PARTS = (
    ("publish -> requests queue (PutEvents, rule, SendMessage)", "to_queue"),
    ("queued -> plan's poller receives it", "queue_wait"),
    ("received -> plan's handler (event, powertools)", "to_handler"),
    ("tenant lookup (tenant table, cached)", "tenant_s"),
    ("parse (body, reply target rules)", "parse_s"),
    ("keying (voice, text, cache keys, job)", "key_s"),
    ("read ahead (cache index and quota item, one call)", "read_s"),
    ("checks and event (policy, quota, presign)", "check_s"),
    ("transaction (job, quota charge, audit)", "write_s"),
    ("service bus PutEvents || reply SendMessage", "send_s"),
    ("reply sent -> client receives it", "to_client"),
)


def hit_parts(line: Line, published_at: float, seconds: float) -> dict[str, float] | None:
    """The parts of one hit (HIT_PARTS; they add up to ``seconds``), or None for a hit
    that took the general path (its line has no steps)."""
    if "read_s" not in line or "sqs_sent_at" not in line:
        return None
    received, replied = line["received_at"], line["received_at"] + line["service_s"]
    parts = {
        "to_queue": line["sqs_sent_at"] - published_at,
        "queue_wait": line["sqs_received_at"] - line["sqs_sent_at"],
        "to_handler": received - line["sqs_received_at"],
        "to_client": published_at + seconds - replied,
    }
    steps = {name: float(line.get(name) or 0.0) for _, name in HIT_PARTS}
    if "send_s" not in line:  # logged before the bus and the reply went out together
        steps["send_s"] = float(line.get("bus_s") or 0.0) + float(line.get("reply_s") or 0.0)
    return {**steps, **parts}
