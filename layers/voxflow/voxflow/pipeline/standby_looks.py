"""Looks from standby a batch at a time, and requests plan has no time left for.

In the drill (issue 17), the secondary's plan spent most of its time on standby copies
while the primary worked: ~95 requests, each looked at every 1-10 s, each look a parse,
the request's keying (normalization, chunking), a job read and a send, one after the
other, at ~1 s a look on the loaded machine. New requests waited behind them, and the
takeovers after the kill waited behind the looks. A copy whose job is still another
region's (or that has no job while the other region is the active one) is now known
from one batched read of the batch's jobs and sent again in one SendMessageBatch: what
the full look would decide for it (docs/regions.md's table), in a few calls a batch
instead of a few a copy. Everything else is planned as before.

And plan stops taking records when its time runs short: under load a batch of ten
outlasted the 30 s timeout, and Lambda then returns every record of it to the queue,
to do its work again and count towards maxReceiveCount. The records plan has no time
for are sent back at once, together (standby copies without delay), and succeed.
"""

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from voxflow.events import single_request_id
from voxflow.pipeline.context import Pipeline
from voxflow.pipeline.tenancy import identify
from voxflow.regions import Decision, StandbyQueue, StandbySendFailed, first_seen_of
from voxflow.store import Job

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class QueuedRequest:
    """A requests-queue record as plan receives it."""

    message_id: str
    body: str
    first_seen: float | None = None  # the standby attribute: None for a first delivery
    sender_id: str | None = None  # the record's SQS SenderId (voxflow.pipeline.tenancy)


def still_on_standby(
    records: Sequence[QueuedRequest],
    pipeline: Pipeline,
    now: float | None = None,
    read: dict[str, Job] | None = None,
) -> set[str]:
    """Send again, together, the standby copies among ``records`` whose decision is
    still STANDBY; their message ids (the caller lets those records succeed unplanned).
    First deliveries are never among them: a first look plans, creates, answers.
    ``read``: filled with the copies' jobs found by the batched read (request id → job),
    which plan then need not read again (a takeover's claim, voxflow.pipeline.regional)."""
    regions = pipeline.regions
    if not regions.regional or regions.standby_queue is None:
        return set()
    now = time.time() if now is None else now
    copies: dict[str, tuple[QueuedRequest, str]] = {}
    for record in records:
        if record.first_seen is None or regions.standby_expired(record.first_seen, now):
            continue
        request_id = single_request_id(record.body)
        if request_id is not None:
            copies[record.message_id] = (record, request_id)
    if not copies:
        return set()
    jobs = pipeline.jobs.get_many([request_id for _, request_id in copies.values()])
    if read is not None:
        read.update(jobs)
    healthy = regions.primary_healthy()
    waiting = [
        record
        for record, request_id in copies.values()
        if regions.decide(jobs.get(request_id), healthy, False) is Decision.STANDBY
    ]
    if not waiting:
        return set()
    # Sent as they came: a copy's body is the vouched body of its first look.
    regions.standby_queue.send_again_many(
        [(record.body, record.first_seen or now) for record in waiting]
    )
    pipeline.meter.count("RequestsOnStandby", len(waiting))
    return {record.message_id for record in waiting}


def first_deliveries_first(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """A batch's SQS records (Lambda's event), first deliveries before standby copies,
    each kind in its order: a new request is planned before the takeovers and looks that
    came with it, and it is the copies that are sent back when time runs short. After a
    failover the copies are the old owner's ~100 requests in flight (issue 17)."""
    return sorted(
        records, key=lambda record: first_seen_of(record.get("messageAttributes") or {}) is not None
    )


def send_back(records: Sequence[QueuedRequest], pipeline: Pipeline) -> set[str]:
    """Send ``records`` back for a later invocation, at once and together: first
    deliveries to the requests queue, standby copies to the standby queue (where they
    came from); their message ids (none where there is no queue to send them to: the
    caller plans them, as before)."""
    standby = pipeline.regions.standby_queue
    if standby is None or not records:
        return set()
    requests = pipeline.regions.requests_queue or standby
    firsts = [record for record in records if record.first_seen is None]
    copies = [record for record in records if record.first_seen is not None]
    for queue, kind in ((requests, firsts), (standby, copies)):
        if kind:
            _send_back(queue, kind, pipeline)
    pipeline.meter.count("RequestsDeferred", len(records))
    return {record.message_id for record in records}


def _send_back(queue: StandbyQueue, records: Sequence[QueuedRequest], pipeline: Pipeline) -> None:
    # One tenant lookup per sender, not per record: a batch's records mostly share one
    # (EventBridge's, or this service's for standby copies), and under load each lookup
    # was a second or more of the little time left. A sender's answer is the same for
    # all its records: bound, the tenant is the binding's; unbound, the body goes as it is.
    senders = {
        sender_id: identify(record.body, sender_id, pipeline.controls.tenants)
        for record in records
        if (sender_id := record.sender_id) is not None
    }
    queue.send_again_many(
        [
            (
                (
                    senders[record.sender_id]
                    if record.sender_id is not None
                    else identify(record.body, None, pipeline.controls.tenants)
                ).vouched(record.body),
                # A first delivery goes back as one: it was never on standby, and a
                # copy's attribute would send its work to the recovery lane.
                record.first_seen,
            )
            for record in records
        ],
        delay_s=0,
    )


# Records are started only in the first half of the invocation's time, and only while
# twice the slowest record so far still fits before the end (less a fifth): one plan
# took up to 13 s on the loaded machine, and a record cut off by the timeout fails its
# whole batch.
_STARTS_WITHIN = 0.5
_MARGIN = 0.2  # of the invocation's time, kept for sending the rest back


class Invocation:
    """One plan invocation's batch: the standby copies sent again up front, and the
    point after which its records are sent back (all the rest at once) instead of
    planned."""

    def __init__(
        self,
        records: Sequence[QueuedRequest],
        pipeline: Pipeline,
        remaining_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._pipeline = pipeline
        self._clock = clock
        self._records = list(records)
        started = clock()
        self._starts_until = started + remaining_s * _STARTS_WITHIN
        self._ends_at = started + remaining_s * (1 - _MARGIN)
        self._last_start: float | None = None
        self._slowest_s = 0.0
        self._sent_back: set[str] | None = None
        # The jobs of this batch's standby copies, read together (request id → job).
        self.jobs_read: dict[str, Job] = {}
        try:
            self._on_standby = still_on_standby(records, pipeline, read=self.jobs_read)
        except (BotoCoreError, ClientError, StandbySendFailed) as error:
            # Each record gets its own full look instead.
            logger.warning("standby copies not looked at together: %s", type(error).__name__)
            self._on_standby = set()

    def settled(self, record: QueuedRequest) -> bool:
        """Called as each record starts: whether it needs no planning now (sent again to
        standby with its batch, or sent back with the rest of the batch because this
        invocation has no time left for them)."""
        now = self._clock()
        if self._last_start is not None:
            self._slowest_s = max(self._slowest_s, now - self._last_start)
        self._last_start = now
        if record.message_id in self._on_standby:
            return True
        if self._sent_back is None:
            if now < self._starts_until and now + 2 * self._slowest_s < self._ends_at:
                return False
            position = next(
                (n for n, r in enumerate(self._records) if r.message_id == record.message_id),
                len(self._records),
            )
            rest = [r for r in self._records[position:] if r.message_id not in self._on_standby]
            self._sent_back = send_back(rest, self._pipeline)
        return record.message_id in self._sent_back
