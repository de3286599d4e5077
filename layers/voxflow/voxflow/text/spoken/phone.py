"""Telephone numbers: "+1 (555) 010-4477", "1-800-555-0199", "555-0199", "+44 20 7946 0958".

A phone number is read digit by digit, group by group, with a pause (a
comma) between groups, as people read them out; round groups ("800",
"2000") are read as the round numbers people say.
"""

import re

from voxflow.text.spoken.patterns import Render
from voxflow.text.spoken.words import cardinal, digit_words

_GROUP = r"(?:\([0-9]{1,4}\)|[0-9]{1,4})"
# At least eight digits in all, checked when reading: "+5 10 20" is no phone number.
_INTERNATIONAL = re.compile(rf"(?<![\w+])\+[0-9]{{1,3}}(?:[ .-]?{_GROUP}){{2,6}}(?![0-9])")
_NORTH_AMERICAN = re.compile(
    r"(?<![\w+.,/-])(?:1[ .-]?)?(?:\([0-9]{3}\) ?|[0-9]{3}[ .-])[0-9]{3}[ .-][0-9]{4}"
    r"(?![0-9]|[.,/-][0-9])"
)
_LOCAL = re.compile(r"(?<![\w+.,/-])[0-9]{3}-[0-9]{4}(?![0-9]|[.,/-][0-9])")
_DIGIT_GROUP = re.compile(r"[0-9]+")
_ROUND = re.compile(r"[1-9]0{2,3}")


def _group_words(group: str) -> str:
    if _ROUND.fullmatch(group):
        return f"{cardinal(int(group[0]))} {'hundred' if len(group) == 3 else 'thousand'}"
    return digit_words(group)


def _phone(match: re.Match[str]) -> str | None:
    groups = _DIGIT_GROUP.findall(match[0])
    if sum(len(group) for group in groups) < 7:
        return None
    words = ", ".join(_group_words(group) for group in groups)
    return f"plus {words}" if match[0].startswith("+") else words


def _international(match: re.Match[str]) -> str | None:
    if sum(len(group) for group in _DIGIT_GROUP.findall(match[0])) < 8:
        return None
    return _phone(match)


RULES: tuple[tuple[re.Pattern[str], Render], ...] = (
    (_INTERNATIONAL, _international),
    (_NORTH_AMERICAN, _phone),
    (_LOCAL, _phone),
)
