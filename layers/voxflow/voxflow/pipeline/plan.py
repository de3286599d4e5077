"""plan: validate, normalize, key; answer a hit at once; queue only missing chunks."""

import json
import time

from voxflow.events import ChunkSynthesized, ChunkTask, ItemRequest
from voxflow.marks.timing import timing_usable
from voxflow.pipeline.admission import admit
from voxflow.pipeline.assemble import assemble
from voxflow.pipeline.context import Pipeline
from voxflow.pipeline.failures import answer_conflict
from voxflow.pipeline.hit import (
    Hit,
    ReadAhead,
    answer_at_once,
    hit_in,
    read_ahead,
    record_hit,
    usable_hit,
)
from voxflow.pipeline.identity import item_fingerprint
from voxflow.pipeline.keyed import KeyedRequest, key_item
from voxflow.pipeline.marks import RequestMarks, plan_request_marks
from voxflow.pipeline.regional import claim, usable, usable_many
from voxflow.pipeline.shared_chunks import queue_tasks
from voxflow.pipeline.terminal import completed_event, finish, reply_target
from voxflow.pipeline.timeline import PLANNED, Laps, record
from voxflow.regions import Decision
from voxflow.store import CacheEntry, Job
from voxflow.store.batch_read import KEYS_PER_CALL
from voxflow.store.job_texts import kept_in_item


def plan_item(
    item: ItemRequest,
    pipeline: Pipeline,
    *,
    standby_expired: bool = False,
    received_at: float | None = None,
    waited_s: float = 0.0,
    job_read: Job | None = None,
    laps: Laps | None = None,
) -> Decision:
    """Plan one request; the decision says whether this region works on it (STANDBY:
    the caller sends the message again later). ``received_at``: when its message was
    received (epoch seconds; None: now), where the service's own time on it starts.
    ``job_read``: its job as this invocation read it moments ago (a standby copy's);
    ``laps``: its steps since then (voxflow.pipeline.timeline)."""
    started = time.perf_counter()
    received_at = time.time() if received_at is None else received_at
    laps = Laps(received_at) if laps is None else laps
    keyed = key_item(item, pipeline)
    voice, resolved = keyed.voice, keyed.resolved
    key, chunks, chunk_keys = keyed.key, keyed.chunks, keyed.chunk_keys
    marks = plan_request_marks(item, keyed) if item.speech_marks else None
    job = _new_job(item, keyed, marks, pipeline)
    requested_at = item.requested_at.timestamp() if item.requested_at else None
    keys = [key, *([marks.key] if marks else []), *chunk_keys]
    laps.lap("key")
    # A job that may share chunks (voxflow.pipeline.shared_chunks) reads their claims here.
    sharing = len(chunk_keys) > pipeline.chunk_queue.short_job_chunks and marks is None
    # A job read already exists: answering at once would create it, and fail.
    ahead = (
        read_ahead(
            item,
            keys,
            pipeline,
            standby_expired=standby_expired,
            claim_keys=chunk_keys if sharing else None,
        )
        if job_read is None
        else None
    )
    laps.lap("read")
    tried = _at_once(
        item, job, keyed, marks, pipeline, ahead=ahead, times=(started, received_at), laps=laps
    )
    if tried:
        return Decision.CREATE
    if tried is False:
        ahead = None  # its quota item may be charged: the general path reads again
        job = _new_job(item, keyed, marks, pipeline)  # the failed transaction's is changed
    claimed = claim(
        pipeline,
        job,
        standby_expired=standby_expired,
        requested_at=requested_at,
        waited_s=waited_s,
        job_read=job_read,
    )
    laps.lap("claim")
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
    delay_s = admit(
        item,
        claimed.decision,
        pipeline,
        spoken_chars=keyed.billed_chars,
        quota_read=ahead.quota_item if ahead is not None else None,
    )
    laps.lap("admit")
    if delay_s is None:
        return claimed.decision  # over quota: answered already
    known = _known(ahead, keys, pipeline)
    found = _usable_hit(known, key, marks, pipeline)
    if found is not None:
        _answer_hit(pipeline, job, found, started, (requested_at, received_at))
        return claimed.decision
    pipeline.meter.count("CacheMisses")
    cached = _cached_chunks(known, chunk_keys, marks, pipeline)
    if claimed.decision is Decision.TAKE_OVER:
        _forget_chunks_without_audio_here(job, chunk_keys, cached, pipeline)
    done = {int(index) for index in job.done or ()}
    # Cached chunks not counted into the job yet: plan reports them itself, together (one
    # job write, their events ten to a call). Sent as tasks, each cost the synthesize
    # step a receive, a write and a put or two: in the drill, three quarters of the
    # chunk tasks were such reports, and they held the lanes (issue 17).
    reported_here = [
        index for index, key in enumerate(chunk_keys) if key in cached and index not in done
    ]
    laps.lap("lookup")
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
    # A takeover, or a request that waited on standby for another region (created here
    # now because that region never made its job): the failover's backlog, which waits
    # on the recovery lane so that requests published since are served first (issue 17:
    # most of a drill's interrupted work was such copies, created on the new lanes).
    recovery = claimed.decision is Decision.TAKE_OVER or waited_s > 0
    queued_at, waiting = queue_tasks(
        tasks,
        pipeline,
        delay_s=delay_s,
        recovery=recovery,
        held=ahead.claims if ahead is not None else None,
    )
    laps.lap("queue")
    _mark_dispatched(job, tasks, chunks, pipeline, laps)
    record(
        PLANNED,
        job.request_id,
        cache="miss",
        requested_at=requested_at,
        received_at=received_at,
        queued_at=queued_at,
        plan_s=time.perf_counter() - started,
        chunks=len(chunks),
        queued=len(tasks) - waiting,
        waiting=waiting,
        # Plan's steps (key, read, claim, admit, lookup, queue): where a miss's plan goes.
        **laps.fields(),
    )
    _count_cached_chunks(job, cached, chunk_keys, reported_here, pipeline)
    if not tasks and not reported_here and not waiting:
        assemble(job.request_id, pipeline)  # every chunk done: its old owner did not assemble
    return claimed.decision


