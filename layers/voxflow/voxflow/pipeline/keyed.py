"""A request's voice, parameters, normalized text, chunks and cache keys: computed one
way for every way in (the event path's plan, the HTTP API), so both find one cache."""

import dataclasses
from dataclasses import dataclass

from voxflow.audio import AudioFormat
from voxflow.engine import ResolvedParams
from voxflow.errors import LexiconNotFound
from voxflow.events import ItemRequest
from voxflow.keys import KeyInput, chunk_key, request_key
from voxflow.lexicons import Lexicon
from voxflow.lexicons.apply import apply_lexicons
from voxflow.lexicons.store import resolve_lexicons
from voxflow.pipeline.context import Pipeline
from voxflow.text import normalize_text, split_into_chunks
from voxflow.text.chunk_document import chunk_document, key_text, spoken_chars
from voxflow.text.document import SpeechDocument
from voxflow.text.ssml import parse_ssml
from voxflow.voices import Voice


@dataclass(frozen=True)
class KeyedRequest:
    voice: Voice
    resolved: ResolvedParams
    audio_format: AudioFormat
    output_rate: int  # of the request's audio; the chunks are at the voice's rate
    text: str  # normalized (SSML: its chunks' key text, voxflow.text.chunk_document)
    key: str  # the request's audio
    chunks: list[str]
    chunk_keys: list[str]
    billed_chars: int  # what quotas charge: the normalized text's, or SSML's spoken ones
    # SSML or lexicons: the document the chunks were made of (speech marks' sources).
    document: SpeechDocument | None = None
    chunk_max_chars: int = 400  # what the chunks were cut to


def key_item(item: ItemRequest, pipeline: Pipeline) -> KeyedRequest:
    """Raises the engine's typed errors (UnknownVoice, TextTooLong, ...) for bad input."""
    # A new request: a catalog voice must be in the catalog now, and enabled.
    voice = pipeline.registry.resolve(item.voice)
    params = dataclasses.replace(item.params.to_params(), speaker=item.speaker)
    resolved = params.resolve(voice.config)
    audio_format = AudioFormat.parse(str(item.format))
    # A rate the format cannot take fails here, as INVALID_PARAMETER, before any work.
    output_rate = audio_format.output_rate(item.sample_rate, voice.sample_rate)
    lexicons = named_lexicons(item, pipeline)
    text, chunks, billed_chars, document = _speech(item, pipeline, lexicons)
    salt = pipeline.settings.cache_isolation.key_tenant(item.tenant)
    key_input = KeyInput(text, voice.voice_id, voice.model_version, resolved, output_rate, salt)
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
        request_key(key_input, audio_format.value, [lexicon.sha256 for lexicon in lexicons]),
        chunks,
        chunk_keys,
        billed_chars,
        document,
        pipeline.engine_settings.chunk_max_chars,
    )


def named_lexicons(item: ItemRequest, pipeline: Pipeline) -> list[Lexicon]:
    """The request's lexicons, in its order; LEXICON_NOT_FOUND for one not stored."""
    if not item.lexicons:
        return []
    if pipeline.lexicons is None:
        raise LexiconNotFound(item.lexicons[0])
    return resolve_lexicons(pipeline.lexicons, item.lexicons)


def _speech(
    item: ItemRequest, pipeline: Pipeline, lexicons: list[Lexicon]
) -> tuple[str, list[str], int, SpeechDocument | None]:
    """The text the request key hashes, the chunk strings, the characters billed and,
    for SSML or lexicons, the document.

    Plain text keys on its normalized text, as it always has; SSML on its chunks (their
    text alone when plain text would chunk the same way, so the same speech shares a
    key), which carry the structure: prosody, breaks, phonemes. Lexicons apply to the
    document before normalization, so plain text that names any takes that path too."""
    settings = pipeline.engine_settings
    if item.text_type == "ssml" or lexicons:
        document = (
            parse_ssml(item.text) if item.text_type == "ssml" else SpeechDocument.plain(item.text)
        )
        document = apply_lexicons(document, lexicons, max_chars=settings.max_chars)
        chunks = chunk_document(
            document, max_chars=settings.max_chars, chunk_max_chars=settings.chunk_max_chars
        )
        key = key_text(chunks, settings.chunk_max_chars)
        return key, chunks, spoken_chars(document), document
    text = normalize_text(item.text, max_chars=settings.max_chars)
    return text, split_into_chunks(text, settings.chunk_max_chars), len(text), None
