"""The chunks queue: batched synthesis, then per-chunk bookkeeping.

A BatchSynthesis serves one batch of messages, so chunks of one voice and one
set of parameters share inference runs; ``complete_chunk`` runs per message, so
one failing chunk fails only its own message.
"""

import queue
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from voxflow.audio import AudioFormat, encode
from voxflow.engine import SpeechChunk, SynthesisParams
from voxflow.errors import SynthesisError, VoiceLoadError
from voxflow.events import ChunkTask
from voxflow.marks.speech import timing_of
from voxflow.marks.timing import timing_usable
from voxflow.pipeline.assemble import assemble
from voxflow.pipeline.context import Pipeline
from voxflow.pipeline.failures import error_code, fail_job, is_final
from voxflow.pipeline.handover import park, sort_tasks
from voxflow.pipeline.regional import usable_many
from voxflow.pipeline.shared_chunks import hand_back, report_to_waiters
from voxflow.pipeline.terminal import chunk_event
from voxflow.pipeline.timeline import CHUNK_STORED, record
from voxflow.store import CacheEntry

# Chunks synthesized ahead of the one being stored: bounds the memory held.
_AHEAD = 2
# A chunk's cache index write waits until its ChunkSynthesized is out to the client (the
# reply target, else alongside the bus put), then runs alongside the rest of the report:
# one call less before the event. Its object is stored first, so the job may count a
# chunk whose index entry is not written yet: assembly reads the object by the chunk's
# key then (voxflow.pipeline.assemble). Not for chunks with timings, which speech marks
# read from the entry. The chunk's message ends only once the entry is written. boto3
# clients are thread-safe.
_INDEX_WRITES = ThreadPoolExecutor(max_workers=2, thread_name_prefix="voxflow-index")
GroupKey = tuple[str, str, tuple[tuple[str, float], ...]]


@dataclass
class ChunkTimes:
    """Where one chunk's time in this batch went (voxflow.pipeline.timeline)."""

    synthesis_s: float = 0.0
    synthesized_at: float = 0.0  # epoch seconds
    storage_s: float = 0.0  # encode, put to S3 (the index write runs alongside the report)


