"""Text preparation for synthesis: cleanup, spoken-form normalization, chunking."""

from voxflow.text.chunker import MIN_CHUNK_CHARS, iter_chunks, split_into_chunks
from voxflow.text.clean import clean_text
from voxflow.text.mapped import MappedText, SourceSpan
from voxflow.text.spoken import (
    DEFAULT_MAX_CHARS,
    normalize_mapped,
    normalize_text,
    to_spoken_form,
)

__all__ = [
    "DEFAULT_MAX_CHARS",
    "MIN_CHUNK_CHARS",
    "MappedText",
    "SourceSpan",
    "clean_text",
    "iter_chunks",
    "normalize_mapped",
    "normalize_text",
    "split_into_chunks",
    "to_spoken_form",
]
