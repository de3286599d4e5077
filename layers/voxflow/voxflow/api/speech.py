"""Speech for the HTTP API, answered in the request.

A hit reads one cache index item and one object; a miss is synthesized here and stored
under the key the event path computes (voxflow.pipeline.keyed), so either way in finds
what the other made. The event path's controls apply: the audit record, the content
policy and the tenant's quota, before any synthesis.

Speech marks come instead of the audio (Polly's OutputFormat json) or beside it
(``marks_with_audio``, the console's highlighting); either way they are made from the
chunks synthesized for the audio and stored under the event path's marks key.
"""

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

import numpy as np
from numpy.typing import NDArray
from pydantic import ValidationError

from voxflow.audio import AudioFormat, PcmJoiner, encode
from voxflow.audit import COMPLETED, FAILED
from voxflow.engine import SpeechChunk, SynthesisParams
from voxflow.errors import InvalidParameter, TextTooLong, VoxflowError
from voxflow.events import ItemRequest
from voxflow.marks import CONTENT_TYPE as MARKS_CONTENT_TYPE
from voxflow.marks import SpeechMark, compose, from_json_lines, to_json_lines
from voxflow.marks.speech import timing_of
from voxflow.pipeline.assemble import store_request_audio
from voxflow.pipeline.context import Pipeline
from voxflow.pipeline.keyed import KeyedRequest, key_item
from voxflow.pipeline.marks import plan_request_marks
from voxflow.pipeline.regional import usable
from voxflow.store import CacheEntry

# Headerless samples: per-chunk pieces at the voice's rate concatenate to exactly the
# whole file's bytes (PcmJoiner's promise), so they stream whatever the caller asked.
HEADERLESS = frozenset({AudioFormat.PCM, AudioFormat.MULAW, AudioFormat.ALAW})
# Per-chunk encodings that still concatenate into one playable stream (MP3's frames are
# self-delimiting; resampling per piece differs from resampling the whole at the seams):
# the same speech, not the cached object's bytes, so only for a caller who asked to
# stream (OpenAI's stream_format sse).
STREAMABLE = HEADERLESS | {AudioFormat.MP3}


@dataclass(frozen=True)
class SpeechRequest:
    tenant: str
    text: str
    voice: str
    audio_format: AudioFormat
    length_scale: float | None = None
    sample_rate: int | None = None  # None: the format's default
    text_type: str = "text"  # or "ssml": the event contract's field
    lexicons: tuple[str, ...] = ()  # stored lexicons, applied in this order
    # Speech marks instead of audio (Polly's OutputFormat json): the types wanted.
    speech_marks: tuple[str, ...] = ()
    # With speech_marks: the audio as the answer, the marks beside it in Speech.marks.
    marks_with_audio: bool = False


@dataclass(frozen=True)
class Speech:
    request_id: str
    audio: bytes
    content_type: str
    sample_rate: int
    cache: str  # "hit" or "miss"
    spoken_chars: int
    marks: tuple[SpeechMark, ...] = ()  # asked for beside the audio
    # Where the time went, in milliseconds: lookup, synthesize and store (a miss), total.
    timings_ms: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class SpeechStream:
    content_type: str
    cache: str  # "hit" or "miss"
    spoken_chars: int
    pieces: Iterator[bytes]  # the body, in order; a miss's as chunks are synthesized