def _mark_dispatched(
    job: Job, tasks: list[ChunkTask], chunks: list[str], pipeline: Pipeline, laps: Laps
) -> None:
    """The job's chunk tasks are queued. A long job's texts are put first (the item has
    none: voxflow.store.job_texts), so a redelivery after a failure here puts them again
    and a dispatched job's lost tasks can always be made again."""
    if tasks and job.chunk_texts is None:
        pipeline.audio.put_job_texts(job.request_id, chunks)
        laps.lap("texts")
    pipeline.jobs.mark_dispatched(job)


def _answer_hit(
    pipeline: Pipeline,
    job: Job,
    found: Hit,
    started: float,
    times: tuple[float | None, float],
) -> None:
    """A hit on the general path: finish the claimed job with the cached result.
    ``times``: the request's and its receipt's (epoch seconds)."""
    requested_at, received_at = times
    pipeline.meter.count("CacheHits")
    timings = {"plan_s": time.perf_counter() - started}
    event = completed_event(pipeline, job, found.entry, "hit", timings, marks=found.marks)
    replied_at: list[float] = []
    finish(pipeline, job, event, "hit", on_replied=lambda: replied_at.append(time.time()))
    pipeline.cache.count_hit(found.entry)
    record_hit(
        job.request_id,
        requested_at,
        received_at,
        timings["plan_s"],
        replied_at[0] if replied_at else None,
    )


def _at_once(
    item: ItemRequest,
    job: Job,
    keyed: KeyedRequest,
    marks: RequestMarks | None,
    pipeline: Pipeline,
    *,
    ahead: ReadAhead | None,
    times: tuple[float, float],
    laps: Laps,
) -> bool | None:
    """A hit answered at once (voxflow.pipeline.hit): True if it was; False if it was
    tried and the general path must take the request (``job`` and ``ahead`` are spent);
    None if it is not a hit read ahead. ``times``: plan's start and the receipt."""
    if ahead is None:
        return None
    hit = usable_hit(hit_in(ahead.known, keyed.key, marks.key if marks else None), pipeline)
    if hit is None:
        return None
    started, received_at = times
    return answer_at_once(
        item,
        job,
        hit,
        ahead,
        pipeline,
        billed_chars=keyed.billed_chars,
        started=started,
        received_at=received_at,
        laps=laps,
    )


