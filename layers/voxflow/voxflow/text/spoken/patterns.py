"""Regex fragments and helpers that more than one rule family builds on."""

import re
from collections.abc import Callable

type Render = Callable[[re.Match[str]], str | None]

# Digits count as "not a letter" on purpose: digits are turned into words
# later, and an abbreviation glued to a digit ("5Dr.") must be expanded on the
# first pass or it would be on the second one, breaking idempotence.
NOT_AFTER_LETTER = r"(?<![^\W\d_])"
NOT_BEFORE_LETTER = r"(?![^\W\d_])"

# A number starts where no digit (or digit plus separator) precedes it, so a
# rule never picks up the tail of "1.2.3" or "12,345" on its own.
NUM_START = r"(?<![0-9])(?<![0-9][.,:])"
INT = r"(?P<int>[0-9]{1,3}(?:,[0-9]{3})+(?![0-9])|[0-9]+)"
NUMBER = rf"(?:(?<![\w.,-])(?P<neg>-))?{NUM_START}{INT}(?:\.(?P<frac>[0-9]+))?"
# Keeps "5" in "5,000" or "5.5" or "5%" from being read as a day or a year.
NUM_END = r"(?![0-9]|[.,:][0-9]|\s?%)"
AM_PM = rf"(?P<ampm>[AaPp])(?:\.\s?)?[Mm](?P<dot>\.)?{NOT_BEFORE_LETTER}"

# Spelled out rather than taken from calendar.month_name, which follows the locale.
MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
MONTH_NAMES = "|".join(MONTHS)
MONTH_ABBREVIATIONS = {name[:3]: name for name in MONTHS} | {"Sept": "September"}

# An abbreviation's period doubles as the sentence's full stop when nothing,
# or a new capitalized sentence, follows. Titles ("Dr.") are almost always
# followed by a name, so for them only the end of the text counts.
_AT_TEXT_END = re.compile(r"[\"')\]}]*\s*\Z")
_AT_SENTENCE_END = re.compile(r"[\"')\]}]*(?:\s*\Z|\s+[A-Z])")


def period(match: re.Match[str], *, sentence_end: bool) -> str:
    pattern = _AT_SENTENCE_END if sentence_end else _AT_TEXT_END
    return "." if pattern.match(match.string, match.end()) else ""
