"""Where a request's time goes, in the structured logs: no profiler needed.

One INFO line per step of a request (planned; each chunk stored; assembled), carrying
the request id, epoch timestamps and durations in seconds, never the text. A log query
(CloudWatch Logs Insights on ``timeline``) or ``benchmarks/pipeline.py`` puts a
request's timeline together from them: publish (the request's ``requested_at``) →
plan's receipt → chunk tasks queued → each batch received → each chunk synthesized,
stored and reported → assembled and answered.

The timestamps are taken where the work already is (no extra AWS call): a few
``time.time()`` reads per chunk.
"""

import logging
import time
from dataclasses import dataclass, field

logger = logging.getLogger(__name__)

PLANNED = "request planned"
CHUNK_STORED = "chunk stored"
ASSEMBLED = "request assembled"
STEPS = (PLANNED, CHUNK_STORED, ASSEMBLED)

Field = float | int | str | None


def record(step: str, request_id: str, **fields: Field) -> None:
    """One step of ``request_id``; ``fields`` are numbers and short codes only."""
    values = {
        name: round(value, 6) if isinstance(value, float) else value
        for name, value in fields.items()
        if value is not None
    }
    logger.info(step, extra={"timeline": step, "request_id": request_id, **values})


@dataclass
class Laps:
    """A request's steps from receipt to its reply, each the seconds since the one before
    (a hit's timeline line carries them as ``<step>_s``: where a hit's time goes, round
    by round). ``at``: the last step's end (epoch seconds), first the receipt."""

    at: float
    parts: dict[str, float] = field(default_factory=dict)
    # Epoch seconds before the receipt: the requests queue's SentTimestamp and
    # ApproximateFirstReceiveTimestamp (bus -> queue -> poller, on the same line).
    stamps: dict[str, float] = field(default_factory=dict)

    def lap(self, step: str) -> None:
        now = time.time()
        self.parts[step] = self.parts.get(step, 0.0) + now - self.at
        self.at = now

    def fields(self) -> dict[str, float]:
        return {**self.stamps, **{f"{step}_s": seconds for step, seconds in self.parts.items()}}
