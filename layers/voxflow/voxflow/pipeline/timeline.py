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
