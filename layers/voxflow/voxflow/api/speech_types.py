"""What the HTTP API's speech service takes and gives, and the request as the event
contract has it (one validation for both ways in)."""

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

from pydantic import ValidationError

from voxflow.audio import AudioFormat
from voxflow.errors import InvalidParameter
from voxflow.events import ItemRequest
from voxflow.marks import SpeechMark


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
    # Milliseconds on the way to the first piece (key, lookup, admit, engine_first,
    # waited_first, encode_first), filled as they pass: complete once it is out.
    timings_ms: dict[str, float] = field(default_factory=dict)


def item_of(request: SpeechRequest) -> ItemRequest:
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
