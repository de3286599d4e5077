"""Jobs: the record that makes every accepted request end in one terminal event.

Each state change is a conditional write, so a duplicate delivery can see what
already happened and a race between two workers has exactly one winner.
"""

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pynamodb.exceptions import DoesNotExist, PutError, TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

from voxflow.store.models import Job

PENDING = "pending"
COMPLETED = "completed"
FAILED = "failed"
_CONDITION_FAILED = "ConditionalCheckFailedException"
_TRANSACTION_CANCELED = "TransactionCanceledException"
# How long the writer of a terminal event has to publish it before anyone else may send
# it again: far above a PutEvents call, so only a writer that crashed is ever repeated.
SEND_LEASE_S = 30.0


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class ChunkProgress:
    newly_recorded: bool  # False: a duplicate delivery of a chunk already stored
    done: int
    count: int
    # The item as this caller's write left it (DynamoDB's ALL_NEW): the one that completes
    # the job assembles from it without reading the job again.
    job: Job | None = field(default=None, compare=False, repr=False)

    @property
    def complete(self) -> bool:
        return self.done >= self.count


def _lost_race(error: PutError | UpdateError) -> bool:
    return error.cause_response_code == _CONDITION_FAILED


def transaction_canceled(error: TransactWriteError) -> bool:
    """A condition of the transaction failed (or it met another one): nothing written."""
    return error.cause_response_code == _TRANSACTION_CANCELED


