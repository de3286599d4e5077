"""plan: validate, normalize, key; answer a hit at once; queue only missing chunks."""

import json
import time

from voxflow.events import ChunkSynthesized, ChunkTask, ItemRequest
from voxflow.marks.timing import timing_usable
from voxflow.pipeline.admission import admit
from voxflow.pipeline.assemble import assemble
from voxflow.pipeline.context import Pipeline
from voxflow.pipeline.failures import answer_conflict
from voxflow.pipeline.identity import item_fingerprint
from voxflow.pipeline.keyed import key_item
from voxflow.pipeline.marks import plan_request_marks
from voxflow.pipeline.regional import claim, usable, usable_many
from voxflow.pipeline.terminal import completed_event, finish, reply_target
from voxflow.pipeline.timeline import PLANNED, record
from voxflow.regions import Decision
from voxflow.store import CacheEntry, Job

_KEYS_PER_BATCH_GET = 100  # BatchGetItem's limit
_CACHED_CHUNKS_IN_PLAN = 3  # a short request's all (VOXFLOW_SHORT_JOB_CHUNKS' default)


def plan_item(
    item: ItemRequest,
    pipeline: Pipeline,
    *,
    standby_expired: bool = False,
    received_at: float | None = None,
    waited_s: float = 0.0,
) -> Decision:
    """Plan one request; the decision says whether this region works on it (STANDBY:
    the caller sends the message again later). ``received_at``: when its message was
    received (epoch seconds; None: now), where the service's own time on it starts."""
    started = time.perf_counter()
    received_at = time.time() if received_at is None else received_at
    keyed = key_item(item, pipeline)
    voice, resolved, audio_format = keyed.voice, keyed.resolved, keyed.audio_format
    text, key, chunks, chunk_keys = keyed.text, keyed.key, keyed.chunks, keyed.chunk_keys
    marks = plan_request_marks(item, keyed) if item.speech_marks else None
    job = pipeline.jobs.new(
        item.request_id,
        tenant=item.tenant,
        voice=voice.voice_id,
        format=audio_format.value,
        key=key,
        sample_rate=voice.sample_rate,
        output_rate=keyed.output_rate,
        params_json=json.dumps(resolved.as_dict()),
        chunk_keys=chunk_keys,
        chunk_count=len(chunks),
        chunk_texts=chunks if len(text) <= 50_000 else None,  # sweeper; 400 KB item limit
        metadata_json=json.dumps(item.metadata),
        reply_to_json=item.reply_to.model_dump_json() if item.reply_to else None,
        batch_id=item.batch_id,
        fingerprint=item_fingerprint(item),
        marks_json=marks.to_json() if marks else None,
    )
    requested_at = item.requested_at.timestamp() if item.requested_at else None
    claimed = claim(
        pipeline,
        job,
        standby_expired=standby_expired,
        requested_at=requested_at,
        waited_s=waited_s,
    )
    if claimed.conflict is not None:
        return answer_conflict(pipeline, job, standby_expired=standby_expired)
    if claimed.job is None:
        return claimed.decision
    job = claimed.job
    if claimed.decision is Decision.PROCEED and job.dispatched:
        # A duplicate of a request whose chunks are queued: the work is under way, and
        # its own steps finish it (assembling here too would race them).
        return claimed.decision
    # PROCEED is a redelivery of a request whose dispatch a crash may have cut short,
    # and TAKE_OVER a job its owner left: either way queue again only what is not done
    # (the synthesize step skips chunks that are cached by then).
    delay_s = admit(item, claimed.decision, pipeline, spoken_chars=keyed.billed_chars)
    if delay_s is None:
        return claimed.decision  # over quota: answered already
    # The request's key (and its marks') with its chunks' in one call when they fit one
    # BatchGetItem: a miss makes one read, not two, before its chunk tasks are queued.
    keys = [key, *([marks.key] if marks else []), *chunk_keys]
    known = (
        pipeline.cache.lookup_many(keys, consistent=True)
        if len(keys) <= _KEYS_PER_BATCH_GET
        else None
    )
    hit = usable(known.get(key) if known is not None else pipeline.cache.lookup(key), pipeline)
    # Asked for marks, a hit needs them too; without, assembly makes them from the chunks.
    marks_hit = None
    if marks and hit:
        marks_entry = (
            known.get(marks.key) if known is not None else pipeline.cache.lookup(marks.key)
        )
        marks_hit = usable(marks_entry, pipeline)
    if hit is not None and (marks is None or marks_hit is not None):
        pipeline.meter.count("CacheHits")
        timings = {"plan_s": time.perf_counter() - started}
        event = completed_event(pipeline, job, hit, "hit", timings, marks=marks_hit)
        replied_at: list[float] = []
        finish(pipeline, job, event, "hit", on_replied=lambda: replied_at.append(time.time()))
        pipeline.cache.count_hit(hit)
        record(
            PLANNED,
            job.request_id,
            cache="hit",
            requested_at=requested_at,
            received_at=received_at,
            plan_s=timings["plan_s"],
            # Receipt to the reply's send: the service's own share of a hit's latency.
            service_s=replied_at[0] - received_at if replied_at else None,
        )
        return claimed.decision
    pipeline.meter.count("CacheMisses")
    if known is None:
        known = pipeline.cache.lookup_many(chunk_keys)
    cached = usable_many({k: known[k] for k in chunk_keys if k in known}, pipeline)
    if marks is not None:  # a chunk cached without (current) timings is made again
        texts = dict(zip(chunk_keys, chunks, strict=True))
        cached = {
            key: entry for key, entry in cached.items() if timing_usable(texts[key], entry.timing)
        }
    if claimed.decision is Decision.TAKE_OVER:
        _forget_chunks_without_audio_here(job, chunk_keys, cached, pipeline)
    done = {int(index) for index in job.done or ()}
    # Cached chunks not counted into the job yet: plan reports a few itself, and sends
    # the rest as tasks that the synthesize step reports without synthesizing. Reporting
    # them all here is 3-4 calls each: a 32-chunk takeover ran past plan's 30 s timeout
    # under load, and every takeover held up the new requests behind it (issue 17).
    reported_here = [
        index for index, key in enumerate(chunk_keys) if key in cached and index not in done
    ][:_CACHED_CHUNKS_IN_PLAN]
    tasks = [
        ChunkTask(
            request_id=job.request_id,
            index=index,
            count=len(chunks),
            text=chunk,
            chunk_key=chunk_keys[index],
            voice=voice.voice_id,
            model_version=voice.model_version,
            params=resolved.as_dict(),
            sample_rate=voice.sample_rate,
            reply_to=item.reply_to,
            timing=marks is not None,
        )
        for index, chunk in enumerate(chunks)
        if index not in done and index not in reported_here
    ]
    recovery = claimed.decision is Decision.TAKE_OVER
    queued_at = pipeline.chunk_queue.send(tasks, delay_s=delay_s, recovery=recovery)
    pipeline.jobs.mark_dispatched(job)
    record(
        PLANNED,
        job.request_id,
        cache="miss",
        requested_at=requested_at,
        received_at=received_at,
        queued_at=queued_at,
        plan_s=time.perf_counter() - started,
        chunks=len(chunks),
        queued=len(tasks),
    )
    _count_cached_chunks(job, cached, chunk_keys, reported_here, pipeline)
    if not tasks and not reported_here:
        assemble(job.request_id, pipeline)  # every chunk done: its old owner did not assemble
    return claimed.decision


