"""Who works on a request, applied: claim a job before working on it, and trust another
region's cache entries only when their audio has replicated here (chunk tasks of jobs
another region owns: voxflow.pipeline.handover).

In the standalone role each of these is today's single-region behaviour, with no AWS
call added (the hit path's latency depends on it).
"""

import logging
from dataclasses import dataclass

from voxflow.events import ReplyTo
from voxflow.pipeline.context import Pipeline
from voxflow.pipeline.identity import conflicts, copy_job_id
from voxflow.pipeline.reply_targets import answered_here_as
from voxflow.pipeline.terminal import answered_id, finish, resend_if_unsent, stored_event
from voxflow.regions import Decision, PeerJob, PeerUnavailable
from voxflow.store import CacheEntry, Job
from voxflow.store.jobs import PENDING

logger = logging.getLogger(__name__)


class JobVanished(RuntimeError):
    """The job was there a moment ago and is gone (expired): worth a retry."""


@dataclass(frozen=True)
class Claim:
    decision: Decision
    job: Job | None = None  # the job to work on: set for CREATE, PROCEED and TAKE_OVER
    # The job that holds this request id is another request's (tenant or content differ).
    conflict: Job | None = None

    @property
    def works_here(self) -> bool:
        return self.job is not None


def claim(
    pipeline: Pipeline,
    new_job: Job,
    *,
    standby_expired: bool = False,
    requested_at: float | None = None,
    waited_s: float = 0.0,
    job_read: Job | None = None,
) -> Claim:
    """Create ``new_job``, or decide what to do with the one that exists (docs/regions.md).

    A job under this id that is another request's is never worked on: the claim says
    so (``conflict``), and the caller answers the new request on its own.
    ``requested_at``: when the request was published (epoch seconds; None: not known),
    for the stale-request guard; ``waited_s``: how long this region has held the request
    on standby (0: a first look), which bounds the guard's wait on a silent peer.
    ``job_read``: the job as read moments ago (a standby copy's, read with its batch):
    no create is tried and it is not read again. Its writes below are conditional (a
    takeover on the owner and a pending status), so a job that moved on since is lost
    to them, not overwritten."""
    if not pipeline.regions.regional:
        return _claim_standalone(pipeline, new_job)
    stale = not standby_expired and pipeline.regions.guards(requested_at)
    return _claim_regional(pipeline, new_job, standby_expired, stale, waited_s, job_read=job_read)


def _claim_standalone(pipeline: Pipeline, new_job: Job) -> Claim:
    jobs = pipeline.jobs
    if jobs.create(new_job):
        return Claim(Decision.CREATE, new_job)
    existing = jobs.get(new_job.request_id)
    if existing is None:
        raise JobVanished(f"job {new_job.request_id} changed while it was claimed")
    if conflicts(existing, new_job):
        return Claim(Decision.DROP, conflict=existing)
    _add_reply_target(pipeline, existing, new_job)
    if existing.status != PENDING:
        resend_if_unsent(pipeline, existing.request_id)
        return Claim(Decision.DROP)
    return Claim(Decision.PROCEED, existing)


def _claim_regional(
    pipeline: Pipeline,
    new_job: Job,
    standby_expired: bool,
    stale: bool,
    waited_s: float,
    *,
    job_read: Job | None = None,
) -> Claim:
    jobs, regions = pipeline.jobs, pipeline.regions
    healthy = regions.primary_healthy()
    # The active region creates first and reads only if the job exists: one call, not two.
    # Not for a stale request: the other region is asked before anything is created.
    # Nor for a job read already (a takeover after the kill: two calls fewer).
    may_create = regions.active_here(healthy) or standby_expired
    if job_read is None and may_create and not stale and jobs.create(new_job):
        return Claim(Decision.CREATE, new_job)
    existing = job_read if job_read is not None else jobs.get(new_job.request_id)
    if existing is not None and conflicts(existing, new_job):
        return Claim(Decision.DROP, conflict=existing)
    decision = regions.decide(existing, healthy, standby_expired)
    if decision is Decision.CREATE:
        if stale and regions.peer_reachable(healthy):
            held = _held_by_peer(pipeline, new_job, waited_s)
            if held is not None:
                return Claim(held)
        if jobs.create(new_job):
            return Claim(Decision.CREATE, new_job)
        raise JobVanished(f"job {new_job.request_id} changed while it was claimed")
    if existing is None:  # decide() answers CREATE or STANDBY without a job
        return Claim(decision)
    if decision is Decision.PROCEED:
        _add_reply_target(pipeline, existing, new_job)
        return Claim(decision, existing)
    if decision is Decision.TAKE_OVER:
        taken = jobs.take_over(existing.request_id, existing.owner_region, regions.here)
        pipeline.meter.count("JobsTakenOver" if taken else "TakeOversLost")
        if taken is not None:
            _add_reply_target(pipeline, taken, new_job)
        # Lost: it went terminal, or another worker here took it first and works on it.
        return Claim(decision, taken) if taken is not None else Claim(Decision.DROP)
    if decision is Decision.DROP and regions.owns(existing):
        _add_reply_target(pipeline, existing, new_job)
        resend_if_unsent(pipeline, existing.request_id)
    return Claim(decision)


