"""Chunks that jobs in flight together share: one job makes each, the others wait on it.

Plan claims the chunks a long job lacks (voxflow.store.claims); a chunk another job has
claimed is not queued again, and the job's lane is chosen by the chunks it makes itself,
so a long text whose other sentences are being made already is one short task. The
maker's synthesize step reports the chunk to the waiters once it is stored and counted;
where the maker will not make it, it hands the waiters' tasks back to the lanes.
"""

import logging

from voxflow.events import ChunkTask
from voxflow.pipeline.assemble import assemble
from voxflow.pipeline.context import Pipeline
from voxflow.pipeline.terminal import chunk_event
from voxflow.store import CacheEntry, ChunkProgress, Job
from voxflow.store.claims import held_elsewhere

logger = logging.getLogger(__name__)


def queue_tasks(
    tasks: list[ChunkTask],
    pipeline: Pipeline,
    *,
    delay_s: int = 0,
    recovery: bool = False,
    held: dict[str, str] | None = None,
) -> tuple[float | None, int]:
    """Queue one job's chunk tasks; returns when the first were queued (None: none were)
    and how many of its chunks wait on another job's claim instead.

    Only a long job's new work that goes out now shares: a short job's few chunks go out
    at once on the short lane, never waiting behind a long lane; recovery work (a
    takeover, the sweeper) is served after new work, and a job its tenant's quota delays
    (``delay_s``) starts later, so a new job must not wait on either. A sharing job's
    first chunk goes out before its claims are written, so its first audio waits for
    no claim (nobody waits on it: another job that needs the same first chunk makes it
    too). A chunk that needs speech marks' timings is made by its own job (a maker may
    not time it). ``held``: the live claims on the job's chunks as plan read them beside
    its cache read (voxflow.pipeline.hit.read_ahead); read here when not given."""
    chunk_queue = pipeline.chunk_queue
    claims = pipeline.chunk_claims
    if claims is None or recovery or delay_s or len(tasks) <= chunk_queue.short_job_chunks:
        return chunk_queue.send(tasks, delay_s=delay_s, recovery=recovery), 0
    first, rest = tasks[:1], tasks[1:]
    untimed = [task for task in rest if not task.timing]
    if held is None:
        held = claims.held([task.chunk_key for task in untimed])
    # The lane the job's own chunks will take, from that read (the writes may move a
    # chunk or two either way): the first goes there before the claims are written.
    to_make = len(tasks) - sum(held_elsewhere(task, held) for task in untimed)
    queued_at = chunk_queue.send(first, job_chunks=to_make)
    made_here = claims.claim_many(untimed, held)
    own = [task for task in rest if task.timing]
    own += [
        task.model_copy(update={"claimed": True})
        for task, mine in zip(untimed, made_here, strict=True)
        if mine
    ]
    chunk_queue.send(own, job_chunks=to_make)
    return queued_at, len(untimed) - sum(made_here)


def report_to_waiters(task: ChunkTask, entry: CacheEntry, pipeline: Pipeline) -> None:
    """``task``'s chunk is stored, indexed and counted into its job: the jobs that waited
    on it count it too. A waiter that cannot be reported is queued again: its own task
    then finds the chunk cached. Of the jobs the chunk completes, this step assembles one
    and queues the others' tasks again, so that each is assembled by a step of its own."""
    if not task.claimed or pipeline.chunk_claims is None:
        return
    completed: list[tuple[ChunkTask, Job | None]] = []
    for waiter in pipeline.chunk_claims.release(task.chunk_key, task.request_id):
        try:
            progress = _report(waiter, entry, pipeline)
        except Exception:
            logger.warning(
                "shared chunk not reported: queued again",
                extra={"request_id": waiter.request_id, "index": waiter.index},
                exc_info=True,
            )
            pipeline.chunk_queue.send([waiter])
            continue
        if progress.complete:
            completed.append((waiter, progress.job))
    if not completed:
        return
    # Assembly joins and encodes a whole text (~1 s of CPU per 150 s of MP3). One after
    # another here, the last of ten long texts that shared a chunk waited 16 s for the
    # nine before it (benchmarks/NOTES.md, session 15); queued again, each is assembled
    # beside the others (its task finds the chunk counted and the job complete).
    *elsewhere, (here, job) = completed
    for waiter, recorded in elsewhere:
        try:
            pipeline.chunk_queue.send([waiter], job_chunks=waiter.count)
        except Exception:
            logger.warning(
                "completed job not handed on: assembled here",
                extra={"request_id": waiter.request_id},
                exc_info=True,
            )
            assemble(waiter.request_id, pipeline, recorded)
    assemble(here.request_id, pipeline, job)


def hand_back(task: ChunkTask, pipeline: Pipeline) -> None:
    """``task``'s job will not make its chunk (the job is over or another region's, or
    the chunk failed for good): the jobs that waited on it queue it themselves."""
    if not task.claimed or pipeline.chunk_claims is None:
        return
    waiters = pipeline.chunk_claims.release(task.chunk_key, task.request_id)
    if waiters:
        pipeline.chunk_queue.send(waiters)


def _report(waiter: ChunkTask, entry: CacheEntry, pipeline: Pipeline) -> ChunkProgress:
    progress = pipeline.jobs.record_chunk(waiter.request_id, waiter.index)
    if progress.newly_recorded:
        event = chunk_event(waiter, entry, pipeline)
        pipeline.publisher.publish(event, waiter.reply_to, reply_first=True)
        pipeline.meter.count("ChunksShared")
    return progress
