"""Who works on a request, applied: claim a job before working on it, drop chunk tasks
of jobs another region owns, and trust another region's cache entries only when their
audio has replicated here.

In the standalone role each of these is today's single-region behaviour, with no AWS
call added (the hit path's latency depends on it).
"""

from dataclasses import dataclass

from voxflow.events import ChunkTask
from voxflow.pipeline.context import Pipeline
from voxflow.pipeline.terminal import resend_if_unsent
from voxflow.regions import Decision
from voxflow.store import CacheEntry, Job
from voxflow.store.jobs import PENDING


class JobVanished(RuntimeError):
    """The job was there a moment ago and is gone (expired): worth a retry."""


@dataclass(frozen=True)
class Claim:
    decision: Decision
    job: Job | None = None  # the job to work on: set for CREATE, PROCEED and TAKE_OVER

    @property
    def works_here(self) -> bool:
        return self.job is not None


def claim(pipeline: Pipeline, new_job: Job, *, standby_expired: bool = False) -> Claim:
    """Create ``new_job``, or decide what to do with the one that exists (docs/regions.md)."""
    jobs, regions = pipeline.jobs, pipeline.regions
    if not regions.regional:
        if jobs.create(new_job):
            return Claim(Decision.CREATE, new_job)
        existing = jobs.get(new_job.request_id)
        if existing is None or existing.status != PENDING:
            resend_if_unsent(pipeline, new_job.request_id)
            return Claim(Decision.DROP)
        return Claim(Decision.PROCEED, existing)

    healthy = regions.primary_healthy()
    # The active region creates first and reads only if the job exists: one call, not two.
    if (regions.active_here(healthy) or standby_expired) and jobs.create(new_job):
        return Claim(Decision.CREATE, new_job)
    existing = jobs.get(new_job.request_id)
    decision = regions.decide(existing, healthy, standby_expired)
    if decision is Decision.CREATE:
        if jobs.create(new_job):
            return Claim(Decision.CREATE, new_job)
        raise JobVanished(f"job {new_job.request_id} changed while it was claimed")
    if existing is None:  # decide() answers CREATE or STANDBY without a job
        return Claim(decision)
    if decision is Decision.PROCEED:
        return Claim(decision, existing)
    if decision is Decision.TAKE_OVER:
        taken = jobs.take_over(existing.request_id, existing.owner_region, regions.here)
        pipeline.meter.count("JobsTakenOver" if taken else "TakeOversLost")
        # Lost: it went terminal, or another worker here took it first and works on it.
        return Claim(decision, taken) if taken is not None else Claim(Decision.DROP)
    if decision is Decision.DROP and regions.owns(existing):
        resend_if_unsent(pipeline, existing.request_id)
    return Claim(decision)


def foreign_tasks(tasks: list[ChunkTask], pipeline: Pipeline) -> set[str]:
    """Request ids among ``tasks`` whose chunks must not be synthesized here: the job is
    owned by another region, or already terminal. One batched read per batch; none at
    all in the standalone role."""
    if not pipeline.regions.regional or not tasks:
        return set()
    jobs = pipeline.jobs.get_many([task.request_id for task in tasks])
    return {
        request_id
        for request_id, job in jobs.items()
        if job.status != PENDING or not pipeline.regions.owns(job)
    }


def usable(entry: CacheEntry | None, pipeline: Pipeline) -> CacheEntry | None:
    """``entry`` if its audio can be served here: written here, or replicated already
    (index items can arrive before their objects)."""
    if not pipeline.regions.regional or entry is None:
        return entry
    if entry.region is None or entry.region == pipeline.regions.here:
        return entry
    return entry if pipeline.audio.exists(entry.s3_key) else None


def usable_many(entries: dict[str, CacheEntry], pipeline: Pipeline) -> dict[str, CacheEntry]:
    if not pipeline.regions.regional:
        return entries
    return {key: entry for key, entry in entries.items() if usable(entry, pipeline) is not None}
