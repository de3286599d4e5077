"""What a pronunciation lexicon is once parsed, and the limits every door enforces.

The limits are Amazon Polly's: names ``[0-9A-Za-z]{1,20}``, content up to 4,000
characters, up to five lexicons per request.
"""

import hashlib
import re
from dataclasses import dataclass

from voxflow.errors import InvalidLexicon, InvalidParameter

NAME_PATTERN = re.compile(r"[0-9A-Za-z]{1,20}")
MAX_CONTENT_CHARS = 4_000
MAX_LEXICONS_PER_REQUEST = 5


@dataclass(frozen=True)
class Alias:
    """Say these words instead (they are normalized like the rest of the text)."""

    text: str


@dataclass(frozen=True)
class Phoneme:
    """Say these IPA phonemes; x-sampa entries are converted to IPA when parsed."""

    ipa: str


Pronunciation = Alias | Phoneme


@dataclass(frozen=True)
class Lexeme:
    graphemes: tuple[str, ...]  # whitespace collapsed to single spaces
    pronunciation: Pronunciation


@dataclass(frozen=True)
class Lexicon:
    name: str
    sha256: str  # of the stored content: what cache keys carry
    lexemes: tuple[Lexeme, ...]
    language: str  # xml:lang; recorded, not enforced (the voice's language is used)
    alphabet: str = "ipa"  # the <lexicon>'s default: ipa or x-sampa


def check_name(name: str) -> str:
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise InvalidParameter("a lexicon name is 1 to 20 letters and digits ([0-9A-Za-z])")
    return name


def check_content(content: str) -> str:
    if len(content) > MAX_CONTENT_CHARS:
        raise InvalidLexicon(
            f"a lexicon has {len(content)} characters; the limit is {MAX_CONTENT_CHARS}"
        )
    return content


def content_hash(content: str) -> str:
    return hashlib.sha256(content.encode("utf-8")).hexdigest()


def check_names(names: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """A request's lexicon names: at most five, each valid, none twice."""
    if len(names) > MAX_LEXICONS_PER_REQUEST:
        raise InvalidParameter(
            f"a request names {len(names)} lexicons; the limit is {MAX_LEXICONS_PER_REQUEST}"
        )
    if len(set(names)) != len(names):
        raise InvalidParameter("a request names the same lexicon twice")
    return tuple(check_name(name) for name in names)
