"""Marks of speech synthesized in this process (the CLI): chunks straight from the engine."""

from collections.abc import Sequence
from typing import TYPE_CHECKING

from voxflow.errors import SynthesisError
from voxflow.marks.compose import compose
from voxflow.marks.model import MarkType, SpeechMark
from voxflow.marks.plan import SourceMap, plan_marks
from voxflow.marks.timing import ChunkTiming, chunk_timing

if TYPE_CHECKING:
    from voxflow.engine import SpeechChunk


def timing_of(chunk: "SpeechChunk") -> ChunkTiming:
    if chunk.alignment is None:
        raise SynthesisError(
            "speech marks need the voice model's phoneme durations: leave VOXFLOW_ALIGNMENT on"
        )
    return chunk_timing(chunk.text, chunk.alignment, len(chunk.pcm))


def speech_marks(
    original: str,
    mapped: SourceMap,
    chunks: Sequence["SpeechChunk"],
    pause_s: float,
    types: Sequence[MarkType],
) -> list[SpeechMark]:
    """Marks for ``chunks``, synthesized from the chunks of ``mapped.text`` in order."""
    plan = plan_marks(original, mapped, [chunk.text for chunk in chunks])
    sample_rate = chunks[0].sample_rate if chunks else 1
    return compose(plan, [timing_of(chunk) for chunk in chunks], sample_rate, pause_s, types)
