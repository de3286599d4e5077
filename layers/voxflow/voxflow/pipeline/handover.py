"""Chunk tasks of jobs another region owns: deleted only when nothing is lost by it.

A chunk task is in this region's queue because this region queued it (plan, a
takeover, the sweeper). By the time it is received the job may be owned elsewhere,
and that view can be passing: replication is last writer wins on whole items, so an
image the other region wrote earlier can land over this region's takeover and hand
the job back for a moment. Deleting the tasks then left the job with no chunk task
anywhere, for the sweeper to find minutes later (the drill: 29 of 32 chunk tasks).

So a task of a pending job owned elsewhere is
- taken back, when the owner is an unhealthy primary (the decision table's TAKE_OVER);
- parked otherwise: sent again to this region's recovery lane with a delay (the
  standby delays), and looked at again: processed once the job is owned here, deleted
  once the job is terminal or its chunk is stored;
- reported, when the job has made no progress for ``VOXFLOW_CHUNK_STALL_S`` while
  parked (a warning and ``JobsStalledElsewhere``), once per parked look. Not taken over:
  by progress alone a busy owner cannot be told from one with no task for the job, and
  taking over a busy owner's jobs answered them twice (the drill: 8 taken over after
  ~126 s without progress, 6 answered by both regions). The owner's sweeper repairs it.
"""

import logging
import time
from collections import defaultdict
from dataclasses import dataclass, field

from voxflow.events import ChunkTask
from voxflow.pipeline.context import Pipeline
from voxflow.regions import Decision, standby_delay_s
from voxflow.store import Job
from voxflow.store.jobs import PENDING

logger = logging.getLogger(__name__)


@dataclass
class Handover:
    """Request ids among a batch's tasks that are not synthesized here."""

    dropped: set[str] = field(default_factory=set)  # terminal: nothing left to do
    parked: dict[str, Job] = field(default_factory=dict)  # pending, owned elsewhere

    @property
    def not_here(self) -> set[str]:
        return self.dropped | set(self.parked)


def sort_tasks(tasks: list[ChunkTask], pipeline: Pipeline, now: float | None = None) -> Handover:
    """One batched read per batch; none at all in the standalone role."""
    regions = pipeline.regions
    handover = Handover()
    if not regions.regional or not tasks:
        return handover
    now = time.time() if now is None else now
    jobs = pipeline.jobs.get_many([task.request_id for task in tasks])
    healthy: bool | None = None
    for request_id, job in jobs.items():
        if job.status != PENDING:
            handover.dropped.add(request_id)
            continue
        if regions.owns(job):
            continue
        if healthy is None:
            healthy = regions.primary_healthy()
        if regions.decide(job, healthy, False) is Decision.TAKE_OVER and _take_back(pipeline, job):
            continue
        stalled = _stalled_s(job, [t for t in tasks if t.request_id == request_id], now)
        if stalled >= regions.config.chunk_stall_s:
            logger.warning(
                "job %s owned by %s made no progress in %.0f s while this region holds "
                "chunk tasks of it",
                request_id,
                job.owner_region,
                stalled,
            )
            pipeline.meter.count("JobsStalledElsewhere")
        handover.parked[request_id] = job
    return handover


def park(
    tasks: list[ChunkTask], handover: Handover, pipeline: Pipeline, now: float | None = None
) -> None:
    """Send the parked jobs' tasks again, later; a task whose chunk is stored is done."""
    now = time.time() if now is None else now
    config = pipeline.regions.config
    by_delay: dict[int, list[ChunkTask]] = defaultdict(list)
    for task in tasks:
        job = handover.parked.get(task.request_id)
        if job is None:
            continue
        done = len(job.done or ())
        if task.index in {int(index) for index in job.done or ()}:
            continue
        progressed = task.stalled_since is None or task.parked_done != done
        parked_at = now if task.parked_at is None else task.parked_at
        again = task.model_copy(
            update={
                "parked_at": parked_at,
                "stalled_since": now if progressed else task.stalled_since,
                "parked_done": done,
            }
        )
        delay = standby_delay_s(now - parked_at, config.standby_retry_s, config.standby_retry_max_s)
        by_delay[delay].append(again)
    for delay, again_tasks in by_delay.items():
        pipeline.chunk_queue.send(again_tasks, delay_s=delay, recovery=True)
        pipeline.meter.count("ChunksParked", len(again_tasks))


def _stalled_s(job: Job, tasks: list[ChunkTask], now: float) -> float:
    """How long the job has made no progress, as its parked tasks saw it (0: unknown)."""
    done = len(job.done or ())
    since = [
        task.stalled_since
        for task in tasks
        if task.stalled_since is not None and task.parked_done == done
    ]
    return now - min(since) if since else 0.0


def _take_back(pipeline: Pipeline, job: Job) -> bool:
    """Own ``job`` here; True if this region owns it now."""
    regions = pipeline.regions
    taken = pipeline.jobs.take_over(job.request_id, job.owner_region, regions.here)
    if taken is not None:
        pipeline.meter.count("JobsTakenOver")
        return True
    current = pipeline.jobs.get(job.request_id)  # lost: another batch here took it first?
    return current is not None and current.status == PENDING and regions.owns(current)
