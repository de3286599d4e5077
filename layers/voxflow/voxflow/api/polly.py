"""Polly's SynthesizeSpeech and DescribeVoices over the speech service: Polly's field
names, limits and errors (voxflow.api.polly_contract), validated here where botocore
validates nothing (unknown voices, formats and lexicon counts all reach the server)."""

import json
from dataclasses import dataclass
from typing import Any

from voxflow.api.polly_contract import PollyContract
from voxflow.api.speech import Speech, SpeechRequest
from voxflow.audio import AudioFormat
from voxflow.errors import (
    ContentRejected,
    InvalidInput,
    InvalidSsml,
    LexiconNotFound,
    TextTooLong,
    Throttled,
    UnknownVoice,
    VoiceDisabled,
    VoxflowError,
)
from voxflow.lexicons import NAME_PATTERN
from voxflow.marks.model import CONTENT_TYPE as MARKS_CONTENT_TYPE
from voxflow.voices import Voice, VoiceRegistry

MAX_BILLED_CHARS = 3000
MAX_TOTAL_CHARS = 6000
_SERVED_ENGINES = ("neural", "standard")  # both are the voice itself
_FORMATS = {
    "mp3": (AudioFormat.MP3, "audio/mpeg"),
    "ogg_vorbis": (AudioFormat.OGG, "audio/ogg"),
    "ogg_opus": (AudioFormat.OPUS, "audio/ogg"),
    "pcm": (AudioFormat.PCM, "audio/pcm"),
}
# Polly's rates by format (its SampleRate documentation); pcm also at the voice's own
# rate, the one rate served without resampling.
_RATES = {
    "mp3": (8000, 16000, 22050, 24000, 44100, 48000),
    "ogg_vorbis": (8000, 16000, 22050, 24000, 44100, 48000),
    "ogg_opus": (48000,),
    "pcm": (8000, 16000),
}
_PCM_DEFAULT_RATE = 16000  # Polly's; the other formats' defaults are the voice's own


class PollyError(Exception):
    """An error as Polly sends it: the status, ``x-amzn-ErrorType`` and ``{"message"}``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class PollySynthesis:
    request: SpeechRequest
    output_format: str
    billed_chars: int


def parse_synthesize(
    body: bytes,
    tenant: str,
    contract: PollyContract,
    registry: VoiceRegistry,
    *,
    operation: str = "SynthesizeSpeech",
    max_billed: int = MAX_BILLED_CHARS,
    max_total: int = MAX_TOTAL_CHARS,
) -> PollySynthesis:
    """``max_billed``/``max_total``: the operation's text limits (a synthesis task's
    are larger)."""
    fields = parse_object(body)
    text = string_field(fields, "Text", required=True)
    voice_id = string_field(fields, "VoiceId", required=True)
    output_format = _enum(fields, "OutputFormat", contract.output_formats, required=True)
    text_type = _enum(fields, "TextType", contract.text_types) or "text"
    engine = _enum(fields, "Engine", contract.engines)
    if engine is not None and engine not in _SERVED_ENGINES:
        raise PollyError("EngineNotSupportedException", f"engine {engine} is not served here")
    voice = _voice(registry, voice_id)
    language = string_field(fields, "LanguageCode")
    if language is not None and language != voice.language:
        raise PollyError(
            "LanguageNotSupportedException",
            f"voice {voice_id} speaks {voice.language}, not {language}",
        )
    lexicons = _lexicon_names(_string_list(fields, "LexiconNames", contract.max_lexicons))
    marks = _string_list(fields, "SpeechMarkTypes", contract.max_speech_mark_types)
    for mark in marks:
        if mark not in contract.speech_mark_types:
            raise invalid(
                "speechMarkTypes", "must be one of " + ", ".join(sorted(contract.speech_mark_types))
            )
    if marks and output_format != "json":
        raise PollyError(
            "MarksNotSupportedForFormatException", "speech marks need OutputFormat json"
        )
    if "ssml" in marks and text_type != "ssml":
        raise PollyError(
            "SsmlMarksNotSupportedForTextTypeException", "ssml marks need TextType ssml"
        )
    if len(text) > max_total or len(text) > max_billed:
        raise PollyError(
            "TextLengthExceededException",
            f"the text is {len(text)} characters; {operation} takes at most "
            f"{max_billed} billed characters ({max_total} in all)",
        )
    if output_format == "json" and not marks:
        raise invalid("speechMarkTypes", "OutputFormat json needs SpeechMarkTypes")
    # Marks are keyed beside the mp3 at the voice's rate: an event request for mp3 with
    # the same marks shares them.
    audio_format, _ = _FORMATS["mp3" if output_format == "json" else output_format]
    sample_rate = (
        None if output_format == "json" else _sample_rate(fields, output_format, voice.sample_rate)
    )
    return PollySynthesis(
        SpeechRequest(
            tenant,
            text,
            voice.voice_id,
            audio_format,
            sample_rate=sample_rate,
            text_type=text_type,
            lexicons=lexicons,
            speech_marks=tuple(marks),
        ),
        output_format,
        len(text),
    )


def synthesize_response(speech: Speech, synthesis: PollySynthesis) -> tuple[bytes, dict[str, str]]:
    """The body (AudioStream) and headers of SynthesizeSpeech's answer."""
    return speech.audio, response_headers(synthesis, speech.spoken_chars)


