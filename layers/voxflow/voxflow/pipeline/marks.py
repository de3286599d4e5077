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
from voxflow.marks.packed import pack, unpack
from voxflow.pipeline.context import Pipeline
from voxflow.pipeline.keyed import KeyedRequest
from voxflow.store import CacheEntry, Job
from voxflow.text import normalize_mapped

# The plan rides on the job item (DynamoDB's 400 KB limit), packed (voxflow.marks.packed):
# under 1 byte a character of English; a text that packs larger than this is refused.
MAX_PACKED_PLAN_BYTES = 250_000


@dataclass(frozen=True)
class RequestMarks:
    key: str
    types: tuple[str, ...]
    plan: MarksPlan
    packed: str  # the plan, packed with the request's original text

    def to_json(self) -> str:
        return json.dumps(
            {"key": self.key, "types": self.types, "plan": self.packed},
            ensure_ascii=False,
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, raw: str) -> "RequestMarks":
        document = json.loads(raw)
        packed = document["plan"]  # or, planned before packing, the plan's JSON
        return cls(document["key"], tuple(document["types"]), unpack(packed), packed)


def plan_request_marks(item: ItemRequest, keyed: KeyedRequest) -> RequestMarks:
    original, types = item.text, list(item.speech_marks)
    if keyed.document is not None:  # SSML, lexicons: offsets into the markup as sent
        plan = plan_speech(keyed.document, keyed.chunks, keyed.chunk_max_chars)
    else:
        mapped = normalize_mapped(original, max_chars=len(original))
        if mapped.text != keyed.text:  # normalize_text is normalize_mapped's text
            raise InvalidParameter("speech marks: the text normalizes two ways")
        plan = plan_marks(original, mapped, keyed.chunks)
    packed = pack(plan, original)
    if len(packed) > MAX_PACKED_PLAN_BYTES:
        raise InvalidParameter(
            f"speech marks: this text's marks plan packs to {len(packed):,} bytes, over the "
            f"{MAX_PACKED_PLAN_BYTES:,} a job can carry; send the text in parts"
        )
    return RequestMarks(marks_key(keyed.key, original, types), tuple(types), plan, packed)


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
