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

Every rewrite is recorded (``TrackedText``), so ``normalize_mapped`` can say
which characters of the original each part of the result stands for: word
marks point at "$49.95" although the voice says six words.
"""

import re

from voxflow.errors import EmptyText, InvalidParameter, TextTooLong
from voxflow.text.clean import clean_tracked
from voxflow.text.mapped import MappedText, SourceSpan, TrackedText
from voxflow.text.spoken import (
    abbreviations,
    dates,
    money,
    phone,
    quantities,
    ranges,
    roman,
    streets,
    units,
    web,
)
from voxflow.text.spoken.patterns import Render

DEFAULT_MAX_CHARS = 100_000

# One family after another, most specific first; the order within each is its RULES'.
# Web addresses go first: their "&", "#" and digits are not the ones other rules mean.
_RULES: tuple[tuple[re.Pattern[str], Render], ...] = (
    *web.RULES,
    *abbreviations.RULES,
    *streets.RULES,
    *roman.RULES,
    *phone.RULES,
    *money.RULES,
    *dates.RULES,
    *ranges.RULES,
    *units.RULES,
    *quantities.RULES,
)

__all__ = [
    "DEFAULT_MAX_CHARS",
    "MappedText",
    "SourceSpan",
    "normalize_mapped",
    "normalize_text",
    "spoken_tracked",
    "to_spoken_form",
]


def _trimmed(match: re.Match[str], words: str) -> tuple[int, int, str]:
    """The edit without the whole words it leaves as they were ("in" of "in 1999"),
    so that those keep their exact place in the original."""
    matched = match[0]
    head = 0
    while (space := matched.find(" ", head)) >= 0 and words[: space + 1] == matched[: space + 1]:
        head = space + 1
    tail = 0
    limit = min(len(matched), len(words)) - head
    while (space := matched.rfind(" ", 0, len(matched) - tail)) >= head and (
        len(matched) - space <= limit and words.endswith(matched[space:])
    ):
        tail = len(matched) - space
    start, end = match.span()
    return start + head, end - tail, words[head : len(words) - tail]


def _apply(pattern: re.Pattern[str], render: Render, tracked: TrackedText) -> TrackedText:
    text = tracked.text
    edits: list[tuple[int, int, str]] = []
    for match in pattern.finditer(text):
        words = render(match)
        if words is None:
            continue
        start, end, words = _trimmed(match, words)
        # Words must not fuse with neighbouring letters: "5G" -> "five G".
        if start > 0 and text[start - 1].isalnum() and words[:1].isalnum():
            words = " " + words
        if words[-1:].isalnum() and (
            (end < len(text) and text[end].isalnum()) or web.NAME_SUFFIX.match(text, end)
        ):
            words += " "
        edits.append((start, end, words))
    return tracked.replaced(edits)


def spoken_tracked(tracked: TrackedText) -> TrackedText:
    """``to_spoken_form`` on tracked text (the caller cleans before and after)."""
    for pattern, render in _RULES:
        tracked = _apply(pattern, render, tracked)
    return tracked


def to_spoken_form(text: str) -> str:
    """Rewrite numbers, money, dates, times, units and abbreviations as words.

    Deterministic and pure; text without any of those comes back unchanged.
    Spacing around the rewritten parts is not tidied: ``normalize_text``
    cleans whitespace afterwards.
    """
    return spoken_tracked(TrackedText.of(text)).text


def normalize_mapped(
    text: str, *, max_chars: int = DEFAULT_MAX_CHARS, spoken_form: bool = True
) -> MappedText:
    """``normalize_text``, with the map from each part of the result to ``text``'s characters.

    The length limit applies to the raw input and is checked before any work,
    so an oversized request costs nothing. Raises ``InvalidParameter`` for a
    ``max_chars`` below 1, ``TextTooLong``, or ``EmptyText`` when no letter or
    digit is left to speak.
    """
    if max_chars < 1:
        raise InvalidParameter(f"max_chars must be at least 1, got {max_chars}")
    if len(text) > max_chars:
        raise TextTooLong(len(text), max_chars)
    tracked = clean_tracked(TrackedText.of(text))
    if spoken_form:
        # The rewrite leaves loose spaces around the words it inserts.
        tracked = clean_tracked(spoken_tracked(tracked))
    if not any(ch.isalnum() for ch in tracked.text):
        raise EmptyText("the text has nothing to speak")
    return tracked.mapped()


def normalize_text(
    text: str, *, max_chars: int = DEFAULT_MAX_CHARS, spoken_form: bool = True
) -> str:
    """Clean ``text`` and, by default, rewrite it in spoken form, ready for chunking.

    The same text as ``normalize_mapped``, and the same errors.
    """
    return normalize_mapped(text, max_chars=max_chars, spoken_form=spoken_form).text
