"""Symbols and abbreviations with one reading: "&", "Mr.", "vs", "e.g.", "No. 5", "Jan"."""

import re

from voxflow.text.spoken.patterns import (
    MONTH_ABBREVIATIONS,
    MONTHS,
    NOT_AFTER_LETTER,
    NOT_BEFORE_LETTER,
    Render,
    period,
)

_AMPERSAND = re.compile(r"\s*&\s*")

# abbreviation -> (expansion, whether its period may end a sentence)
_ABBREVIATIONS: dict[str, tuple[str, bool]] = {
    "Mr": ("Mister", False),
    "Mrs": ("Missus", False),
    "Ms": ("Miz", False),
    "Mx": ("Mix", False),
    "Prof": ("Professor", False),
    "Mt": ("Mount", False),
    "vs": ("versus", False),
    "approx": ("approximately", False),
    "e.g": ("for example", False),
    "E.g": ("For example", False),
    "i.e": ("that is", False),
    "I.e": ("That is", False),
    "Apt": ("Apartment", False),
    "Gen": ("General", False),
    "Capt": ("Captain", False),
    "Sgt": ("Sergeant", False),
    "Lt": ("Lieutenant", False),
    "Col": ("Colonel", False),
    "Gov": ("Governor", False),
    "Sen": ("Senator", False),
    "Rep": ("Representative", False),
    "Rev": ("Reverend", False),
    "Fig": ("Figure", False),
    "fig": ("figure", False),
    "a.k.a": ("also known as", False),
    "cf": ("compare", False),
    "Jr": ("Junior", True),
    "Sr": ("Senior", True),
    "etc": ("et cetera", True),
    "Inc": ("Incorporated", True),
    "Ltd": ("Limited", True),
    "Corp": ("Corporation", True),
    "Dept": ("Department", True),
}
_ABBREVIATION = re.compile(
    NOT_AFTER_LETTER
    + r"(?P<abbr>"
    + "|".join(re.escape(a) for a in sorted(_ABBREVIATIONS, key=len, reverse=True))
    + r")\."
)
_BARE_VERSUS = re.compile(rf"{NOT_AFTER_LETTER}vs{NOT_BEFORE_LETTER}")
# Only before a number: "No." alone is the word "no", "May" alone is a verb.
_NUMBER_SIGN = re.compile(rf"{NOT_AFTER_LETTER}(?P<abbr>[Nn]os?)\.(?=\s*[0-9])|#(?=\s*[0-9])")
_MONTH_ABBREVIATION = re.compile(
    rf"{NOT_AFTER_LETTER}(?P<abbr>Sept|{'|'.join(n[:3] for n in MONTHS if n != 'May')})"
    rf"\.?(?=\s*[0-9])"
)


def _abbreviation(match: re.Match[str]) -> str:
    words, sentence_end = _ABBREVIATIONS[match["abbr"]]
    return words + period(match, sentence_end=sentence_end)


def _number_sign(match: re.Match[str]) -> str:
    return "numbers" if match["abbr"] in ("Nos", "nos") else "number"


RULES: tuple[tuple[re.Pattern[str], Render], ...] = (
    (_AMPERSAND, lambda _: " and "),
    (_ABBREVIATION, _abbreviation),
    (_BARE_VERSUS, lambda _: "versus"),
    (_NUMBER_SIGN, _number_sign),
    (_MONTH_ABBREVIATION, lambda m: MONTH_ABBREVIATIONS[m["abbr"]]),
)
