"""Failures: which errors are final, and the SynthesisFailed they end in."""

import json

from voxflow.errors import InvalidInput, VoiceLoadError, VoxflowError
from voxflow.events import ReplyTo
from voxflow.pipeline.context import Pipeline
from voxflow.pipeline.identity import (
    REQUEST_ID_CONFLICT,
    conflict_job_id,
    rejection_fingerprint,
)
from voxflow.pipeline.regional import claim
from voxflow.pipeline.terminal import failed_event, finish, resend_if_unsent
from voxflow.regions import Decision
from voxflow.store import Job
from voxflow.store.jobs import PENDING

INTERNAL = "INTERNAL"


def is_final(error: Exception) -> bool:
    """Retrying cannot help: the request or the deployment is wrong."""
    return isinstance(error, InvalidInput | VoiceLoadError)


def error_code(error: Exception) -> str:
    return error.code if isinstance(error, VoxflowError) else INTERNAL


def fail_request(
    pipeline: Pipeline,
    request_id: str,
    code: str,
    message: str,
    *,
    tenant: str = "default",
    metadata: dict[str, object] | None = None,
    batch_id: str | None = None,
    reply_to: ReplyTo | None = None,
    retryable: bool = False,
    standby_expired: bool = False,
    fingerprint: str | None = None,
) -> Decision:
    """End a request in SynthesisFailed, whether or not plan got to create its job.

    ``fingerprint``: the request's (voxflow.pipeline.identity), when it was read as an
    item; a job of another request under this id is left alone and this request gets
    REQUEST_ID_CONFLICT instead. With two regions, only the region that works on the
    request fails it; the decision says which (STANDBY: the caller sends the message
    again later)."""
    new_job = pipeline.jobs.new_answer(
        request_id,
        tenant=tenant,
        metadata_json=json.dumps(metadata or {}, default=str),
        reply_to_json=reply_to.model_dump_json() if reply_to else None,
        batch_id=batch_id,
        fingerprint=fingerprint or rejection_fingerprint(tenant, code, message),
    )
    claimed = claim(pipeline, new_job, standby_expired=standby_expired)
    if claimed.conflict is not None:
        return answer_conflict(pipeline, new_job, standby_expired=standby_expired)
    if claimed.job is None:
        return claimed.decision
    _fail(pipeline, claimed.job, code, message, retryable)
    return claimed.decision


def answer_conflict(pipeline: Pipeline, incoming: Job, *, standby_expired: bool) -> Decision:
    """Answer a request whose id another request holds, with REQUEST_ID_CONFLICT at its
    own reply target. The answer is a job of its own under a derived key, so the
    owner's job is never touched and a redelivery is answered once."""
    request_id = incoming.request_id
    answer = pipeline.jobs.new_answer(
        conflict_job_id(request_id, incoming.fingerprint),
        tenant=incoming.tenant,
        metadata_json=incoming.metadata_json,
        reply_to_json=incoming.reply_to_json,
        batch_id=incoming.batch_id,
        fingerprint=incoming.fingerprint,
        answers_request_id=request_id,
    )
    claimed = claim(pipeline, answer, standby_expired=standby_expired)
    if claimed.job is None:
        return claimed.decision
    pipeline.meter.count("RequestIdConflicts")
    message = (
        f"request id {request_id!r} belongs to another request (another tenant's, or "
        "other content); send this one with a new request id"
    )
    event = failed_event(claimed.job, REQUEST_ID_CONFLICT, message, retryable=False)
    finish(pipeline, claimed.job, event, None)
    return claimed.decision


def fail_job(
    pipeline: Pipeline,
    job_id: str,
    code: str,
    message: str,
    *,
    retryable: bool,
    reply_to: ReplyTo | None,
) -> None:
    """Fail the job a chunk task belongs to (its tenant and content are the job's)."""
    job = pipeline.jobs.get(job_id)
    if job is None:
        # Expired, or never was: the failure must still answer where the task asked.
        fail_request(pipeline, job_id, code, message, reply_to=reply_to, retryable=retryable)
        return
    if job.status != PENDING:
        resend_if_unsent(pipeline, job.request_id)
        return
    _fail(pipeline, job, code, message, retryable)


def _fail(pipeline: Pipeline, job: Job, code: str, message: str, retryable: bool) -> None:
    pipeline.meter.count("RequestsFailed")
    pipeline.meter.count_by("FailuresByCode", "Code", code)
    fallback = pipeline.controls.fallback_event(job, retryable, pipeline.settings.region_name)
    event = fallback or failed_event(job, code, message, retryable)
    finish(pipeline, job, event, None)
