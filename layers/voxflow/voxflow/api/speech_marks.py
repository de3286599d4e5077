"""Speech marks in the HTTP API: instead of the audio (Polly's OutputFormat json) or
beside it (``marks_with_audio``, the console's highlighting). Either way they are made
from the chunks synthesized for the audio and stored under the event path's marks key,
so a request with marks is a hit either way in."""

import time

from voxflow.api.speech_admission import Admitted
from voxflow.api.speech_synthesis import synthesized
from voxflow.api.speech_types import Speech
from voxflow.events import ItemRequest
from voxflow.marks import CONTENT_TYPE as MARKS_CONTENT_TYPE
from voxflow.marks import compose, from_json_lines, to_json_lines
from voxflow.marks.speech import timing_of
from voxflow.pipeline.context import Pipeline
from voxflow.pipeline.keyed import KeyedRequest
from voxflow.pipeline.marks import RequestMarks


def marks_answer(
    pipeline: Pipeline,
    item: ItemRequest,
    keyed: KeyedRequest,
    planned: RequestMarks,
    admitted: Admitted,
    *,
    with_audio: bool,
) -> Speech:
    """``admitted`` looked up the marks' key and then the audio's; with ``with_audio``,
    the audio is the answer and the marks ride in ``Speech.marks``."""
    lookup = {"lookup": admitted.lookup_ms}
    entry = admitted.entries.get(planned.key)
    audio_entry = admitted.entries.get(keyed.key)
    if entry is not None and audio_entry is not None:
        admitted.later(pipeline.cache.count_hit, entry)
        pipeline.meter.count("ApiCacheHits")
        data = admitted.audio(planned.key)
        if with_audio:
            admitted.later(pipeline.cache.count_hit, audio_entry)
            return Speech(
                item.request_id,
                admitted.audio(keyed.key),
                audio_entry.content_type,
                int(audio_entry.sample_rate),
                "hit",
                keyed.billed_chars,
                tuple(from_json_lines(data)),
                lookup,
            )
        return Speech(
            item.request_id, data, MARKS_CONTENT_TYPE, 0, "hit", keyed.billed_chars, (), lookup
        )
    pipeline.meter.count("ApiCacheMisses")
    audio_entry, audio, chunks, made = synthesized(pipeline, keyed)
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
        item.request_id, data, MARKS_CONTENT_TYPE, 0, "miss", keyed.billed_chars, (), timings
    )
