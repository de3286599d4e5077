"""Speech for the HTTP API, answered in the request.

A hit reads one cache index item and one object; a miss is synthesized here and stored
under the key the event path computes (voxflow.pipeline.keyed), so either way in finds
what the other made. The event path's controls apply: the audit record, the content
policy and the tenant's quota, before any synthesis (voxflow.api.speech_admission, which
makes the independent calls together). Speech marks: voxflow.api.speech_marks; a miss's
synthesis: voxflow.api.speech_synthesis.
"""

import time
from collections.abc import Iterator
from dataclasses import replace

from voxflow.api.speech_admission import Admitted, admit, finish_audit
from voxflow.api.speech_head import HeadStart
from voxflow.api.speech_marks import marks_answer
from voxflow.api.speech_synthesis import HEADERLESS, STREAMABLE, params, streamed, synthesized
from voxflow.api.speech_types import Speech, SpeechRequest, SpeechStream, item_of
from voxflow.audit import COMPLETED, FAILED
from voxflow.engine import SpeechChunk
from voxflow.errors import TextTooLong, VoxflowError
from voxflow.events import ItemRequest
from voxflow.pipeline.context import Pipeline
from voxflow.pipeline.keyed import KeyedRequest, key_item
from voxflow.pipeline.marks import plan_request_marks

__all__ = ["HEADERLESS", "STREAMABLE", "Speech", "SpeechRequest", "SpeechService", "SpeechStream"]


class SpeechService:
    def __init__(self, pipeline: Pipeline, max_chars: int) -> None:
        """``max_chars``: the longest normalized text synthesized in a request."""
        self.pipeline = pipeline
        self.max_chars = max_chars

    def speak(self, request: SpeechRequest) -> Speech:
        """Raises voxflow's typed errors (Throttled, ContentRejected, UnknownVoice, ...)."""
        started = time.perf_counter()
        item, keyed = self._keyed(request)
        try:
            speech, admitted = self._answer(item, keyed, with_audio=request.marks_with_audio)
        except VoxflowError as error:
            finish_audit(self.pipeline, item, FAILED, started, code=error.code)
            raise
        finish_audit(self.pipeline, item, COMPLETED, started, cache=speech.cache)
        admitted.wait()
        total_ms = (time.perf_counter() - started) * 1000
        return replace(speech, timings_ms={**speech.timings_ms, "total": total_ms})

    def stream(self, request: SpeechRequest, *, exact: bool = True) -> SpeechStream:
        """Like ``speak``, but a miss's audio comes out as each chunk is synthesized.

        ``exact``: the pieces join to the very bytes the cache stores (headerless audio
        at the voice's rate streams per chunk, the rest comes whole once made); False:
        any STREAMABLE format streams per chunk.

        Every refusal (policy, quota, a bad voice or lexicon) is raised here, before the
        first byte; a miss's first chunk is synthesized meanwhile (voxflow.api.speech_head)
        and dropped if refused. ``timings_ms`` of the answer: where the time to its first
        piece went, filled until that piece is made. The full audio is stored under the
        request's key once the last chunk is out, so the next request is a hit either
        way in."""
        started = time.perf_counter()
        item, keyed = self._keyed(request)
        timings: dict[str, float] = {"key": (time.perf_counter() - started) * 1000}
        pipeline = self.pipeline
        try:
            if item.speech_marks:
                speech, admitted = self._answer(item, keyed, with_audio=False)  # JSON lines
            else:
                heads: list[HeadStart] = []
                admitted = self._admit_streamed(item, keyed, heads, timings)
                if keyed.key not in admitted.entries:
                    content_type = keyed.audio_format.media_type(keyed.output_rate)
                    chunks = heads[0] if heads else self._chunks(keyed)
                    pieces = streamed(
                        pipeline, item, keyed, started, exact, chunks=chunks, timings_ms=timings
                    )
                    return SpeechStream(
                        content_type, "miss", keyed.billed_chars, pieces, timings_ms=timings
                    )
                speech = self._hit(item, keyed, admitted)
        except VoxflowError as error:
            finish_audit(pipeline, item, FAILED, started, code=error.code)
            raise
        finish_audit(pipeline, item, COMPLETED, started, cache=speech.cache)
        admitted.wait()
        return SpeechStream(
            speech.content_type, speech.cache, keyed.billed_chars, iter([speech.audio]), timings
        )

    def _admit_streamed(
        self,
        item: ItemRequest,
        keyed: KeyedRequest,
        heads: list[HeadStart],
        timings: dict[str, float],
    ) -> Admitted:
        """``admit``, a miss's first chunk started as soon as the lookup says miss (into
        ``heads``) and discarded, unsent, if the quota or the policy refuse."""

        def start_head() -> None:
            heads.append(HeadStart(self._chunks(keyed), timings))

        admitting = time.perf_counter()
        try:
            admitted = admit(
                item,
                keyed.billed_chars,
                [keyed.key],
                self.pipeline,
                fetch=(keyed.key,),
                on_miss=start_head,
            )
        except Exception:
            for head in heads:
                head.discard()
            raise
        timings["lookup"] = admitted.lookup_ms
        timings["admit"] = (time.perf_counter() - admitting) * 1000
        return admitted

    def _chunks(self, keyed: KeyedRequest) -> Iterator[SpeechChunk]:
        return self.pipeline.engine.synthesize(keyed.chunks, keyed.voice.voice_id, params(keyed))

    def _keyed(self, request: SpeechRequest) -> tuple[ItemRequest, KeyedRequest]:
        item = item_of(request)
        keyed = key_item(item, self.pipeline)
        if keyed.billed_chars > self.max_chars:
            raise TextTooLong(keyed.billed_chars, self.max_chars)
        return item, keyed

    def _answer(
        self, item: ItemRequest, keyed: KeyedRequest, *, with_audio: bool
    ) -> tuple[Speech, Admitted]:
        pipeline = self.pipeline
        if item.speech_marks:
            # The pipeline's own plan: its limits (SSML, lexicons) are this route's too.
            planned = plan_request_marks(item, keyed)
            fetch = (planned.key, keyed.key) if with_audio else (planned.key,)
            keys = [planned.key, keyed.key]
            admitted = admit(item, keyed.billed_chars, keys, pipeline, fetch=fetch)
            return marks_answer(
                pipeline, item, keyed, planned, admitted, with_audio=with_audio
            ), admitted
        admitted = admit(item, keyed.billed_chars, [keyed.key], pipeline, fetch=(keyed.key,))
        lookup = {"lookup": admitted.lookup_ms}
        if keyed.key in admitted.entries:
            return replace(self._hit(item, keyed, admitted), timings_ms=lookup), admitted
        pipeline.meter.count("ApiCacheMisses")
        entry, audio, _, made = synthesized(pipeline, keyed)
        speech = Speech(
            item.request_id,
            audio,
            entry.content_type,
            int(entry.sample_rate),
            "miss",
            keyed.billed_chars,
            timings_ms={**lookup, **made},
        )
        return speech, admitted

    def _hit(self, item: ItemRequest, keyed: KeyedRequest, admitted: Admitted) -> Speech:
        entry = admitted.entries[keyed.key]
        admitted.later(self.pipeline.cache.count_hit, entry)
        self.pipeline.meter.count("ApiCacheHits")
        return Speech(
            item.request_id,
            admitted.audio(keyed.key),
            entry.content_type,
            int(entry.sample_rate),
            "hit",
            keyed.billed_chars,
        )
