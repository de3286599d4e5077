"""Terminal events: each job ends in exactly one SynthesisCompleted or SynthesisFailed.

The conditional move out of ``pending`` picks one writer, who publishes and then marks
the event sent. Nobody else sends it while the writer's lease runs (a PutEvents call
takes far less), so a slow writer is never doubled; after the lease, a writer that
crashed between the two steps is replaced: the next delivery of a message of the job,
or the sweeper, sends the stored event again, once (the lease is taken conditionally).
"""

import json
from collections.abc import Callable

from voxflow.audio import AudioFormat
from voxflow.events import (
    ChunkSynthesized,
    ChunkTask,
    ReplyTo,
    SynthesisCompleted,
    SynthesisFailed,
)
from voxflow.pipeline.context import Pipeline
from voxflow.pipeline.outputs import OutputWriteFailed
from voxflow.store import CacheEntry, Job
from voxflow.store.jobs import COMPLETED, FAILED

_MESSAGE_LIMIT = 1000


def reply_target(job: Job) -> ReplyTo | None:
    """The reply target the request was first sent with."""
    return ReplyTo.model_validate_json(job.reply_to_json) if job.reply_to_json else None


def extra_targets(job: Job) -> list[ReplyTo]:
    """Targets that duplicates of the request named besides the first (sorted: stable)."""
    return [ReplyTo.model_validate_json(target) for target in sorted(job.extra_reply_to or ())]


def answered_id(job: Job) -> str:
    """The request id the job's events carry."""
    return job.answers_request_id or job.request_id


def chunk_event(task: ChunkTask, entry: CacheEntry, pipeline: Pipeline) -> ChunkSynthesized:
    """``task``'s chunk, stored as ``entry``, for its job's client: a fresh URL."""
    url = pipeline.audio.presign(entry.s3_key, entry.content_type)
    return ChunkSynthesized(
        request_id=task.request_id,
        index=task.index,
        count=task.count,
        url=url.url,
        expires_at=url.expires_at,
        duration_s=float(entry.duration_s),
    )


def completed_event(
    pipeline: Pipeline,
    job: Job,
    entry: CacheEntry,
    cache: str,
    timings: dict[str, float],
    *,
    marks: CacheEntry | None = None,
) -> SynthesisCompleted | SynthesisFailed:
    """The request's SynthesisCompleted, once its own output object (reply_to.s3) is
    written; SynthesisFailed (OUTPUT_WRITE_FAILED) if that write failed."""
    target = reply_target(job)
    if target is not None and target.s3 is not None:
        try:
            if pipeline.outputs is None:
                raise OutputWriteFailed("this deployment writes no output objects")
            pipeline.outputs.write(target.s3, entry, marks)
        except OutputWriteFailed as error:
            return failed_event(job, error.code, str(error), retryable=False)
    url = pipeline.audio.presign(entry.s3_key, entry.content_type)
    marks_url = pipeline.audio.presign(marks.s3_key, marks.content_type) if marks else None
    return SynthesisCompleted(
        request_id=answered_id(job),
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
        marks_url=marks_url.url if marks_url else None,
    )


def failed_event(job: Job, code: str, message: str, retryable: bool) -> SynthesisFailed:
    return SynthesisFailed(
        request_id=answered_id(job),
        code=code,
        message=message[:_MESSAGE_LIMIT],
        tenant=job.tenant,
        metadata=json.loads(job.metadata_json),
        batch_id=job.batch_id,
        retryable=retryable,
    )


def finish(
    pipeline: Pipeline,
    job: Job,
    event: SynthesisCompleted | SynthesisFailed,
    cache: str | None,
    *,
    on_replied: Callable[[], None] | None = None,
) -> bool:
    """Publish ``event`` if this caller moved the job out of pending; True if it did.
    ``on_replied`` is called once the event is on its way (bus and reply targets),
    before the bookkeeping after it: where a request's latency ends (timeline)."""
    status = COMPLETED if isinstance(event, SynthesisCompleted) else FAILED
    document = json.loads(event.model_dump_json())
    if not pipeline.jobs.finish(job, status, document, cache):
        resend_if_unsent(pipeline, job.request_id)
        return False
    if job.copy_of is None:  # a copy's request has its audit record already
        pipeline.controls.record_outcome(job, event, pipeline.settings.region_name)
    _send(pipeline, job, event, on_replied)
    return True


def resend_if_unsent(pipeline: Pipeline, request_id: str) -> bool:
    """Send a terminal job's stored event whose writer did not mark it sent and whose
    lease has run out; True if this caller sent it."""
    job = pipeline.jobs.lease_resend(request_id)
    if job is None:
        return False
    event = stored_event(job)
    if event is None:
        return False
    if job.copy_of is None:
        # The writer's audit write may be what failed: write it again (same values).
        pipeline.controls.record_outcome(job, event, pipeline.settings.region_name)
    pipeline.meter.count("TerminalEventsResent")
    _send(pipeline, job, event)
    return True


def stored_event(job: Job) -> SynthesisCompleted | SynthesisFailed | None:
    if not job.result_json:
        return None
    if job.status == COMPLETED:
        return SynthesisCompleted.model_validate_json(job.result_json)
    if job.status == FAILED:
        return SynthesisFailed.model_validate_json(job.result_json)
    return None


def _send(
    pipeline: Pipeline,
    job: Job,
    event: SynthesisCompleted | SynthesisFailed,
    on_replied: Callable[[], None] | None = None,
) -> None:
    # ``job`` is the item as the conditional write left it: a duplicate's target added
    # before that write is here, and one added after it is sent by that duplicate. A
    # reply sent already beside a bus put that failed (voxflow.pipeline.hit) is not
    # sent again.
    target = None if job.reply_sent else reply_target(job)
    if job.copy_of is not None:
        if target is not None:
            pipeline.publisher.deliver(event, target)
    else:
        pipeline.publisher.publish(event, target)
        for extra in extra_targets(job):
            pipeline.publisher.deliver(event, extra)
    if target is not None and pipeline.outputs is not None:
        pipeline.outputs.notify(target, event)
    if on_replied is not None:
        on_replied()
    pipeline.jobs.mark_terminal_sent(job)