class BatchSynthesis:
    """The chunk audio of one batch of messages, synthesized as it is asked for.

    Chunks of one voice and one set of parameters share a generator, so the
    engine can batch them; each chunk is stored the moment it comes out, so the
    first chunk's event does not wait for the rest of the batch.
    """

    def __init__(self, tasks: list[ChunkTask], pipeline: Pipeline) -> None:
        self._pipeline = pipeline
        self.received_at = time.time()
        self.times: dict[str, ChunkTimes] = {}
        # Jobs another region owns (parked: looked at again later) or that are over: their
        # chunks are not synthesized here.
        handover = sort_tasks(tasks, pipeline)
        park(tasks, handover, pipeline)
        self.dropped: set[str] = handover.not_here
        tasks = [task for task in tasks if task.request_id not in self.dropped]
        stored = usable_many(
            pipeline.cache.lookup_many([task.chunk_key for task in tasks]), pipeline
        )
        # A request that wants speech marks makes again a chunk cached without timings
        # (or with a timing of an older version that times it otherwise).
        timed = {task.chunk_key for task in tasks if task.timing}
        self.stored: dict[str, CacheEntry] = {
            key: entry
            for key, entry in stored.items()
            if key not in timed or timing_usable(entry.timing)
        }
        self.errors: dict[str, Exception] = {}
        self._unindexed: dict[str, CacheEntry] = {}  # stored, index write not started
        self._indexing: dict[str, Future[None]] = {}
        groups: dict[GroupKey, dict[str, ChunkTask]] = defaultdict(dict)
        for task in tasks:
            if task.chunk_key not in self.stored:
                group = (task.voice, task.model_version, tuple(sorted(task.params.items())))
                groups[group][task.chunk_key] = task  # a chunk repeated in a batch runs once
        self._groups = iter([list(by_key.values()) for by_key in groups.values()])
        self._running: Iterator[tuple[ChunkTask, SpeechChunk]] | None = None
        self._running_keys: list[str] = []
        self._closed = threading.Event()
        # The batch's reads before its first synthesis (ownership, cached chunks).
        self.setup_s = time.time() - self.received_at

    def entry(self, task: ChunkTask) -> CacheEntry:
        """The chunk's cache entry, synthesizing up to it; raises what its synthesis raised."""
        key = task.chunk_key
        while key not in self.stored and key not in self.errors and self._advance():
            pass
        if key in self.errors:
            raise self.errors[key]
        return self.stored[key]

    def index(self, task: ChunkTask) -> None:
        """Start the chunk's index write, if it waits (once for a key repeated in a batch)."""
        entry = self._unindexed.pop(task.chunk_key, None)
        if entry is not None:
            self._indexing[task.chunk_key] = _INDEX_WRITES.submit(_save, entry)

    def indexed(self, task: ChunkTask) -> None:
        """Wait for the chunk's index write (starting it if need be); raises what it
        raised (the message is retried, as when the write was part of the store)."""
        self.index(task)
        writing = self._indexing.get(task.chunk_key)
        if writing is not None:
            writing.result()

    def _advance(self) -> bool:
        """Store one more chunk (or record why its group failed); False when none is left."""
        if self._running is None:
            group = next(self._groups, None)
            if group is None:
                return False
            self._running_keys = [task.chunk_key for task in group]
            self._running = self._synthesize_ahead(group)
        try:
            task, chunk = next(self._running)
        except StopIteration:
            self._running = None
            return True
        except Exception as error:  # each task of the group reports it for its own message
            for key in self._running_keys:
                if key not in self.stored:
                    self.errors[key] = error
            self._running = None
            return True
        self._store(task, chunk)
        return True

    def close(self) -> None:
        """Stop a synthesis thread whose chunks nobody will ask for (an aborted batch)."""
        self._closed.set()

    def _synthesize_ahead(self, tasks: list[ChunkTask]) -> Iterator[tuple[ChunkTask, SpeechChunk]]:
        """The group's chunks, synthesized on a thread while this one stores and reports
        the previous chunk: onnxruntime and the AWS calls both release the GIL."""
        results: queue.Queue[tuple[ChunkTask, SpeechChunk] | Exception | None] = queue.Queue(
            maxsize=_AHEAD
        )

        def offer(item: tuple[ChunkTask, SpeechChunk] | Exception | None) -> bool:
            while not self._closed.is_set():
                try:
                    results.put(item, timeout=0.1)
                except queue.Full:
                    continue
                return True
            return False

        def produce() -> None:
            try:
                for item in self._synthesize(tasks):
                    if not offer(item):
                        return
            except Exception as error:  # handed to the consumer, raised for its tasks
                offer(error)
                return
            offer(None)

        threading.Thread(target=produce, name="voxflow-synthesis", daemon=True).start()
        while (item := results.get()) is not None:
            if isinstance(item, Exception):
                raise item
            yield item

    def _synthesize(self, tasks: list[ChunkTask]) -> Iterator[tuple[ChunkTask, SpeechChunk]]:
        voice = self._pipeline.registry.get(tasks[0].voice, tasks[0].model_version)
        if voice.model_version != tasks[0].model_version:
            raise SynthesisError(
                f"chunk wants model {tasks[0].model_version[:12]} of voice {voice.voice_id!r}; "
                f"this deployment has {voice.model_version[:12]}"
            )
        params = tasks[0].resolved_params()
        synthesis = SynthesisParams(
            length_scale=params.length_scale,
            noise_scale=params.noise_scale,
            noise_w=params.noise_w,
            speaker=params.speaker_id,
        )
        chunks = self._pipeline.engine.synthesize(
            [t.text for t in tasks], voice.voice_id, synthesis
        )
        started = time.perf_counter()
        for task, chunk in zip(tasks, chunks, strict=True):
            elapsed = time.perf_counter() - started
            self.times[task.chunk_key] = ChunkTimes(elapsed, time.time())
            if chunk.duration_s > 0:
                self._pipeline.meter.ratio("RealTimeFactor", elapsed / chunk.duration_s)
            yield task, chunk
            started = time.perf_counter()

    def _store(self, task: ChunkTask, chunk: SpeechChunk) -> None:
        started = time.perf_counter()
        timing = timing_of(chunk).to_json() if chunk.alignment is not None else None
        if task.timing and timing is None:
            self.errors[task.chunk_key] = VoiceLoadError(
                "speech marks need the voice model's phoneme durations (VOXFLOW_ALIGNMENT)"
            )
        self._pipeline.recent.put(task.chunk_key, chunk.pcm)
        encoded = encode(chunk.pcm, chunk.sample_rate, AudioFormat.WAV)
        s3_key = self._pipeline.audio.chunk_object(task.chunk_key)
        self._pipeline.audio.put(s3_key, encoded.data, encoded.content_type)
        entry = self._pipeline.cache.new_entry(
            task.chunk_key,
            kind="chunk",
            s3_key=s3_key,
            content_type=encoded.content_type,
            audio_format=AudioFormat.WAV.value,
            sample_rate=chunk.sample_rate,
            duration_s=chunk.duration_s,
            size=len(encoded.data),
            timing=timing,
        )
        if task.timing:
            entry.save()
        else:
            self._unindexed[task.chunk_key] = entry
        self.stored[task.chunk_key] = entry
        times = self.times.get(task.chunk_key)
        if times is not None:
            times.storage_s = time.perf_counter() - started
        self._pipeline.meter.count("ChunksSynthesized")