def response_headers(synthesis: PollySynthesis, spoken_chars: int) -> dict[str, str]:
    content_type = (
        MARKS_CONTENT_TYPE
        if synthesis.output_format == "json"
        else _FORMATS[synthesis.output_format][1]
    )
    return {
        "Content-Type": content_type,
        # SSML bills its spoken characters (tags are free), known once the core parsed it.
        "x-amzn-RequestCharacters": str(
            spoken_chars if synthesis.request.text_type == "ssml" else synthesis.billed_chars
        ),
    }


def describe_voices(
    registry: VoiceRegistry, contract: PollyContract, query: dict[str, str]
) -> dict[str, Any]:
    engine = query.get("Engine")
    if engine is not None and engine not in contract.engines:
        raise invalid("engine", "must be one of " + ", ".join(sorted(contract.engines)))
    language = query.get("LanguageCode")
    voices = [
        {
            "Id": voice.voice_id,
            "Name": voice.voice_id,
            "LanguageCode": voice.language,
            "LanguageName": voice.description,
            "AdditionalLanguageCodes": [],
            "SupportedEngines": list(_SERVED_ENGINES),
        }
        # The built-in voices and the catalog's enabled ones, added at run time included.
        for voice in registry.listed()
        if (engine is None or engine in _SERVED_ENGINES)
        and (language is None or language == voice.language)
    ]
    return {"Voices": voices}


def error_of(error: VoxflowError) -> PollyError:
    """voxflow's typed errors as Polly's; messages never quote the text."""
    if isinstance(error, Throttled):
        return PollyError("ThrottlingException", str(error))
    if isinstance(error, TextTooLong):
        return PollyError("TextLengthExceededException", str(error))
    if isinstance(error, InvalidSsml):
        return PollyError("InvalidSsmlException", str(error))
    if isinstance(error, LexiconNotFound):
        return PollyError("LexiconNotFoundException", f"lexicon {error.name} not found")
    if isinstance(error, UnknownVoice | ContentRejected | InvalidInput):
        return PollyError("ValidationException", str(error))
    return PollyError("ServiceFailureException", f"synthesis failed ({error.code})")


def parse_object(body: bytes) -> dict[str, Any]:
    try:
        document = json.loads(body or b"{}")
    except (ValueError, RecursionError):
        raise PollyError("SerializationException", "the request body is not JSON") from None
    if not isinstance(document, dict):
        raise PollyError("SerializationException", "the request body must be a JSON object")
    return document


def invalid(field: str, rule: str) -> PollyError:
    return PollyError(
        "ValidationException",
        f"1 validation error detected: Value at '{field}' failed to satisfy constraint: {rule}",
    )


def string_field(fields: dict[str, Any], name: str, *, required: bool = False) -> Any:
    value = fields.get(name)
    if value is None:
        if required:
            raise invalid(_camel(name), "Member must not be null")
        return None
    if not isinstance(value, str):
        raise invalid(_camel(name), "Member must be a string")
    if required and not value:
        raise invalid(_camel(name), "Member must not be empty")
    return value


def _enum(
    fields: dict[str, Any], name: str, allowed: frozenset[str], *, required: bool = False
) -> Any:
    value = string_field(fields, name, required=required)
    if value is not None and value not in allowed:
        raise invalid(
            _camel(name), "Member must satisfy enum value set: " + ", ".join(sorted(allowed))
        )
    return value


def _string_list(fields: dict[str, Any], name: str, most: int) -> list[str]:
    value = fields.get(name)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise invalid(_camel(name), "Member must be a list of strings")
    if len(value) > most:
        raise invalid(_camel(name), f"Member must have length less than or equal to {most}")
    return value


def _voice(registry: VoiceRegistry, voice_id: str) -> Voice:
    """The voice a new request may use: built in, or enabled in the catalog now."""
    try:
        return registry.resolve(voice_id)
    except VoiceDisabled:
        raise invalid(
            "voiceId", f"Member must be an enabled voice ({voice_id} is disabled)"
        ) from None
    except UnknownVoice:
        known = ", ".join(voice.voice_id for voice in registry.listed())
        raise invalid("voiceId", f"Member must be a voice of this deployment ({known})") from None


def _lexicon_names(names: list[str]) -> tuple[str, ...]:
    """Well-formed names, once each; whether they are stored is the speech service's."""
    for name in names:
        if not NAME_PATTERN.fullmatch(name):
            raise invalid("lexiconNames", "Member must match [0-9A-Za-z]{1,20}")
    if len(set(names)) != len(names):
        raise invalid("lexiconNames", "Member must name each lexicon once")
    return tuple(names)


def _sample_rate(fields: dict[str, Any], output_format: str, voice_rate: int) -> int | None:
    """The rate asked for; None: the format's default (the voice's own rate, 48 kHz Opus)."""
    value = string_field(fields, "SampleRate")
    if value is None:
        return _PCM_DEFAULT_RATE if output_format == "pcm" else None
    allowed = _RATES.get(output_format, ())
    if output_format == "pcm":
        allowed = (*allowed, voice_rate)
    if not value.isdigit() or int(value) not in allowed:
        rates = ", ".join(str(rate) for rate in sorted(allowed))
        raise PollyError("InvalidSampleRateException", f"{output_format} is served at {rates} Hz")
    return int(value)


def _camel(name: str) -> str:
    return name[0].lower() + name[1:]
