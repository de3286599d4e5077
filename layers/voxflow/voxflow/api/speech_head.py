"""A streamed miss's first chunk, synthesized while its admission finishes.

The cache lookup says miss; the quota charge and the content policy are still to come
(voxflow.api.speech_admission). The engine's first chunk is started on a worker then, so
the first byte waits for the longer of the two instead of their sum. A refused request
discards that one chunk without sending a byte: the waste is bounded by one chunk per
refused request (docs/api.md, "Streaming"). Hits start nothing.
"""

import time
from collections.abc import Generator, Iterator
from concurrent.futures import Future, ThreadPoolExecutor

from voxflow.engine import SpeechChunk

# One request's first chunk at a time per worker; the engine is thread-safe
# (onnxruntime's run is; the phonemizer takes its own lock).
_HEADS = ThreadPoolExecutor(max_workers=2, thread_name_prefix="voxflow-head")


class HeadStart:
    """The engine's chunks of one request, the first already being made on a worker.

    Iterate it once admission has let the request in; ``discard`` it if admission
    refused. ``timings_ms`` gets ``engine_first`` (the first chunk's synthesis) and
    ``waited_first`` (how long the caller still waited for it after admission)."""

    def __init__(self, chunks: Iterator[SpeechChunk], timings_ms: dict[str, float]) -> None:
        self._chunks = chunks
        self._timings_ms = timings_ms
        self._first: Future[SpeechChunk | None] = _HEADS.submit(self._make_first)

    def _make_first(self) -> SpeechChunk | None:
        started = time.perf_counter()
        first = next(self._chunks, None)
        self._timings_ms["engine_first"] = (time.perf_counter() - started) * 1000
        return first

    def __iter__(self) -> Iterator[SpeechChunk]:
        waiting = time.perf_counter()
        first = self._first.result()  # the engine's own error, if it failed
        self._timings_ms["waited_first"] = (time.perf_counter() - waiting) * 1000
        if first is None:
            return
        yield first
        yield from self._chunks

    def discard(self) -> None:
        """Drop the first chunk (made or in the making) and stop the engine there."""
        chunks = self._chunks
        if isinstance(chunks, Generator):
            # A generator cannot be closed while it runs on the worker: close it after.
            self._first.add_done_callback(lambda _: chunks.close())
