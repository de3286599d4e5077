"""OpenAI's speech API (POST /v1/audio/speech, GET /v1/models, a voices list) over the
speech service, with OpenAI's error shape. Which fields are honoured: docs/api.md.

Two fields of voxflow's own, which OpenAI's clients never send (the web console does):
``voxflow_text_type`` ("text" or "ssml") and ``voxflow_marks`` (Polly's mark types),
which turns the answer into JSON: the audio in base64, its type and the marks."""

import base64
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from voxflow.api.speech import Speech, SpeechRequest
from voxflow.audio import AudioFormat
from voxflow.errors import (
    InvalidInput,
    InvalidParameter,
    TextTooLong,
    Throttled,
    UnknownVoice,
    VoiceDisabled,
    VoxflowError,
)
from voxflow.marks import parse_mark_types
from voxflow.voices import VoiceRegistry

MAX_INPUT_CHARS = 4096
PCM_RATE = 24000  # OpenAI's pcm: 24 kHz 16-bit little-endian mono
SPEED_LIMITS = (0.25, 4.0)
TEXT_TYPES = ("text", "ssml")
# OpenAI's own voice names, all spoken by the default voice: a client's voice choice
# still works unchanged. Models likewise: any name is the deployment's voice set.
OPENAI_VOICES = (
    "alloy",
    "ash",
    "ballad",
    "cedar",
    "coral",
    "echo",
    "fable",
    "marin",
    "nova",
    "onyx",
    "sage",
    "shimmer",
    "verse",
)
STREAM_FORMATS = ("audio", "sse")
SSE_CONTENT_TYPE = "text/event-stream"
MODELS = ("tts-1", "tts-1-hd", "gpt-4o-mini-tts")
VOICE_OWNER = "voxflow-voice"  # /v1/models' owned_by of the deployment's voices
_FORMATS = {
    "mp3": (AudioFormat.MP3, "audio/mpeg"),
    "opus": (AudioFormat.OPUS, "audio/ogg; codecs=opus"),
    "flac": (AudioFormat.FLAC, "audio/flac"),
    "wav": (AudioFormat.WAV, "audio/wav"),
    "pcm": (AudioFormat.PCM, "audio/pcm"),
}


