"""Terminal events: each job ends in exactly one SynthesisCompleted or SynthesisFailed.

The conditional move out of ``pending`` picks one winner, who publishes and then
marks the event sent. A crash between the two leaves ``terminal_sent`` false,
and the next delivery of the message publishes the stored event again.
"""

import json

from voxflow.audio import AudioFormat
from voxflow.events import ReplyTo, SynthesisCompleted, SynthesisFailed
from voxflow.pipeline.context import Pipeline
from voxflow.store import CacheEntry, Job
from voxflow.store.jobs import COMPLETED, FAILED

_MESSAGE_LIMIT = 1000


def reply_target(job: Job) -> ReplyTo | None:
    return ReplyTo.model_validate_json(job.reply_to_json) if job.reply_to_json else None


def completed_event(
    pipeline: Pipeline, job: Job, entry: CacheEntry, cache: str, timings: dict[str, float]
) -> SynthesisCompleted:
    url = pipeline.audio.presign(entry.s3_key, entry.content_type)
    return SynthesisCompleted(
        request_id=job.request_id,
        url=url.url,
        expires_at=url.expires_at,
        key=entry.key,
        duration_s=float(entry.duration_s),
        bytes=int(entry.bytes),
        format=AudioFormat.parse(entry.format),
        sample_rate=int(entry.sample_rate),
        cache=cache,  # type: ignore[arg-type]
        region=pipeline.settings.region_name,
        timings=timings,
        metadata=json.loads(job.metadata_json),
        tenant=job.tenant,
        batch_id=job.batch_id,
    )


def failed_event(job: Job, code: str, message: str, retryable: bool) -> SynthesisFailed:
    return SynthesisFailed(
        request_id=job.request_id,
        code=code,
        message=message[:_MESSAGE_LIMIT],
        tenant=job.tenant,
        metadata=json.loads(job.metadata_json),
        batch_id=job.batch_id,
        retryable=retryable,
    )


def finish(
    pipeline: Pipeline, job: Job, event: SynthesisCompleted | SynthesisFailed, cache: str | None
) -> bool:
    """Publish ``event`` if this caller moved the job out of pending; True if it did."""
    status = COMPLETED if isinstance(event, SynthesisCompleted) else FAILED
    document = json.loads(event.model_dump_json())
    if not pipeline.jobs.finish(job, status, document, cache):
        resend_if_unsent(pipeline, job.request_id)
        return False
    pipeline.controls.record_outcome(job, event, pipeline.settings.region_name)
    pipeline.publisher.publish(event, reply_target(job))
    pipeline.jobs.mark_terminal_sent(job)
    return True


def resend_if_unsent(pipeline: Pipeline, request_id: str) -> None:
    job = pipeline.jobs.get(request_id)
    if job is None or job.terminal_sent or not job.result_json:
        return
    event: SynthesisCompleted | SynthesisFailed
    if job.status == COMPLETED:
        event = SynthesisCompleted.model_validate_json(job.result_json)
    elif job.status == FAILED:
        event = SynthesisFailed.model_validate_json(job.result_json)
    else:
        return
    # The winner's audit write may be what failed: write it again (same values).
    pipeline.controls.record_outcome(job, event, pipeline.settings.region_name)
    pipeline.publisher.publish(event, reply_target(job))
    pipeline.jobs.mark_terminal_sent(job)
