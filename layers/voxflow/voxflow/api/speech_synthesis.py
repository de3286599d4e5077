"""A miss in the HTTP API: the request's chunks synthesized here, stored and indexed
under the key the event path computes (voxflow.pipeline.keyed), whole or as they come."""

import time
from collections.abc import Iterable, Iterator

import numpy as np
from numpy.typing import NDArray

from voxflow.api.speech_admission import finish_audit
from voxflow.audio import AudioFormat, PcmJoiner, encode
from voxflow.audit import COMPLETED, FAILED
from voxflow.engine import SpeechChunk, SynthesisParams
from voxflow.errors import VoxflowError
from voxflow.events import ItemRequest
from voxflow.pipeline.assemble import store_request_audio
from voxflow.pipeline.context import Pipeline
from voxflow.pipeline.keyed import KeyedRequest
from voxflow.store import CacheEntry

# Headerless samples: per-chunk pieces at the voice's rate concatenate to exactly the
# whole file's bytes (PcmJoiner's promise), so they stream whatever the caller asked.
HEADERLESS = frozenset({AudioFormat.PCM, AudioFormat.MULAW, AudioFormat.ALAW})
# Per-chunk encodings that still concatenate into one playable stream (MP3's frames are
# self-delimiting; resampling per piece differs from resampling the whole at the seams):
# the same speech, not the cached object's bytes, so only for a caller who asked to
# stream (OpenAI's stream_format sse).
STREAMABLE = HEADERLESS | {AudioFormat.MP3}


def synthesized(
    pipeline: Pipeline, keyed: KeyedRequest
) -> tuple[CacheEntry, bytes, list[SpeechChunk], dict[str, float]]:
    """The request's audio made, stored and indexed; its chunks as the engine made
    them; the milliseconds synthesis and storing took."""
    started = time.perf_counter()
    chunks = list(pipeline.engine.synthesize(keyed.chunks, keyed.voice.voice_id, params(keyed)))
    made_at = time.perf_counter()
    entry, audio = store_request_audio(
        pipeline,
        keyed.key,
        [chunk.pcm for chunk in chunks],
        keyed.voice.sample_rate,
        keyed.audio_format,
        pause_s=keyed.resolved.sentence_pause_s,
        output_rate=keyed.output_rate,
    )
    made = {
        "synthesize": (made_at - started) * 1000,
        "store": (time.perf_counter() - made_at) * 1000,
    }
    return entry, audio, chunks, made


def streamed(
    pipeline: Pipeline,
    item: ItemRequest,
    keyed: KeyedRequest,
    started: float,
    exact: bool,
    *,
    chunks: Iterable[SpeechChunk],
    timings_ms: dict[str, float],
) -> Iterator[bytes]:
    """A miss's audio as each of the engine's ``chunks`` comes (``exact``: see
    SpeechService.stream), stored whole once the last is out; the audit record's terminal
    half at the end. ``timings_ms`` gets the first piece's encoding time."""
    pipeline.meter.count("ApiCacheMisses")
    rate = keyed.voice.sample_rate
    pause_s = keyed.resolved.sentence_pause_s
    if exact:
        per_chunk = keyed.audio_format in HEADERLESS and keyed.output_rate == rate
    else:
        per_chunk = keyed.audio_format in STREAMABLE
    joiner = PcmJoiner(rate, pause_s=pause_s)
    pcm: list[NDArray[np.int16]] = []
    try:
        for chunk in chunks:
            pcm.append(chunk.pcm)
            ready = joiner.feed(chunk.pcm)
            if per_chunk and ready.size:
                encoding = time.perf_counter()
                data = encode(ready, rate, keyed.audio_format, output_rate=keyed.output_rate).data
                timings_ms.setdefault("encode_first", (time.perf_counter() - encoding) * 1000)
                yield data
        tail = joiner.finish()
        if per_chunk and tail.size:
            yield encode(tail, rate, keyed.audio_format, output_rate=keyed.output_rate).data
        _, audio = store_request_audio(
            pipeline,
            keyed.key,
            pcm,
            rate,
            keyed.audio_format,
            pause_s=pause_s,
            output_rate=keyed.output_rate,
        )
    except VoxflowError as error:
        finish_audit(pipeline, item, FAILED, started, code=error.code)
        raise
    if not per_chunk:
        yield audio
    finish_audit(pipeline, item, COMPLETED, started, cache="miss")


def params(keyed: KeyedRequest) -> SynthesisParams:
    return SynthesisParams(
        length_scale=keyed.resolved.length_scale,
        noise_scale=keyed.resolved.noise_scale,
        noise_w=keyed.resolved.noise_w,
    )
