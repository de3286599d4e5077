"""Quantities: units, percentages, ordinals, decades, years after a cue word,
fractions, dotted versions and addresses, and every number left (the last rule)."""

import re

from voxflow.text.spoken.patterns import (
    INT,
    NOT_AFTER_LETTER,
    NOT_BEFORE_LETTER,
    NUM_END,
    NUM_START,
    NUMBER,
    Render,
    period,
)
from voxflow.text.spoken.words import (
    cardinal,
    integer_words,
    matched_number,
    ordinal,
    plural,
    year_words,
)

# unit -> (singular, plural)
_UNITS = {
    "km/h": ("kilometer per hour", "kilometers per hour"),
    "kph": ("kilometer per hour", "kilometers per hour"),
    "mph": ("mile per hour", "miles per hour"),
    "km": ("kilometer", "kilometers"),
    "cm": ("centimeter", "centimeters"),
    "mm": ("millimeter", "millimeters"),
    "kg": ("kilogram", "kilograms"),
    "mg": ("milligram", "milligrams"),
    "ml": ("milliliter", "milliliters"),
    "mL": ("milliliter", "milliliters"),
    "lbs": ("pound", "pounds"),
    "lb": ("pound", "pounds"),
    "oz": ("ounce", "ounces"),
    "ft": ("foot", "feet"),
    "°C": ("degree Celsius", "degrees Celsius"),
    "°F": ("degree Fahrenheit", "degrees Fahrenheit"),
    "°": ("degree", "degrees"),
}
_UNIT = re.compile(
    rf"{NUMBER}\s?(?P<unit>{'|'.join(re.escape(u) for u in _UNITS)})"
    rf"{NOT_BEFORE_LETTER}(?P<dot>\.)?"
)
_PERCENT = re.compile(rf"{NUMBER}\s?%")
_ORDINAL = re.compile(rf"{NUM_START}{INT}(?:st|nd|rd|th){NOT_BEFORE_LETTER}")
_DECADE = re.compile(rf"{NUM_START}(?P<year>1[0-9][0-9]0|20[0-9]0)'?s{NOT_BEFORE_LETTER}")
_SHORT_DECADE = re.compile(rf"{NOT_AFTER_LETTER}'(?P<decade>[1-9]0)s{NOT_BEFORE_LETTER}")
# Four digits read as a year only after a word that announces one.
_YEAR = re.compile(
    rf"{NOT_AFTER_LETTER}(?P<lead>(?i:in|since|by|until|till|from|during|before|after|circa|year))"
    rf"\s(?P<year>1[1-9][0-9]{{2}}|20[0-9]{{2}}){NUM_END}{NOT_BEFORE_LETTER}"
)
# U+2044 only comes from NFKC-decomposed vulgar fractions ("½"), so these are
# real fractions, unlike "24/7" or "1/2 of the time" written with a slash.
_FRACTION = re.compile(
    r"(?<![0-9])(?:(?P<whole>[0-9]+) )?(?P<num>[0-9]+)\u2044(?P<den>[0-9]+)(?![0-9])"
)
_DOTTED = re.compile(rf"{NUM_START}[0-9]+(?:\.[0-9]+){{2,}}(?![0-9])")
_ANY_NUMBER = re.compile(rf"(?:(?<![\w.,-])(?P<neg>-))?{INT}(?:\.(?P<frac>[0-9]+))?")


def _unit(match: re.Match[str]) -> str:
    singular, plural = _UNITS[match["unit"]]
    one = match["int"] == "1" and match["frac"] is None
    words = f"{matched_number(match)} {singular if one else plural}"
    return words + (period(match, sentence_end=True) if match["dot"] else "")


def _percent(match: re.Match[str]) -> str:
    return f"{matched_number(match)} percent"


def _ordinal_number(match: re.Match[str]) -> str:
    return ordinal(int(match["int"].replace(",", "")))


def _decade(match: re.Match[str]) -> str:
    return plural(year_words(int(match["year"])))


def _short_decade(match: re.Match[str]) -> str:
    return plural(cardinal(int(match["decade"])))


def _year_in_context(match: re.Match[str]) -> str:
    return f"{match['lead']} {year_words(int(match['year']))}"


def _fraction(match: re.Match[str]) -> str:
    numerator, denominator = int(match["num"]), int(match["den"])
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


RULES: tuple[tuple[re.Pattern[str], Render], ...] = (
    (_UNIT, _unit),
    (_PERCENT, _percent),
    (_ORDINAL, _ordinal_number),
    (_DECADE, _decade),
    (_SHORT_DECADE, _short_decade),
    (_YEAR, _year_in_context),
    (_FRACTION, _fraction),
    (_DOTTED, _dotted),
    (_ANY_NUMBER, matched_number),
)
