"""English spoken-form normalization: digits, symbols and abbreviations to words.

The voice's phonemizer reads "$49.95" or "8:00" digit by digit or not at all,
so this package rewrites them as the words a person would say.

Rules run in a fixed order, most specific first (money before plain numbers,
dates before years), and the last rule converts every ASCII digit that is
left. That is what makes the pipeline idempotent: the output contains no
digits, and the digit-free rules expand each abbreviation into a word they
no longer match.

Everything here expects text that went through ``clean_text`` first (ASCII
quotes and dashes, single spaces).
"""

import re

from voxflow.errors import EmptyText, InvalidParameter, TextTooLong
from voxflow.text.clean import clean_text
from voxflow.text.spoken import abbreviations, dates, money, quantities
from voxflow.text.spoken.patterns import Render

DEFAULT_MAX_CHARS = 100_000

# One family after another, most specific first; the order within each is its RULES'.
_RULES: tuple[tuple[re.Pattern[str], Render], ...] = (
    *abbreviations.RULES,
    *money.RULES,
    *dates.RULES,
    *quantities.RULES,
)


def _apply(pattern: re.Pattern[str], render: Render, text: str) -> str:
    def replace(match: re.Match[str]) -> str:
        words = render(match)
        if words is None:
            return match[0]
        # Words must not fuse with neighbouring letters: "5G" -> "five G".
        start, end = match.span()
        if start > 0 and text[start - 1].isalnum() and words[:1].isalnum():
            words = " " + words
        if end < len(text) and text[end].isalnum() and words[-1:].isalnum():
            words += " "
        return words

    return pattern.sub(replace, text)


def to_spoken_form(text: str) -> str:
    """Rewrite numbers, money, dates, times, units and abbreviations as words.

    Deterministic and pure; text without any of those comes back unchanged.
    Spacing around the rewritten parts is not tidied: ``normalize_text``
    cleans whitespace afterwards.
    """
    for pattern, render in _RULES:
        text = _apply(pattern, render, text)
    return text


def normalize_text(
    text: str, *, max_chars: int = DEFAULT_MAX_CHARS, spoken_form: bool = True
) -> str:
    """Clean ``text`` and, by default, rewrite it in spoken form, ready for chunking.

    The length limit applies to the raw input and is checked before any work,
    so an oversized request costs nothing. Raises ``InvalidParameter`` for a
    ``max_chars`` below 1, ``TextTooLong``, or ``EmptyText`` when no letter or
    digit is left to speak.
    """
    if max_chars < 1:
        raise InvalidParameter(f"max_chars must be at least 1, got {max_chars}")
    if len(text) > max_chars:
        raise TextTooLong(len(text), max_chars)
    text = clean_text(text)
    if spoken_form:
        # The rewrite leaves loose spaces around the words it inserts.
        text = clean_text(to_spoken_form(text))
    if not any(ch.isalnum() for ch in text):
        raise EmptyText("the text has nothing to speak")
    return text