class JobStore:
    def __init__(
        self,
        model: type[Job],
        ttl_s: int,
        region: str | None = None,
        *,
        clock: Callable[[], datetime] = _utc_now,
        send_lease_s: float = SEND_LEASE_S,
    ) -> None:
        self._model = model
        self._ttl = timedelta(seconds=ttl_s)
        self.region = region  # owner_region of the jobs this store creates
        self._clock = clock
        self._send_lease = timedelta(seconds=send_lease_s)

    def new(self, request_id: str, **fields: Any) -> Job:
        now = self._clock()
        fields.setdefault("owner_region", self.region)
        return self._model(
            request_id, status=PENDING, created_at=now, expires_at=now + self._ttl, **fields
        )

    def new_answer(self, job_id: str, **fields: Any) -> Job:
        """A job that only carries an answer (a failure, a conflict, a copy of a result
        for another target): nothing to synthesize, so no voice, key or chunks."""
        return self.new(
            job_id,
            voice="",
            format="",
            key="",
            sample_rate=0,
            params_json="{}",
            chunk_keys=[],
            chunk_count=0,
            **fields,
        )

    def create(self, job: Job) -> bool:
        """Store a new job; False if one with this request id exists already."""
        try:
            job.save(condition=self._model.request_id.does_not_exist())
        except PutError as error:
            if _lost_race(error):
                return False
            raise
        return True

    def transaction(self) -> TransactWrite:
        """A write transaction on the jobs table's connection (other tables may join:
        one account and region)."""
        return TransactWrite(connection=self._model._get_connection().connection)

    def create_finished(
        self,
        transaction: TransactWrite,
        job: Job,
        status: str,
        result: dict[str, object],
        cache: str | None,
    ) -> None:
        """Create ``job`` already terminal, its event's writer holding the send lease, in
        ``transaction``: a request answered at once (a cache hit) is one write, not a
        create then a ``finish``. The transaction fails if the job exists already."""
        now = self._clock()
        job.status = status
        job.result_json = json.dumps(result, default=str)
        job.completed_at = now
        job.send_lease_until = now + self._send_lease
        job.cache = cache
        transaction.save(job, condition=self._model.request_id.does_not_exist())

    def get(self, request_id: str) -> Job | None:
        try:
            return self._model.get(request_id, consistent_read=True)
        except DoesNotExist:
            return None

    def get_many(self, request_ids: list[str]) -> dict[str, Job]:
        """The jobs that exist among ``request_ids``, in one batched, consistent read."""
        unique = list(dict.fromkeys(request_ids))
        return {job.request_id: job for job in self._model.batch_get(unique, consistent_read=True)}

    def take_over(self, request_id: str, from_region: str | None, to_region: str) -> Job | None:
        """Make ``to_region`` the owner of a pending job still owned by ``from_region``
        (None: a job with no owner recorded). The updated job for the one caller that
        did; None if the job moved on or someone else took it first."""
        owner = self._model.owner_region
        still_theirs = owner.does_not_exist() if from_region is None else owner == from_region
        job = self._model(request_id)
        try:
            job.update(
                actions=[owner.set(to_region)],
                condition=self._model.request_id.exists()
                & (self._model.status == PENDING)
                & still_theirs,
            )
        except UpdateError as error:
            if _lost_race(error):
                return None
            raise
        return job

    def forget_chunks(self, request_id: str, indices: set[int]) -> None:
        """Count ``indices`` as not done again (their audio is not where the job is now)."""
        self._model(request_id).update(
            actions=[self._model.done.delete(indices)],
            condition=self._model.request_id.exists() & (self._model.status == PENDING),
        )

    def record_chunks(
        self, request_id: str, indices: Sequence[int]
    ) -> tuple[list[int], ChunkProgress]:
        """Count several chunks at once (plan's cached ones): one write when none of them
        is counted yet, else one each. The indices this call counted, and the job's
        progress after its last write."""
        if not indices:
            raise ValueError("no chunks to record")
        model = self._model
        job = model(request_id)
        condition = model.request_id.exists()
        for index in indices:
            condition &= ~model.done.contains(index)
        try:
            job.update(actions=[model.done.add(set(indices))], condition=condition)
        except UpdateError as error:
            if not _lost_race(error):
                raise
        else:
            return list(indices), ChunkProgress(
                True, len(job.done or ()), int(job.chunk_count), job
            )
        # One of them was counted already (a redelivery, a takeover's old owner).
        recorded, progress = [], None
        for index in indices:
            progress = self.record_chunk(request_id, index)
            if progress.newly_recorded:
                recorded.append(index)
        assert progress is not None
        return recorded, progress

    def record_chunk(self, request_id: str, index: int) -> ChunkProgress:
        job = self._model(request_id)
        try:
            job.update(
                actions=[self._model.done.add({index})],
                condition=self._model.request_id.exists() & ~self._model.done.contains(index),
            )
        except UpdateError as error:
            if not _lost_race(error):
                raise
            current = self.get(request_id)
            if current is None:
                raise
            return ChunkProgress(False, len(current.done or ()), int(current.chunk_count))
        return ChunkProgress(True, len(job.done or ()), int(job.chunk_count), job)

    def finish(self, job: Job, status: str, result: dict[str, object], cache: str | None) -> bool:
        """Move a pending job to its terminal status; True for the one caller that did."""
        try:
            job.update(
                actions=[
                    self._model.status.set(status),
                    self._model.result_json.set(json.dumps(result, default=str)),
                    self._model.completed_at.set(self._clock()),
                    self._model.send_lease_until.set(self._clock() + self._send_lease),
                    *([self._model.cache.set(cache)] if cache else []),
                ],
                condition=self._model.status == PENDING,
            )
        except UpdateError as error:
            if _lost_race(error):
                return False
            raise
        return True  # ``job`` now holds the item as written, reply targets included

    def lease_resend(self, request_id: str) -> Job | None:
        """The terminal job, leased to this caller for sending its event again; None if
        it is sent, not terminal, or its writer may still be sending it."""
        now = self._clock()
        model = self._model
        lease = model.send_lease_until
        job = model(request_id)
        try:
            job.update(
                actions=[lease.set(now + self._send_lease)],
                condition=model.request_id.exists()
                & (model.status != PENDING)
                & model.result_json.exists()
                & (model.terminal_sent.does_not_exist() | (model.terminal_sent == False))  # noqa: E712
                & (lease.does_not_exist() | (lease < now)),
            )
        except UpdateError as error:
            if _lost_race(error):
                return None
            raise
        return job

    def add_reply_target(self, request_id: str, target: str) -> bool:
        """Add a duplicate's reply target to a pending job, whose writer sends to every
        target; False if the job is no longer pending (or the target is there)."""
        model = self._model
        try:
            model(request_id).update(
                actions=[model.extra_reply_to.add({target})],
                condition=model.request_id.exists()
                & (model.status == PENDING)
                & ~model.extra_reply_to.contains(target),
            )
        except UpdateError as error:
            if _lost_race(error):
                return False
            raise
        return True

    def mark_dispatched(self, job: Job) -> None:
        job.update(actions=[self._model.dispatched.set(True)])

    def mark_terminal_sent(self, job: Job) -> None:
        job.update(actions=[self._model.terminal_sent.set(True)])

    def mark_reply_sent(self, job: Job) -> None:
        job.update(actions=[self._model.reply_sent.set(True)])
