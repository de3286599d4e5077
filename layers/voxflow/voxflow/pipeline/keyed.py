"""A request's voice, parameters, normalized text, chunks and cache keys: computed one
way for every way in (the event path's plan, the HTTP API), so both find one cache."""

from dataclasses import dataclass

from voxflow.audio import AudioFormat
from voxflow.engine import ResolvedParams
from voxflow.events import ItemRequest
from voxflow.keys import KeyInput, chunk_key, request_key
from voxflow.pipeline.context import Pipeline
from voxflow.text import normalize_text, split_into_chunks
from voxflow.voices import Voice


@dataclass(frozen=True)
class KeyedRequest:
    voice: Voice
    resolved: ResolvedParams
    audio_format: AudioFormat
    output_rate: int  # of the request's audio; the chunks are at the voice's rate
    text: str  # normalized: what is synthesized, and what quotas charge
    key: str  # the request's audio
    chunks: list[str]
    chunk_keys: list[str]


def key_item(item: ItemRequest, pipeline: Pipeline) -> KeyedRequest:
    """Raises the engine's typed errors (UnknownVoice, TextTooLong, ...) for bad input."""
    voice = pipeline.registry.get(item.voice)
    resolved = item.params.to_params().resolve(voice.config)
    audio_format = AudioFormat.parse(str(item.format))
    # A rate the format cannot take fails here, as INVALID_PARAMETER, before any work.
    output_rate = audio_format.output_rate(item.sample_rate, voice.sample_rate)
    text = normalize_text(item.text, max_chars=pipeline.engine_settings.max_chars)
    salt = pipeline.settings.cache_isolation.key_tenant(item.tenant)
    key_input = KeyInput(text, voice.voice_id, voice.model_version, resolved, output_rate, salt)
    chunks = split_into_chunks(text, pipeline.engine_settings.chunk_max_chars)
    chunk_keys = [
        chunk_key(
            KeyInput(chunk, voice.voice_id, voice.model_version, resolved, voice.sample_rate, salt)
        )
        for chunk in chunks
    ]
    return KeyedRequest(
        voice,
        resolved,
        audio_format,
        output_rate,
        text,
        request_key(key_input, audio_format.value),
        chunks,
        chunk_keys,
    )
