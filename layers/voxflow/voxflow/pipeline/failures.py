"""Failures: which errors are final, and the SynthesisFailed they end in."""

import json

from voxflow.errors import InvalidInput, VoiceLoadError, VoxflowError
from voxflow.events import ReplyTo
from voxflow.pipeline.context import Pipeline
from voxflow.pipeline.regional import claim
from voxflow.pipeline.terminal import failed_event, finish
from voxflow.regions import Decision

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
) -> Decision:
    """End a request in SynthesisFailed, whether or not plan got to create its job.

    With two regions, only the region that works on the request fails it; the
    decision says which (STANDBY: the caller sends the message again later)."""
    new_job = pipeline.jobs.new(
        request_id,
        tenant=tenant,
        voice="",
        format="",
        key="",
        sample_rate=0,
        params_json="{}",
        chunk_keys=[],
        chunk_count=0,
        metadata_json=json.dumps(metadata or {}, default=str),
        reply_to_json=reply_to.model_dump_json() if reply_to else None,
        batch_id=batch_id,
    )
    claimed = claim(pipeline, new_job, standby_expired=standby_expired)
    if claimed.job is None:
        return claimed.decision
    pipeline.meter.count("RequestsFailed")
    job, region = claimed.job, pipeline.settings.region_name
    fallback = pipeline.controls.fallback_event(job, retryable, region)
    finish(pipeline, job, fallback or failed_event(job, code, message, retryable), None)
    return claimed.decision
