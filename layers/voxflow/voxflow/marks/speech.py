"""Marks of speech synthesized in this process (the CLI, the HTTP API): chunks straight
from the engine."""

from collections.abc import Sequence
from typing import TYPE_CHECKING

from voxflow.errors import SynthesisError
from voxflow.marks.compose import compose
from voxflow.marks.document import plan_speech
from voxflow.marks.model import MarkType, SpeechMark
from voxflow.marks.plan import SourceMap, plan_marks
from voxflow.marks.timing import ChunkTiming, chunk_timing
from voxflow.text.document import SpeechDocument

if TYPE_CHECKING:
    from voxflow.engine import SpeechChunk


def timing_of(chunk: "SpeechChunk") -> ChunkTiming:
    if chunk.alignment is None:
        raise SynthesisError(
            "speech marks need the voice model's phoneme durations: leave VOXFLOW_ALIGNMENT on"
        )
    return chunk_timing(chunk.text, chunk.alignment, len(chunk.pcm), chunk.piece_starts)


def speech_marks(
    original: str,
    mapped: SourceMap | None,
    chunks: Sequence["SpeechChunk"],
    pause_s: float,
    types: Sequence[MarkType],
    *,
    document: SpeechDocument | None = None,
    chunk_max_chars: int = 400,
) -> list[SpeechMark]:
    """Marks for ``chunks``, synthesized in order from the chunks of ``mapped.text``
    (plain text), or, given ``document`` (SSML, or any request with lexicons: the
    document after ``apply_lexicons``), from ``chunk_document``'s chunks of it made
    with ``chunk_max_chars``; ``mapped`` is not used then."""
    texts = [chunk.text for chunk in chunks]
    if document is not None:
        plan = plan_speech(document, texts, chunk_max_chars)
    elif mapped is not None:
        plan = plan_marks(original, mapped, texts)
    else:
        raise ValueError("speech marks need the normalized text's map or the document")
    sample_rate = chunks[0].sample_rate if chunks else 1
    return compose(plan, [timing_of(chunk) for chunk in chunks], sample_rate, pause_s, types)