class OpenAIError(Exception):
    """``{"error": {"message", "type", "param", "code"}}`` with its status."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code

    def document(self) -> dict[str, Any]:
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }


@dataclass(frozen=True)
class OpenAISpeech:
    request: SpeechRequest
    response_format: str
    stream_format: str = "audio"
    with_marks: bool = False  # answer JSON: audio_b64, content_type, marks


def parse_speech(
    body: bytes, tenant: str, registry: VoiceRegistry, default_voice: str
) -> OpenAISpeech:
    fields = _object(body)
    _required_string(fields, "model")
    text = _required_string(fields, "input")
    if len(text) > MAX_INPUT_CHARS:
        raise _invalid("input", f"input is {len(text)} characters; at most {MAX_INPUT_CHARS}")
    voice = _voice(fields.get("voice"), registry, default_voice)
    response_format = fields.get("response_format", "mp3")
    if response_format == "aac":
        raise _invalid(
            "response_format",
            "aac is not offered: this deployment has no AAC encoder it may ship; "
            "use mp3, opus, flac, wav or pcm",
            code="unsupported_value",
        )
    if response_format not in _FORMATS:
        raise _invalid("response_format", "response_format must be one of " + ", ".join(_FORMATS))
    speed = fields.get("speed", 1.0)
    low, high = SPEED_LIMITS
    if isinstance(speed, bool) or not isinstance(speed, int | float) or not low <= speed <= high:
        raise _invalid("speed", f"speed must be a number from {low} to {high}")
    stream_format = fields.get("stream_format", "audio")
    if stream_format not in STREAM_FORMATS:
        raise _invalid("stream_format", "stream_format must be audio or sse")
    text_type = fields.get("voxflow_text_type", "text")
    if text_type not in TEXT_TYPES:
        raise _invalid("voxflow_text_type", "voxflow_text_type must be text or ssml")
    marks = _marks(fields.get("voxflow_marks"))
    if marks is not None and stream_format != "audio":
        raise _invalid("voxflow_marks", "voxflow_marks answer JSON: use stream_format audio")
    audio_format, _ = _FORMATS[response_format]
    # length_scale is the inverse of the speaking rate.
    length_scale = None if speed == 1.0 else 1.0 / float(speed)
    rate = PCM_RATE if response_format == "pcm" else None
    return OpenAISpeech(
        SpeechRequest(
            tenant,
            text,
            voice,
            audio_format,
            length_scale=length_scale,
            sample_rate=rate,
            text_type=text_type,
            speech_marks=marks or (),
            marks_with_audio=marks is not None,
        ),
        response_format,
        stream_format,
        with_marks=marks is not None,
    )


def speech_response(speech: Speech, parsed: OpenAISpeech) -> tuple[bytes | str, str]:
    """The whole body at once (API Gateway's buffered answer): the audio, or its SSE
    events in one piece, or (voxflow_marks) JSON as text, which the resolver sends as
    it is (bytes it would try to serialize as JSON)."""
    if parsed.with_marks:
        document = {
            "audio_b64": base64.b64encode(speech.audio).decode("ascii"),
            "content_type": content_type_of(parsed),
            "marks": [mark.as_dict() for mark in speech.marks],
        }
        return json.dumps(document, ensure_ascii=False), "application/json"
    if parsed.stream_format == "sse":
        return b"".join(sse_events([speech.audio], parsed)), SSE_CONTENT_TYPE
    return speech.audio, content_type_of(parsed)


def sse_events(pieces: Iterable[bytes], parsed: OpenAISpeech) -> Iterator[bytes]:
    """OpenAI's speech SSE: a ``speech.audio.delta`` per piece of audio (base64), then
    ``speech.audio.done`` with usage (input characters: this API bills characters)."""
    for piece in pieces:
        if piece:
            yield _event({"type": "speech.audio.delta", "audio": base64.b64encode(piece).decode()})
    characters = len(parsed.request.text)
    usage = {"input_tokens": characters, "output_tokens": 0, "total_tokens": characters}
    yield _event({"type": "speech.audio.done", "usage": usage})


def _event(document: dict[str, Any]) -> bytes:
    return f"data: {json.dumps(document, separators=(',', ':'))}\n\n".encode()


def content_type_of(parsed: OpenAISpeech) -> str:
    if parsed.stream_format == "sse":
        return SSE_CONTENT_TYPE
    return _FORMATS[parsed.response_format][1]


def models(registry: VoiceRegistry) -> dict[str, Any]:
    """OpenAI's model names, then the deployment's voices (the catalog's enabled ones
    included) as models owned by ``voxflow-voice``: clients that only enumerate models
    see what ``voice`` may name. ``model`` itself selects nothing."""
    return {
        "object": "list",
        "data": [
            *(
                {"id": model, "object": "model", "created": 0, "owned_by": "voxflow"}
                for model in MODELS
            ),
            *(
                {"id": voice.voice_id, "object": "model", "created": 0, "owned_by": VOICE_OWNER}
                for voice in registry.listed()
            ),
        ],
    }


def voices(registry: VoiceRegistry) -> dict[str, Any]:
    return {"voices": [*(voice.voice_id for voice in registry.listed()), *OPENAI_VOICES]}


def error_of(error: VoxflowError) -> OpenAIError:
    """voxflow's typed errors as OpenAI's; messages never quote the input."""
    if isinstance(error, Throttled):
        return OpenAIError(429, str(error), type="rate_limit_error", code="rate_limit_exceeded")
    if isinstance(error, TextTooLong):
        return _invalid("input", str(error))
    if isinstance(error, InvalidInput):
        return OpenAIError(400, str(error), code=error.code.lower())
    return OpenAIError(500, f"synthesis failed ({error.code})", type="server_error")


def _marks(value: object) -> tuple[str, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise _invalid("voxflow_marks", "voxflow_marks must be a non-empty list of mark types")
    try:
        return parse_mark_types(value)
    except InvalidParameter as error:
        raise _invalid("voxflow_marks", str(error)) from None


def _object(body: bytes) -> dict[str, Any]:
    try:
        document = json.loads(body or b"")
    except (ValueError, RecursionError):
        raise OpenAIError(400, "the request body is not valid JSON") from None
    if not isinstance(document, dict):
        raise OpenAIError(400, "the request body must be a JSON object")
    return document


def _invalid(param: str, message: str, code: str | None = None) -> OpenAIError:
    return OpenAIError(400, message, param=param, code=code)


def _required_string(fields: dict[str, Any], name: str) -> str:
    value = fields.get(name)
    if not isinstance(value, str) or not value:
        raise _invalid(name, f"{name} is required and must be a non-empty string")
    return value


def _voice(value: object, registry: VoiceRegistry, default_voice: str) -> str:
    if isinstance(value, dict):  # newer clients send {"id": ...}
        value = value.get("id")
    if not isinstance(value, str):
        raise _invalid("voice", "voice is required and must be a string")
    if value in registry:
        return value
    try:
        # A catalog voice, enabled now (its entry cached for VOXFLOW_VOICE_CATALOG_TTL_S);
        # an operator's voice named like one of OpenAI's is the operator's.
        return registry.resolve(value).voice_id
    except VoiceDisabled:
        raise _invalid("voice", f"voice {value} is disabled", code="voice_disabled") from None
    except UnknownVoice:
        pass
    if value.lower() in OPENAI_VOICES:
        return default_voice
    raise _invalid("voice", "voice must be one of " + ", ".join(voices(registry)["voices"]))
