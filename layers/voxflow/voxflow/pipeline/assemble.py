"""assemble: join a job's chunks in order, encode, store, index, and complete it."""

import json
import time

import numpy as np
from numpy.typing import NDArray

from voxflow.audio import AudioFormat, decode, encode, join_pcm
from voxflow.pipeline.context import Pipeline
from voxflow.pipeline.marks import assemble_marks
from voxflow.pipeline.terminal import completed_event, finish, resend_if_unsent
from voxflow.pipeline.timeline import ASSEMBLED, record
from voxflow.store import CacheEntry, Job
from voxflow.store.jobs import PENDING


def assemble(request_id: str, pipeline: Pipeline, recorded: Job | None = None) -> None:
    """``recorded``: the job as the write that recorded its last chunk returned it (one
    consistent read less on every miss's tail); None reads it."""
    started = time.perf_counter()
    started_at = time.time()
    job = recorded if recorded is not None else pipeline.jobs.get(request_id)
    if job is None:
        return
    if job.status != PENDING:
        # A redelivery of the last chunk: its writer may have crashed before sending.
        resend_if_unsent(pipeline, request_id)
        return
    kept = {key: pipeline.recent.get(key) for key in job.chunk_keys}
    # Marks need every chunk's timing, which only the cache entries hold.
    wanted = job.chunk_keys if job.marks_json else [k for k, pcm in kept.items() if pcm is None]
    entries = pipeline.cache.lookup_many(list(wanted))
    pieces = []
    for key in job.chunk_keys:
        pcm = kept[key]
        if pcm is None:
            # No entry yet: the chunk was counted while its index write ran alongside
            # (voxflow.pipeline.chunks); its object, stored first, is under its key.
            indexed = entries.get(key)
            s3_key = indexed.s3_key if indexed is not None else pipeline.audio.chunk_object(key)
            pcm, _ = decode(pipeline.audio.get(s3_key))
        pieces.append(pcm)
    params = json.loads(job.params_json)
    entry, _ = store_request_audio(
        pipeline,
        job.key,
        pieces,
        int(job.sample_rate),
        AudioFormat.parse(job.format),
        pause_s=float(params["sentence_pause_s"]),
        output_rate=None if job.output_rate is None else int(job.output_rate),
    )
    marks = assemble_marks(
        pipeline, job, entries, float(params["sentence_pause_s"]), float(entry.duration_s)
    )
    timings = {
        "assemble_s": time.perf_counter() - started,
        "total_s": (time.time() - job.created_at.timestamp()),
    }
    pipeline.meter.seconds("RequestDuration", timings["total_s"])
    event = completed_event(pipeline, job, entry, "miss", timings, marks=marks)
    replied_at: list[float] = []
    finish(pipeline, job, event, "miss", on_replied=lambda: replied_at.append(time.time()))
    record(
        ASSEMBLED,
        request_id,
        started_at=started_at,
        assemble_s=timings["assemble_s"],
        replied_at=replied_at[0] if replied_at else None,
    )


def store_request_audio(
    pipeline: Pipeline,
    key: str,
    pieces: list[NDArray[np.int16]],
    sample_rate: int,
    audio_format: AudioFormat,
    *,
    pause_s: float,
    output_rate: int | None = None,
) -> tuple[CacheEntry, bytes]:
    """A request's chunks (at ``sample_rate``) joined, encoded at ``output_rate`` (None:
    the format's default), stored under its key and indexed: the one way request audio
    enters the cache, whichever way the request came in."""
    joined = join_pcm(pieces, sample_rate, pause_s=pause_s)
    encoded = encode(joined.astype(np.int16), sample_rate, audio_format, output_rate=output_rate)
    s3_key = pipeline.audio.audio_object(key, audio_format.extension)
    pipeline.audio.put(s3_key, encoded.data, encoded.content_type)
    entry = pipeline.cache.record(
        key,
        kind="request",
        s3_key=s3_key,
        content_type=encoded.content_type,
        audio_format=audio_format.value,
        sample_rate=encoded.sample_rate,
        duration_s=encoded.duration_s,
        size=len(encoded.data),
    )
    return entry, encoded.data