class SpeechService:
    def __init__(self, pipeline: Pipeline, max_chars: int) -> None:
        """``max_chars``: the longest normalized text synthesized in a request."""
        self.pipeline = pipeline
        self.max_chars = max_chars

    def speak(self, request: SpeechRequest) -> Speech:
        """Raises voxflow's typed errors (Throttled, ContentRejected, UnknownVoice, ...)."""
        started = time.perf_counter()
        item = _item(request)
        keyed = key_item(item, self.pipeline)
        if keyed.billed_chars > self.max_chars:
            raise TextTooLong(keyed.billed_chars, self.max_chars)
        controls = self.pipeline.controls
        controls.record_received(item)
        try:
            self._admit(item, keyed)
            speech = self._answer(item, keyed, with_audio=request.marks_with_audio)
        except VoxflowError as error:
            self._finished(item, FAILED, started, code=error.code)
            raise
        self._finished(item, COMPLETED, started, cache=speech.cache)
        total_ms = (time.perf_counter() - started) * 1000
        return replace(speech, timings_ms={**speech.timings_ms, "total": total_ms})

    def stream(self, request: SpeechRequest, *, exact: bool = True) -> SpeechStream:
        """Like ``speak``, but a miss's audio comes out as each chunk is synthesized.

        ``exact``: the pieces join to the very bytes the cache stores (headerless audio
        at the voice's rate streams per chunk, the rest comes whole once made); False:
        any STREAMABLE format streams per chunk.

        Every refusal (policy, quota, a bad voice or lexicon) is raised here, before the
        first byte; the full audio is stored under the request's key once the last chunk
        is out, so the next request is a hit either way in."""
        started = time.perf_counter()
        item = _item(request)
        keyed = key_item(item, self.pipeline)
        if keyed.billed_chars > self.max_chars:
            raise TextTooLong(keyed.billed_chars, self.max_chars)
        self.pipeline.controls.record_received(item)
        try:
            self._admit(item, keyed)
            if not item.speech_marks:
                entry = usable(self.pipeline.cache.lookup(keyed.key), self.pipeline)
                if entry is not None:
                    speech = self._hit(item, keyed, entry)
                    self._finished(item, COMPLETED, started, cache="hit")
                    return SpeechStream(
                        speech.content_type, "hit", keyed.billed_chars, iter([speech.audio])
                    )
                content_type = keyed.audio_format.media_type(keyed.output_rate)
                pieces = self._streamed(item, keyed, started, exact)
                return SpeechStream(content_type, "miss", keyed.billed_chars, pieces)
            speech = self._answer(item, keyed, with_audio=False)  # marks: JSON lines
        except VoxflowError as error:
            self._finished(item, FAILED, started, code=error.code)
            raise
        self._finished(item, COMPLETED, started, cache=speech.cache)
        return SpeechStream(
            speech.content_type, speech.cache, keyed.billed_chars, iter([speech.audio])
        )

    def _streamed(
        self, item: ItemRequest, keyed: KeyedRequest, started: float, exact: bool
    ) -> Iterator[bytes]:
        pipeline = self.pipeline
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
            for chunk in pipeline.engine.synthesize(
                keyed.chunks, keyed.voice.voice_id, _params(keyed)
            ):
                pcm.append(chunk.pcm)
                ready = joiner.feed(chunk.pcm)
                if per_chunk and ready.size:
                    yield encode(
                        ready, rate, keyed.audio_format, output_rate=keyed.output_rate
                    ).data
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
            self._finished(item, FAILED, started, code=error.code)
            raise
        if not per_chunk:
            yield audio
        self._finished(item, COMPLETED, started, cache="miss")

    def _admit(self, item: ItemRequest, keyed: KeyedRequest) -> None:
        controls = self.pipeline.controls
        if controls.policy is not None:
            controls.policy.check(item.text, item.tenant).raise_if_rejected()
        if controls.quotas is not None:
            grant = controls.quotas.take(item.tenant, keyed.billed_chars)
            # Delay mode: the event path delays the chunk tasks; a caller waiting on
            # the line is delayed the same (the wait is capped by the quota's setting).
            time.sleep(grant.wait_s)

    def _hit(self, item: ItemRequest, keyed: KeyedRequest, entry: CacheEntry) -> Speech:
        pipeline = self.pipeline
        audio = pipeline.audio.get(entry.s3_key)
        pipeline.cache.count_hit(entry)
        pipeline.meter.count("ApiCacheHits")
        return Speech(
            item.request_id,
            audio,
            entry.content_type,
            int(entry.sample_rate),
            "hit",
            keyed.billed_chars,
        )

    def _answer(self, item: ItemRequest, keyed: KeyedRequest, *, with_audio: bool) -> Speech:
        pipeline = self.pipeline
        if item.speech_marks:
            return self._marks(item, keyed, with_audio)
        lookup_started = time.perf_counter()
        entry = usable(pipeline.cache.lookup(keyed.key), pipeline)
        lookup = {"lookup": (time.perf_counter() - lookup_started) * 1000}
        if entry is not None:
            return replace(self._hit(item, keyed, entry), timings_ms=lookup)
        pipeline.meter.count("ApiCacheMisses")
        entry, audio, _, made = self._synthesized(keyed)
        return Speech(
            item.request_id,
            audio,
            entry.content_type,
            int(entry.sample_rate),
            "miss",
            keyed.billed_chars,
            timings_ms={**lookup, **made},
        )

    def _marks(self, item: ItemRequest, keyed: KeyedRequest, with_audio: bool) -> Speech:
        """The request's speech marks, stored under the key the event path gives them
        (its audio beside them), so a request with marks is a hit either way in; with
        ``with_audio``, the audio is the answer and the marks ride in ``Speech.marks``."""
        pipeline = self.pipeline
        lookup_started = time.perf_counter()
        # The pipeline's own plan: its limits (SSML, lexicons) are this route's too.
        planned = plan_request_marks(item, keyed)
        entry = usable(pipeline.cache.lookup(planned.key), pipeline)
        audio_entry = usable(pipeline.cache.lookup(keyed.key), pipeline)
        lookup = {"lookup": (time.perf_counter() - lookup_started) * 1000}
        if entry is not None and audio_entry is not None:
            pipeline.cache.count_hit(entry)
            data = pipeline.audio.get(entry.s3_key)
            if with_audio:  # the audio's hit counted (ApiCacheHits once) by _hit
                hit = self._hit(item, keyed, audio_entry)
                return replace(hit, marks=tuple(from_json_lines(data)), timings_ms=lookup)
            pipeline.meter.count("ApiCacheHits")
            return Speech(
                item.request_id,
                data,
                MARKS_CONTENT_TYPE,
                0,
                "hit",
                keyed.billed_chars,
                timings_ms=lookup,
            )
        pipeline.meter.count("ApiCacheMisses")
        audio_entry, audio, chunks, made = self._synthesized(keyed)
        store_started = time.perf_counter()
        marks = compose(
            planned.plan,
            [timing_of(chunk) for chunk in chunks],
            keyed.voice.sample_rate,
            keyed.resolved.sentence_pause_s,
            planned.types,  # type: ignore[arg-type]  # checked by the event contract
        )
        data = to_json_lines(marks)
        s3_key = pipeline.audio.marks_object(planned.key)
        pipeline.audio.put(s3_key, data, MARKS_CONTENT_TYPE)
        pipeline.cache.record(
            planned.key,
            kind="request",
            s3_key=s3_key,
            content_type=MARKS_CONTENT_TYPE,
            audio_format="json",
            sample_rate=keyed.voice.sample_rate,
            duration_s=float(audio_entry.duration_s),
            size=len(data),
        )
        made["store"] += (time.perf_counter() - store_started) * 1000
        timings = {**lookup, **made}
        if with_audio:
            return Speech(
                item.request_id,
                audio,
                audio_entry.content_type,
                int(audio_entry.sample_rate),
                "miss",
                keyed.billed_chars,
                tuple(marks),
                timings,
            )
        return Speech(
            item.request_id,
            data,
            MARKS_CONTENT_TYPE,
            0,
            "miss",
            keyed.billed_chars,
            timings_ms=timings,
        )

    def _synthesized(
        self, keyed: KeyedRequest
    ) -> tuple[CacheEntry, bytes, list[SpeechChunk], dict[str, float]]:
        """The request's audio made, stored and indexed; its chunks as the engine made
        them; the milliseconds synthesis and storing took."""
        pipeline = self.pipeline
        started = time.perf_counter()
        chunks = list(
            pipeline.engine.synthesize(keyed.chunks, keyed.voice.voice_id, _params(keyed))
        )
        synthesized = time.perf_counter()
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
            "synthesize": (synthesized - started) * 1000,
            "store": (time.perf_counter() - synthesized) * 1000,
        }
        return entry, audio, chunks, made

    def _finished(
        self,
        item: ItemRequest,
        status: str,
        started: float,
        *,
        cache: str | None = None,
        code: str | None = None,
    ) -> None:
        audit = self.pipeline.controls.audit
        if audit is None:
            return
        audit.finished(
            item.request_id,
            tenant=item.tenant,
            status=status,
            region=self.pipeline.settings.region_name,
            timings={"total_s": time.perf_counter() - started},
            code=code,
            cache=cache,
        )


def _params(keyed: KeyedRequest) -> SynthesisParams:
    return SynthesisParams(
        length_scale=keyed.resolved.length_scale,
        noise_scale=keyed.resolved.noise_scale,
        noise_w=keyed.resolved.noise_w,
    )


def _item(request: SpeechRequest) -> ItemRequest:
    """The request as the event contract has it: one validation for both ways in."""
    try:
        return ItemRequest.model_validate(
            {
                "request_id": f"api-{uuid.uuid4().hex}",
                "tenant": request.tenant,
                "reply_to": None,
                "text": request.text,
                "text_type": request.text_type,
                "voice": request.voice,
                "format": request.audio_format,
                "sample_rate": request.sample_rate,
                "params": {"length_scale": request.length_scale},
                "metadata": {},
                "batch_id": None,
                "lexicons": list(request.lexicons),
                "speech_marks": list(request.speech_marks),
            }
        )
    except ValidationError as error:
        # Field names and the rule broken, never the value: it may be the text.
        problems = "; ".join(
            f"{'.'.join(str(part) for part in e['loc'])}: {e['msg']}" for e in error.errors()
        )
        raise InvalidParameter(problems) from None