def _forget_chunks_without_audio_here(
    job: Job, chunk_keys: list[str], cached: dict[str, CacheEntry], pipeline: Pipeline
) -> None:
    """Chunks the old owner finished count only once their audio has replicated here:
    the job's item replicates before the objects do, and assembling would find them
    missing (NoSuchKey: the request failed after its retries)."""
    done = {int(index) for index in (job.done or set())}
    missing = {index for index in done if chunk_keys[index] not in cached}
    if missing:
        pipeline.jobs.forget_chunks(job.request_id, missing)
        job.done = {float(index) for index in done - missing} or None


def _count_cached_chunks(
    job: Job,
    cached: dict[str, CacheEntry],
    chunk_keys: list[str],
    indices: list[int],
    pipeline: Pipeline,
) -> None:
    complete = False
    for index in indices:
        key = chunk_keys[index]
        progress = pipeline.jobs.record_chunk(job.request_id, index)
        complete = progress.complete
        if progress.newly_recorded:
            url = pipeline.audio.presign(cached[key].s3_key, cached[key].content_type)
            event = ChunkSynthesized(
                request_id=job.request_id,
                index=index,
                count=len(chunk_keys),
                url=url.url,
                expires_at=url.expires_at,
                duration_s=float(cached[key].duration_s),
            )
            pipeline.publisher.publish(event, reply_target(job))
    if complete:
        assemble(job.request_id, pipeline)