def complete_chunk(
    task: ChunkTask, batch: BatchSynthesis, receive_count: int, pipeline: Pipeline
) -> None:
    """Count the chunk into its job; the one that completes the job assembles it."""
    if task.request_id in batch.dropped:
        pipeline.meter.count("ChunksDropped")
        hand_back(task, pipeline)
        return
    try:
        entry = batch.entry(task)
    except Exception as error:
        last_attempt = receive_count >= pipeline.settings.max_receive_count
        if is_final(error) or last_attempt:
            fail_job(
                pipeline,
                task.request_id,
                error_code(error),
                str(error),
                retryable=not is_final(error),
                reply_to=task.reply_to,
            )
            hand_back(task, pipeline)
        if not is_final(error):
            raise
        return
    reporting = time.perf_counter()
    progress = pipeline.jobs.record_chunk(task.request_id, task.index)
    if progress.newly_recorded:
        event = chunk_event(task, entry, pipeline)
        if task.reply_to is None:
            batch.index(task)  # the bus has the client's copy: alongside it
        # Not sent again if the bus put fails (the chunk is recorded by then), as before.
        pipeline.publisher.publish(
            event, task.reply_to, reply_first=True, on_replied=lambda: batch.index(task)
        )
    batch.indexed(task)
    times = batch.times.pop(task.chunk_key, None)  # a chunk repeated in a batch: once
    if times is not None:
        record(
            CHUNK_STORED,
            task.request_id,
            index=task.index,
            count=task.count,
            received_at=batch.received_at,
            setup_s=batch.setup_s,
            synthesis_s=times.synthesis_s,
            synthesized_at=times.synthesized_at,
            storage_s=times.storage_s,
            report_s=time.perf_counter() - reporting,
            reported_at=time.time(),
        )
    if progress.complete:
        assemble(task.request_id, pipeline, progress.job)
    report_to_waiters(task, entry, pipeline)


def _save(entry: CacheEntry) -> None:
    entry.save()