def _new_job(
    item: ItemRequest, keyed: KeyedRequest, marks: RequestMarks | None, pipeline: Pipeline
) -> Job:
    return pipeline.jobs.new(
        item.request_id,
        tenant=item.tenant,
        voice=keyed.voice.voice_id,
        format=keyed.audio_format.value,
        key=keyed.key,
        sample_rate=keyed.voice.sample_rate,
        output_rate=keyed.output_rate,
        params_json=json.dumps(keyed.resolved.as_dict()),
        chunk_keys=keyed.chunk_keys,
        chunk_count=len(keyed.chunks),
        # For the sweeper: in the item when short, else beside it (voxflow.store.job_texts).
        chunk_texts=keyed.chunks if kept_in_item(keyed.chunks) else None,
        metadata_json=json.dumps(item.metadata),
        reply_to_json=item.reply_to.model_dump_json() if item.reply_to else None,
        batch_id=item.batch_id,
        fingerprint=item_fingerprint(item),
        marks_json=marks.to_json() if marks else None,
    )


def _known(
    ahead: ReadAhead | None, keys: list[str], pipeline: Pipeline
) -> dict[str, CacheEntry] | None:
    """The request's key (and its marks') with its chunks' in one call when they fit one
    BatchGetItem (read ahead already where the claim creates first): a miss makes one read,
    not two, before its chunk tasks are queued. None: too many keys for one call."""
    if ahead is not None:
        return ahead.known
    if len(keys) <= KEYS_PER_CALL:
        return pipeline.cache.lookup_many(keys, consistent=True)
    return None


def _usable_hit(
    known: dict[str, CacheEntry] | None, key: str, marks: RequestMarks | None, pipeline: Pipeline
) -> Hit | None:
    """A hit whose audio (and marks, if asked for) can be served here. Asked for marks, a
    hit needs them too; without, assembly makes them from the chunks."""
    cache = pipeline.cache
    entry = usable(known.get(key) if known is not None else cache.lookup(key), pipeline)
    if entry is None:
        return None
    if marks is None:
        return Hit(entry, None)
    marks_entry = known.get(marks.key) if known is not None else cache.lookup(marks.key)
    marks_hit = usable(marks_entry, pipeline)
    return Hit(entry, marks_hit) if marks_hit is not None else None


def _cached_chunks(
    known: dict[str, CacheEntry] | None,
    chunk_keys: list[str],
    marks: RequestMarks | None,
    pipeline: Pipeline,
) -> dict[str, CacheEntry]:
    """The request's chunks with usable audio here, from what plan read (None: read them)."""
    if known is None:
        known = pipeline.cache.lookup_many(chunk_keys)
    cached = usable_many({k: known[k] for k in chunk_keys if k in known}, pipeline)
    if marks is not None:  # a chunk cached without (current) timings is made again
        cached = {key: entry for key, entry in cached.items() if timing_usable(entry.timing)}
    return cached


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
    if not indices:
        return
    recorded, progress = pipeline.jobs.record_chunks(job.request_id, indices)
    events = []
    for index in recorded:
        entry = cached[chunk_keys[index]]
        url = pipeline.audio.presign(entry.s3_key, entry.content_type)
        events.append(
            ChunkSynthesized(
                request_id=job.request_id,
                index=index,
                count=len(chunk_keys),
                url=url.url,
                expires_at=url.expires_at,
                duration_s=float(entry.duration_s),
            )
        )
    pipeline.publisher.publish_many(events, reply_target(job))
    if progress.complete:
        assemble(job.request_id, pipeline, progress.job)
