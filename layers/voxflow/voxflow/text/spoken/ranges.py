"""Ranges: "10-12", "10–12 km", "20-30%", "1939-1945", "2019-20": read with "to".

Cleanup has already made an en dash a hyphen, so "10–12" and "10-12" read
alike. Telephone numbers and dates are taken before this rule runs.
"""

import re

from voxflow.text.spoken.patterns import NOT_BEFORE_LETTER, Render
from voxflow.text.spoken.units import UNIT, unit_words
from voxflow.text.spoken.words import number_words, year_words

_BOUND = r"[0-9]{1,3}(?:,[0-9]{3})+(?![0-9])|[0-9]+"
_RANGE = re.compile(
    rf"(?<![\w.,/+\u2044-])(?P<low>{_BOUND})(?:\.(?P<low_frac>[0-9]+))?"
    rf"-(?P<high>{_BOUND})(?:\.(?P<high_frac>[0-9]+))?(?![0-9]|[.,/:\u2044-][0-9]|-)"
    rf"(?:\s?(?P<percent>%)|\s?{UNIT}(?P<dot>\.)?|{NOT_BEFORE_LETTER})"
)
_YEAR = re.compile(r"1[1-9][0-9]{2}|20[0-9]{2}")


def _is_year_range(match: re.Match[str]) -> bool:
    low, high = match["low"], match["high"]
    if match["low_frac"] or match["high_frac"] or match["unit"] or match["percent"]:
        return False
    if not _YEAR.fullmatch(low):
        return False
    if len(high) == 2:
        return int(high) > int(low[2:])
    return _YEAR.fullmatch(high) is not None and int(high) > int(low)


def _range(match: re.Match[str]) -> str:
    if _is_year_range(match):
        low, high = match["low"], match["high"]
        high_words = year_words(int(high)) if len(high) == 4 else number_words(high, None)
        return f"{year_words(int(low))} to {high_words}"
    words = (
        f"{number_words(match['low'], match['low_frac'])} to "
        f"{number_words(match['high'], match['high_frac'])}"
    )
    if match["percent"]:
        return f"{words} percent"
    if match["unit"]:
        return f"{words} {unit_words(match, one=False)}"
    return words


RULES: tuple[tuple[re.Pattern[str], Render], ...] = ((_RANGE, _range),)
