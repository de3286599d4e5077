"""Failures: which errors are final, and the SynthesisFailed they end in."""

import json

from voxflow.errors import InvalidInput, VoiceLoadError, VoxflowError
from voxflow.events import ReplyTo
from voxflow.pipeline.context import Pipeline
from voxflow.pipeline.terminal import failed_event, finish, resend_if_unsent
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
) -> None:
    """End a request in SynthesisFailed, whether or not plan got to create its job."""
    job = pipeline.jobs.get(request_id)
    if job is None:
        job = pipeline.jobs.new(
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
        if not pipeline.jobs.create(job):
            job = pipeline.jobs.get(request_id)
            if job is None:
                return
    if job.status != PENDING:
        resend_if_unsent(pipeline, request_id)
        return
    pipeline.meter.count("RequestsFailed")
    finish(pipeline, job, failed_event(job, code, message, retryable), None)
