"""Roman numerals where they are numbers: "Henry VIII", "World War II", "Super Bowl LVII".

Only after a monarch's or a pope's name ("the Eighth") or a word that numbers
things ("Chapter IV", "World War II": "four", "two"). Anywhere else a run of
I, V, X, L, C, D and M is a word or an initialism: "I", "MIX", "DC", "CD".
"""

import re

from voxflow.text.spoken.patterns import Render
from voxflow.text.spoken.words import cardinal, ordinal

_REGNAL_NAMES = (
    "Henry|Louis|Elizabeth|George|Edward|Richard|William|Charles|James|John|Mary|Anne|"
    "Philip|Felipe|Frederick|Peter|Catherine|Ivan|Alexander|Nicholas|Pius|Benedict|Gregory|"
    "Leo|Innocent|Clement|Urban|Boniface|Paul|John Paul|Francis|Ferdinand|Carlos|Juan Carlos|"
    "Alfonso|Gustav|Gustavus|Christian|Olaf|Harald|Haakon|Frederik|Wilhelm|Otto|Rudolf|"
    "Ludwig|Napoleon|Constantine|Justinian|Ramesses|Ramses|Amenhotep|Thutmose|Ptolemy|"
    "Darius|Xerxes|Cyrus|Mehmed|Selim|Suleiman|Murad|Umberto|Victor Emmanuel|Manuel|Pedro|"
    "Sancho|Baldwin|Robert|David|Malcolm|Duncan|Kenneth|Edmund|Harold|Stephen|Matilda|"
    "Sigismund|Casimir|Stanislaus|Sebastian|Willem|Albert|Leopold|Baudouin|Rainier|Hirohito"
)
# A title makes any capitalized name a monarch's: "Pharaoh Khufu II", "King Rama IX".
_TITLES = (
    "King|Queen|Pope|Emperor|Empress|Tsar|Czar|Tsarina|Kaiser|Sultan|Pharaoh|Prince|Princess|Duke"
)
_NUMBERING_WORDS = (
    "World War|Super Bowl|Chapter|Part|Act|Scene|Book|Volume|Vol\\.|Title|Type|Class|Phase|"
    "Stage|Level|Episode|Article|Section|Appendix|Grade|Apollo|Vatican Council|Olympiad"
)
# Word edges where a digit counts as no letter: digits are read as words later,
# with a space, so "Louis VIII1" must read the numeral now as it would then.
_START = r"(?<![^\W\d])"
_END = r"(?![^\W\d]|['-])"
_NUMERAL = r"(?=[MDCLXVI])M{0,3}(?:CM|CD|D?C{0,3})(?:XC|XL|L?X{0,3})(?:IX|IV|V?I{0,3})"
# "Henry I" only where the "I" cannot be the pronoun ("Then Henry I saw..."); "Malcolm X" never.
_PRONOUN_CANNOT_FOLLOW = re.compile(
    r"\s*(?:\Z|[,.;:!?)\"']|(?:of|and|was|had|became|died|reigned|ruled|succeeded)\b)"
)
_REGNAL = re.compile(
    rf"{_START}(?P<name>{_REGNAL_NAMES}|(?:{_TITLES}) [A-Z][a-z]+(?: [A-Z][a-z]+)?) "
    rf"(?P<numeral>{_NUMERAL})(?P<possessive>'s)?{_END}"
)
_NUMBERED = re.compile(rf"{_START}(?P<name>{_NUMBERING_WORDS}) (?P<numeral>{_NUMERAL}){_END}")
_WORLD_WAR = re.compile(rf"{_START}WW ?(?P<numeral>I{{1,2}}{_END}|[12](?![\w'-]))")
_VALUES = {"M": 1000, "D": 500, "C": 100, "L": 50, "X": 10, "V": 5, "I": 1}


def roman_value(numeral: str) -> int:
    total = 0
    for letter, following in zip(numeral, [*numeral[1:], ""], strict=True):
        value = _VALUES[letter]
        total += -value if following and _VALUES[following] > value else value
    return total


def _regnal(match: re.Match[str]) -> str | None:
    numeral = match["numeral"]
    if numeral == "X" or (
        numeral == "I" and not _PRONOUN_CANNOT_FOLLOW.match(match.string, match.end())
    ):
        return None
    possessive = match["possessive"] or ""
    return f"{match['name']} the {ordinal(roman_value(numeral)).capitalize()}{possessive}"


def _numbered(match: re.Match[str]) -> str:
    return f"{match['name']} {cardinal(roman_value(match['numeral']))}"


def _world_war(match: re.Match[str]) -> str:
    numeral = match["numeral"]
    return f"World War {cardinal(int(numeral) if numeral.isdigit() else len(numeral))}"


RULES: tuple[tuple[re.Pattern[str], Render], ...] = (
    (_WORLD_WAR, _world_war),
    (_REGNAL, _regnal),
    (_NUMBERED, _numbered),
)
