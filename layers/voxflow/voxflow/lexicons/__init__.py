"""Pronunciation lexicons (W3C PLS 1.0): parsed (``.pls``), stored by name (``.store``),
applied to a request's speech document before normalization (``.apply``);
docs/lexicons.md.

Only the model is imported here: the event contract needs the name rules, and the
functions without the engine layer (health) import the contract, so this package must
not load the parser or the text package on import.
"""

from voxflow.lexicons.model import (
    MAX_CONTENT_CHARS,
    MAX_LEXICONS_PER_REQUEST,
    NAME_PATTERN,
    Alias,
    Lexeme,
    Lexicon,
    Phoneme,
    check_name,
    check_names,
    content_hash,
)

__all__ = [
    "MAX_CONTENT_CHARS",
    "MAX_LEXICONS_PER_REQUEST",
    "NAME_PATTERN",
    "Alias",
    "Lexeme",
    "Lexicon",
    "Phoneme",
    "check_name",
    "check_names",
    "content_hash",
]
