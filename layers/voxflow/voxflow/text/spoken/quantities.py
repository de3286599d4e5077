"""Quantities: percentages, signs, ordinals, decades, years after a cue word,
fractions, dotted versions and addresses, and every number left (the last rule)."""

import re

from voxflow.text.spoken.patterns import (
    INT,
    MONTHS,
    NOT_AFTER_LETTER,
    NOT_BEFORE_LETTER,
    NUM_END,
    NUM_START,
    NUMBER,
    Render,
)
from voxflow.text.spoken.words import (
    cardinal,
    digit_words,
    integer_words,
    matched_number,
    ordinal,
    plural,
    year_words,
)

_PERCENT = re.compile(rf"{NUMBER}\s?%")
_ORDINAL = re.compile(rf"{NUM_START}{INT}(?:st|nd|rd|th){NOT_BEFORE_LETTER}")
_DECADE = re.compile(rf"{NUM_START}(?P<year>1[0-9][0-9]0|20[0-9]0)'?s{NOT_BEFORE_LETTER}")
_SHORT_DECADE = re.compile(
    rf"{NOT_AFTER_LETTER}(?:'|(?<![0-9.,]))(?P<decade>[1-9]0)s{NOT_BEFORE_LETTER}"
)
# Four digits read as a year only after a word that announces one.
# "in 1999" is a year, "1999 people" a count: four digits are a year after a
# word that announces one, before an era, or after a month ("May 2024").
_YEAR_CUES = (
    r"in|since|by|until|till|from|during|before|after|circa|c\.|ca\.|year|around|through|between|"
    r"early|late|mid|of|spring|summer|autumn|fall|winter|" + "|".join(MONTHS)
)
_YEAR_DIGITS = r"1[1-9][0-9]{2}|20[0-9]{2}"
_YEAR = re.compile(
    rf"{NOT_AFTER_LETTER}(?P<lead>(?i:{_YEAR_CUES})-?)\s?(?<=[\s-])"
    rf"(?P<year>{_YEAR_DIGITS}){NUM_END}{NOT_BEFORE_LETTER}"
    rf"(?:\s(?P<joiner>and|to|or|through|until)\s(?P<year2>{_YEAR_DIGITS}){NUM_END}{NOT_BEFORE_LETTER})?"
    rf"(?!\s(?:people|persons|men|women|children|times|units|items|cases|votes)\b)"
)
_ERA_YEAR = re.compile(
    rf"{NUM_START}(?P<year>[1-9][0-9]{{0,3}})\s(?P<era>BC|BCE|AD|CE){NOT_BEFORE_LETTER}"
)
# U+2044 only comes from NFKC-decomposed vulgar fractions ("½"), so these are
# real fractions. A slash makes one only with a denominator fractions have
# and a numerator below it, or after a whole number: "3/4", "2 1/2", not "24/7" or "9/11".
_FRACTION = re.compile(
    r"(?<![0-9])(?<![0-9][/.,])(?:(?P<whole>[0-9]{1,9}) )?(?P<num>[0-9]{1,3})(?P<sep>[/\u2044])"
    r"(?P<den>[0-9]{1,3})(?![0-9]|[/.,][0-9])"
)
_SLASH_DENOMINATORS = frozenset({2, 3, 4, 5, 6, 8, 10, 12, 16, 32, 64, 100})
_SIGN = re.compile(r"(?<![\w+])(?P<sign>\+|±)(?=[0-9]|\.[0-9])")
_BARE_DECIMAL = re.compile(
    r"(?:(?<![\w.,-])(?P<neg>-))?(?<![\w.])\.(?P<frac>[0-9]+)(?![0-9]|[.,][0-9])"
)
_DOTTED = re.compile(rf"{NUM_START}[0-9]+(?:\.[0-9]+){{2,}}(?![0-9])")
_ANY_NUMBER = re.compile(rf"(?:(?<![\w.,-])(?P<neg>-))?{INT}(?:\.(?P<frac>[0-9]+))?")


def _percent(match: re.Match[str]) -> str:
    return f"{matched_number(match)} percent"


def _ordinal_number(match: re.Match[str]) -> str:
    return ordinal(int(match["int"].replace(",", "")))


def _decade(match: re.Match[str]) -> str:
    return plural(year_words(int(match["year"])))


def _short_decade(match: re.Match[str]) -> str:
    return plural(cardinal(int(match["decade"])))


def _year_in_context(match: re.Match[str]) -> str:
    lead = match["lead"]
    space = "" if lead.endswith("-") else " "
    words = f"{lead}{space}{year_words(int(match['year']))}"
    if match["year2"]:
        words += f" {match['joiner']} {year_words(int(match['year2']))}"
    return words


def _era_year(match: re.Match[str]) -> str:
    return f"{year_words(int(match['year']))} {' '.join(match['era'])}"


def _fraction(match: re.Match[str]) -> str:
    numerator, denominator = int(match["num"]), int(match["den"])
    if match["sep"] == "/" and (
        denominator not in _SLASH_DENOMINATORS or (numerator >= denominator and not match["whole"])
    ):
        # Two numbers side by side: "24/7", "9/11", "50/50".
        pair = f"{integer_words(match['num'])} {integer_words(match['den'])}"
        return f"{integer_words(match['whole'])} {pair}" if match["whole"] else pair
    many = numerator != 1
    if denominator == 2:
        name = "halves" if many else "half"
    elif denominator == 4:
        name = "quarters" if many else "quarter"
    else:
        name = ordinal(denominator) + ("s" if many else "")
    words = f"{cardinal(numerator)} {name}"
    return f"{integer_words(match['whole'])} and {words}" if match["whole"] else words


def _dotted(match: re.Match[str]) -> str:
    # Versions and addresses ("1.2.3", "192.168.0.1") are read part by part.
    return " dot ".join(integer_words(part) for part in match[0].split("."))


def _bare_decimal(match: re.Match[str]) -> str:
    words = f"point {digit_words(match['frac'])}"
    return f"minus {words}" if match["neg"] else words


RULES: tuple[tuple[re.Pattern[str], Render], ...] = (
    (_PERCENT, _percent),
    (_ORDINAL, _ordinal_number),
    (_DECADE, _decade),
    (_SHORT_DECADE, _short_decade),
    (_YEAR, _year_in_context),
    (_ERA_YEAR, _era_year),
    (_FRACTION, _fraction),
    (_DOTTED, _dotted),
    (_SIGN, lambda m: "plus" if m["sign"] == "+" else "plus or minus"),
    (_BARE_DECIMAL, _bare_decimal),
    (_ANY_NUMBER, matched_number),
)
