"""The chunks queue: batched synthesis, then per-chunk bookkeeping.

``synthesize_missing`` runs once per batch, so chunks of one voice and one set
of parameters share inference runs; ``complete_chunk`` then runs per message,
so one failing chunk fails only its own message.
"""

import time
from collections import defaultdict
from dataclasses import dataclass, field

from voxflow.audio import AudioFormat, encode
from voxflow.engine import SynthesisParams
from voxflow.errors import SynthesisError
from voxflow.events import ChunkSynthesized, ChunkTask
from voxflow.pipeline.assemble import assemble
from voxflow.pipeline.context import Pipeline
from voxflow.pipeline.failures import error_code, fail_request, is_final
from voxflow.pipeline.terminal import reply_target
from voxflow.store import CacheEntry

GroupKey = tuple[str, str, tuple[tuple[str, float], ...]]


@dataclass
class BatchResult:
    stored: dict[str, CacheEntry] = field(default_factory=dict)
    errors: dict[str, Exception] = field(default_factory=dict)


def synthesize_missing(tasks: list[ChunkTask], pipeline: Pipeline) -> BatchResult:
    """Synthesize and store every chunk of the batch that has no cached audio yet."""
    result = BatchResult(stored=pipeline.cache.lookup_many([task.chunk_key for task in tasks]))
    groups: dict[GroupKey, dict[str, ChunkTask]] = defaultdict(dict)
    for task in tasks:
        if task.chunk_key not in result.stored:
            group = (task.voice, task.model_version, tuple(sorted(task.params.items())))
            groups[group][task.chunk_key] = task  # a chunk repeated in a batch runs once
    for (voice_id, model_version, _), by_key in groups.items():
        try:
            _synthesize_group(list(by_key.values()), voice_id, model_version, pipeline, result)
        except Exception as error:  # each task of the group reports it for its own message
            for key in by_key:
                result.errors[key] = error
    return result


def _synthesize_group(
    tasks: list[ChunkTask],
    voice_id: str,
    model_version: str,
    pipeline: Pipeline,
    result: BatchResult,
) -> None:
    voice = pipeline.registry.get(voice_id)
    if voice.model_version != model_version:
        raise SynthesisError(
            f"chunk wants model {model_version[:12]} of voice {voice_id!r}; "
            f"this deployment has {voice.model_version[:12]}"
        )
    params = tasks[0].params
    synthesis = SynthesisParams(
        length_scale=params["length_scale"],
        noise_scale=params["noise_scale"],
        noise_w=params["noise_w"],
    )
    started = time.perf_counter()
    audio_s = 0.0
    for task, chunk in zip(
        tasks, pipeline.engine.synthesize([t.text for t in tasks], voice_id, synthesis), strict=True
    ):
        encoded = encode(chunk.pcm, chunk.sample_rate, AudioFormat.WAV)
        s3_key = pipeline.audio.chunk_object(task.chunk_key)
        pipeline.audio.put(s3_key, encoded.data, encoded.content_type)
        result.stored[task.chunk_key] = pipeline.cache.record(
            task.chunk_key,
            kind="chunk",
            s3_key=s3_key,
            content_type=encoded.content_type,
            audio_format=AudioFormat.WAV.value,
            sample_rate=chunk.sample_rate,
            duration_s=chunk.duration_s,
            size=len(encoded.data),
        )
        audio_s += chunk.duration_s
    elapsed = time.perf_counter() - started
    pipeline.meter.count("ChunksSynthesized", len(tasks))
    if audio_s > 0:
        pipeline.meter.ratio("RealTimeFactor", elapsed / audio_s)


def complete_chunk(
    task: ChunkTask, batch: BatchResult, receive_count: int, pipeline: Pipeline
) -> None:
    """Count the chunk into its job; the one that completes the job assembles it."""
    error = batch.errors.get(task.chunk_key)
    if error is not None:
        last_attempt = receive_count >= pipeline.settings.max_receive_count
        if is_final(error) or last_attempt:
            fail_request(
                pipeline,
                task.request_id,
                error_code(error),
                str(error),
                retryable=not is_final(error),
            )
        if not is_final(error):
            raise error
        return
    entry = batch.stored[task.chunk_key]
    progress = pipeline.jobs.record_chunk(task.request_id, task.index)
    if progress.newly_recorded:
        job = pipeline.jobs.get(task.request_id)
        url = pipeline.audio.presign(entry.s3_key, entry.content_type)
        event = ChunkSynthesized(
            request_id=task.request_id,
            index=task.index,
            count=task.count,
            url=url.url,
            expires_at=url.expires_at,
            duration_s=float(entry.duration_s),
        )
        pipeline.publisher.publish(event, reply_target(job) if job else None)
    if progress.complete:
        assemble(task.request_id, pipeline)