def _held_by_peer(pipeline: Pipeline, new_job: Job, waited_s: float) -> Decision | None:
    """The stale-request guard: what to do with a request the other region has a job
    for (its item not replicated here yet), or None to create the job here. Answered
    there: DROP (answering here would be a second terminal event). Pending there:
    STANDBY, so this region looks again once the item has replicated and the table of
    docs/regions.md applies. No answer: STANDBY as well, since a slow peer is not a lost
    one (the drill's secondary, loaded, timed out 24 reads after failback, and planning
    here answered all 24 twice); but only for VOXFLOW_PEER_SILENT_MAX_S. The other
    region stands by too while the primary is healthy and it has no job, so the request
    would wait for VOXFLOW_STANDBY_MAX_S in both (the drill after failback: minutes,
    until the sweep). Past that bound it is created here: a job pending there meets
    this one through the claim's conditional writes, and a second answer of one the
    peer finished unseen is what clients already keep the first of."""
    peer_jobs = pipeline.regions.peer_jobs
    if peer_jobs is None:
        return None
    try:
        found = peer_jobs.get(new_job.request_id)
    except PeerUnavailable as error:
        pipeline.meter.count("StaleRequestPeerUnavailable")
        if waited_s >= pipeline.regions.config.peer_silent_max_s:
            logger.warning(
                "stale request %s: the other region did not answer (%s) for %.0f s: created here",
                new_job.request_id,
                error,
                waited_s,
            )
            pipeline.meter.count("StaleRequestsCreatedPeerSilent")
            return None
        logger.warning(
            "stale request %s: the other region did not answer (%s)", new_job.request_id, error
        )
        return Decision.STANDBY
    if found is None or conflicts_with_peer(found, new_job):
        return None
    if found.status != PENDING:
        pipeline.meter.count("StaleRequestsAnsweredElsewhere")
        return Decision.DROP
    pipeline.meter.count("StaleRequestsPendingElsewhere")
    return Decision.STANDBY


def conflicts_with_peer(found: PeerJob, new_job: Job) -> bool:
    """Another request's job under this id there: not this request's answer."""
    if found.tenant is not None and found.tenant != new_job.tenant:
        return True
    return None not in (found.fingerprint, new_job.fingerprint) and (
        found.fingerprint != new_job.fingerprint
    )


def _add_reply_target(pipeline: Pipeline, existing: Job, duplicate: Job) -> None:
    """A duplicate that names another reply target gets the result there too: added to
    a pending job (its writer sends to every target), or copied from a finished one."""
    target = duplicate.reply_to_json
    if target is None or target == existing.reply_to_json:
        return
    if target in (existing.extra_reply_to or ()):
        return  # the writer sends there (or has)
    if pipeline.regions.regional and _answered_there_already(pipeline, existing, target):
        return
    if existing.status == PENDING and pipeline.jobs.add_reply_target(existing.request_id, target):
        return
    finished = existing if existing.status != PENDING else pipeline.jobs.get(existing.request_id)
    if finished is None:
        raise JobVanished(f"job {existing.request_id} changed while a target was added")
    if target in (finished.extra_reply_to or ()):
        return  # a concurrent duplicate added it first: its writer sends there
    if finished.status == PENDING:
        raise JobVanished(f"job {existing.request_id} changed while a target was added")
    _copy_result(pipeline, finished, duplicate, target)


def _answered_there_already(pipeline: Pipeline, existing: Job, target: str) -> bool:
    """``target`` is, as this region sends replies, one the job answers already: the
    same queue name under another region's URL (a request the client published to both
    regions, the frozen primary's copy replicated here after it thawed)."""
    here = pipeline.regions.here
    identity = answered_here_as(ReplyTo.model_validate_json(target), here)
    known = [existing.reply_to_json, *(existing.extra_reply_to or ())]
    return any(
        answered_here_as(ReplyTo.model_validate_json(other), here) == identity
        for other in known
        if other
    )


def _copy_result(pipeline: Pipeline, finished: Job, duplicate: Job, target: str) -> None:
    """Send a finished job's event to one more target, as a job of its own: created by
    one caller, sent under the same lease as any terminal event, so once."""
    event = stored_event(finished)
    if event is None:
        return
    jobs = pipeline.jobs
    copy = jobs.new_answer(
        copy_job_id(finished.request_id, target),
        tenant=duplicate.tenant,
        metadata_json=finished.metadata_json,
        reply_to_json=target,
        fingerprint=duplicate.fingerprint,
        answers_request_id=answered_id(finished),
        copy_of=finished.request_id,
    )
    if not jobs.create(copy):
        found = jobs.get(copy.request_id)
        if found is None:
            raise JobVanished(f"job {copy.request_id} changed while it was claimed")
        if found.status != PENDING:
            resend_if_unsent(pipeline, found.request_id)
            return
        copy = found  # its creator crashed before sending: finish it here
    finish(pipeline, copy, event, finished.cache)


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
