"""Pronunciation lexicons (W3C PLS 1.0): parsed, stored by name, applied to a request's
speech document before normalization (docs/lexicons.md).

``apply_lexicons`` lives in voxflow.lexicons.apply: it needs the text package, which
the event contract (importing the name rules here) must not load without the engine
layer.
"""

from voxflow.lexicons.model import (
    MAX_CONTENT_CHARS,
    MAX_LEXICONS_PER_REQUEST,
    Alias,
    Lexeme,
    Lexicon,
    Phoneme,
    check_name,
    check_names,
    content_hash,
)
from voxflow.lexicons.pls import parse_lexicon
from voxflow.lexicons.store import (
    LexiconRepository,
    LexiconTable,
    StoredLexicon,
    create_lexicons_table,
    resolve_lexicons,
)

__all__ = [
    "MAX_CONTENT_CHARS",
    "MAX_LEXICONS_PER_REQUEST",
    "Alias",
    "Lexeme",
    "Lexicon",
    "LexiconRepository",
    "LexiconTable",
    "Phoneme",
    "StoredLexicon",
    "check_name",
    "check_names",
    "content_hash",
    "create_lexicons_table",
    "parse_lexicon",
    "resolve_lexicons",
]
