"""Speech marks in the pipeline: planned with the request, composed at assembly.

The plan (where each word came from in the text the user sent) rides on the job; each
chunk's timing rides on its cache entry; assembly composes them on the same timeline
as the audio and stores the marks like the audio, under their own key.
"""

import json
from dataclasses import dataclass

from voxflow.errors import InvalidParameter, VoiceLoadError
from voxflow.events import ItemRequest
from voxflow.keys import marks_key
from voxflow.marks import CONTENT_TYPE, ChunkTiming, MarksPlan, compose, plan_marks, to_json_lines
from voxflow.marks.document import plan_speech
from voxflow.pipeline.context import Pipeline
from voxflow.pipeline.keyed import KeyedRequest
from voxflow.store import CacheEntry, Job
from voxflow.text import normalize_mapped

# The plan rides on the job item (DynamoDB's 400 KB limit): a few bytes per character.
MAX_MARKS_CHARS = 20_000


@dataclass(frozen=True)
class RequestMarks:
    key: str
    types: tuple[str, ...]
    plan: MarksPlan

    def to_json(self) -> str:
        return json.dumps(
            {"key": self.key, "types": self.types, "plan": self.plan.to_json()},
            ensure_ascii=False,
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, raw: str) -> "RequestMarks":
        document = json.loads(raw)
        return cls(document["key"], tuple(document["types"]), MarksPlan.from_json(document["plan"]))


def plan_request_marks(item: ItemRequest, keyed: KeyedRequest) -> RequestMarks:
    original, types = item.text, list(item.speech_marks)
    if len(original) > MAX_MARKS_CHARS:
        raise InvalidParameter(
            f"speech marks are made for texts of up to {MAX_MARKS_CHARS} characters"
        )
    if keyed.document is not None:  # SSML, lexicons: offsets into the markup as sent
        plan = plan_speech(keyed.document, keyed.chunks, keyed.chunk_max_chars)
    else:
        mapped = normalize_mapped(original, max_chars=len(original))
        if mapped.text != keyed.text:  # normalize_text is normalize_mapped's text
            raise InvalidParameter("speech marks: the text normalizes two ways")
        plan = plan_marks(original, mapped, keyed.chunks)
    return RequestMarks(marks_key(keyed.key, original, types), tuple(types), plan)


def assemble_marks(
    pipeline: Pipeline,
    job: Job,
    entries: dict[str, CacheEntry],
    pause_s: float,
    duration_s: float,
) -> CacheEntry | None:
    """Compose and store the job's marks; None when it asked for none."""
    if not job.marks_json:
        return None
    request = RequestMarks.from_json(job.marks_json)
    timings = []
    for key in job.chunk_keys:
        entry = entries.get(key)
        if entry is None or not entry.timing:
            raise VoiceLoadError(
                "a chunk has no phoneme timings: speech marks need the voice model's "
                "durations (VOXFLOW_ALIGNMENT on, a model with one Ceil node)"
            )
        timings.append(ChunkTiming.from_json(entry.timing))
    rate = int(job.sample_rate)
    marks = compose(request.plan, timings, rate, pause_s, request.types)  # type: ignore[arg-type]
    data = to_json_lines(marks)
    s3_key = pipeline.audio.marks_object(request.key)
    pipeline.audio.put(s3_key, data, CONTENT_TYPE)
    return pipeline.cache.record(
        request.key,
        kind="request",
        s3_key=s3_key,
        content_type=CONTENT_TYPE,
        audio_format="json",
        sample_rate=rate,
        duration_s=duration_s,
        size=len(data),
    )
