"""<say-as interpret-as="...">: an element's text as the words a person would say.

Each reader returns the spoken words, or None when the text does not fit the
interpretation (the caller reports that as InvalidSsml, without the text).
Expletives are not words: the caller bleeps them (``EXPLETIVE``).
"""

import re
from collections.abc import Callable

from voxflow.text.spoken.patterns import MONTHS
from voxflow.text.spoken.words import (
    cardinal,
    digit_words,
    number_words,
    ordinal,
    plural,
    year_words,
)

EXPLETIVE = "expletive"
DATE_FORMATS = frozenset({"mdy", "dmy", "ymd", "md", "dm", "ym", "my", "y", "m", "d"})

_LETTER_NAMES = dict(
    zip(
        "abcdefghijklmnopqrstuvwxyz",
        [
            "ay",
            "bee",
            "see",
            "dee",
            "ee",
            "eff",
            "gee",
            "aitch",
            "eye",
            "jay",
            "kay",
            "el",
            "em",
            "en",
            "oh",
            "pee",
            "cue",
            "ar",
            "ess",
            "tee",
            "you",
            "vee",
            "double-you",
            "ex",
            "why",
            "zee",
        ],
        strict=True,
    )
)
_SYMBOL_NAMES = {
    "-": "dash", ".": "dot", "@": "at", "&": "and", "+": "plus", "#": "hash",
    "_": "underscore", "/": "slash", "*": "star", "%": "percent", "$": "dollar",
}  # fmt: skip
_NUMBER = re.compile(r"(?P<neg>[-−])?(?P<int>\d{1,3}(?:,\d{3})+|\d+)(?:\.(?P<frac>\d+))?")
_ORDINAL = re.compile(r"(\d{1,9})(?:st|nd|rd|th)?\.?")
_FRACTION = re.compile(r"(?:(?P<whole>\d{1,9})(?:\s+|\+))?(?P<num>\d{1,9})\s*/\s*(?P<den>\d{1,9})")
_UNIT = re.compile(r"(?P<number>[-−]?[\d,]+(?:\.\d+)?)\s*(?P<unit>[^\d\s].*)")
_CLOCK = re.compile(r"(\d{1,2})(?::(\d{2}))?(?::(\d{2}))?\s*(?:([ap])\.?\s*m\.?)?", re.IGNORECASE)
_DURATION = re.compile(r"(?:(\d{1,4})')?\s*(?:(\d{1,4})\")?")
_DATE_PARTS = re.compile(r"\d{1,4}")
_PHONE_GROUPS = re.compile(r"\d+")

_UNITS = {
    "km": ("kilometer", "kilometers"),
    "m": ("meter", "meters"),
    "cm": ("centimeter", "centimeters"),
    "mm": ("millimeter", "millimeters"),
    "mi": ("mile", "miles"),
    "ft": ("foot", "feet"),
    "in": ("inch", "inches"),
    "yd": ("yard", "yards"),
    "kg": ("kilogram", "kilograms"),
    "g": ("gram", "grams"),
    "mg": ("milligram", "milligrams"),
    "lb": ("pound", "pounds"),
    "lbs": ("pound", "pounds"),
    "oz": ("ounce", "ounces"),
    "l": ("liter", "liters"),
    "ml": ("milliliter", "milliliters"),
    "s": ("second", "seconds"),
    "ms": ("millisecond", "milliseconds"),
    "min": ("minute", "minutes"),
    "h": ("hour", "hours"),
    "hr": ("hour", "hours"),
    "mph": ("mile per hour", "miles per hour"),
    "km/h": ("kilometer per hour", "kilometers per hour"),
    "kb": ("kilobyte", "kilobytes"),
    "mb": ("megabyte", "megabytes"),
    "gb": ("gigabyte", "gigabytes"),
    "tb": ("terabyte", "terabytes"),
    "hz": ("hertz", "hertz"),
    "khz": ("kilohertz", "kilohertz"),
    "°c": ("degree Celsius", "degrees Celsius"),
    "°f": ("degree Fahrenheit", "degrees Fahrenheit"),
    "%": ("percent", "percent"),
    "w": ("watt", "watts"),
    "kw": ("kilowatt", "kilowatts"),
    "v": ("volt", "volts"),
}


def _number(text: str) -> str | None:
    match = _NUMBER.fullmatch(text.strip())
    if match is None:
        return None
    return number_words(match["int"], match["frac"], match["neg"] is not None)


def _ordinal(text: str) -> str | None:
    match = _ORDINAL.fullmatch(text.strip())
    return ordinal(int(match[1])) if match else None


def _digits(text: str) -> str | None:
    digits = re.sub(r"[\s,.-]", "", text)
    return digit_words(digits) if digits.isascii() and digits.isdigit() else None


def _characters(text: str) -> str | None:
    names = []
    for char in text.strip():
        if char.isspace():
            continue
        lower = char.lower()
        if lower in _LETTER_NAMES:
            names.append(_LETTER_NAMES[lower])
        elif char.isascii() and char.isdigit():
            names.append(digit_words(char))
        elif char in _SYMBOL_NAMES:
            names.append(_SYMBOL_NAMES[char])
        else:
            return None
    return " ".join(names) or None


def _denominator(denominator: int, numerator: int) -> str:
    if denominator == 2:
        return "half" if numerator == 1 else "halves"
    if denominator == 4:
        return "quarter" if numerator == 1 else "quarters"
    word = ordinal(denominator)
    return word if numerator == 1 else plural(word)


def _fraction(text: str) -> str | None:
    match = _FRACTION.fullmatch(text.strip())
    if match is None:
        return None
    numerator, denominator = int(match["num"]), int(match["den"])
    if denominator == 0:
        return None
    if denominator == 1:
        part = cardinal(numerator)
    else:
        article = "a" if numerator == 1 and match["whole"] else cardinal(numerator)
        part = f"{article} {_denominator(denominator, numerator)}"
    return f"{cardinal(int(match['whole']))} and {part}" if match["whole"] else part


def _unit(text: str) -> str | None:
    match = _UNIT.fullmatch(text.strip())
    if match is None:
        return None
    names = _UNITS.get(match["unit"].strip().lower())
    number = _number(match["number"])
    if names is None or number is None:
        return None
    singular = number in ("one", "minus one")
    return f"{number} {names[0] if singular else names[1]}"


def date_words(text: str, date_format: str) -> str | None:
    """``date_format``: which of month, day, year the digits give, in order."""
    parts = _DATE_PARTS.findall(text)
    if len(parts) != len(date_format) or re.fullmatch(r"[\d\s/.,-]+", text.strip()) is None:
        return None
    fields = dict(zip(date_format, (int(part) for part in parts), strict=True))
    month, day, year = fields.get("m"), fields.get("d"), fields.get("y")
    if month is not None and not 1 <= month <= 12:
        return None
    if day is not None and not 1 <= day <= 31:
        return None
    month_name = MONTHS[month - 1] if month is not None else None
    day_name = ordinal(day) if day is not None else None
    if month_name and day_name:
        month_first = date_format.index("m") < date_format.index("d")
        words = f"{month_name} {day_name}" if month_first else f"the {day_name} of {month_name}"
    else:
        words = month_name or day_name or ""
    if year is not None:
        words = f"{words}, {year_words(year)}" if words else year_words(year)
    return words


def _time(text: str) -> str | None:
    stripped = text.strip()
    clock = _CLOCK.fullmatch(stripped)
    if clock is not None and (clock[2] is not None or clock[4] is not None):
        hours, minutes, seconds = int(clock[1]), clock[2], clock[3]
        if hours > 24 or (minutes and int(minutes) > 59) or (seconds and int(seconds) > 59):
            return None
        words = cardinal(hours)
        if minutes and int(minutes):
            words += f" {'oh ' if int(minutes) < 10 else ''}{cardinal(int(minutes))}"
        elif clock[4] is None:
            words += " o'clock" if hours <= 12 else " hundred"
        if seconds and int(seconds):
            words += f" and {cardinal(int(seconds))} seconds"
        if clock[4]:
            words += f" {clock[4].lower()} m"
        return words
    duration = _DURATION.fullmatch(stripped)
    if duration is not None and (duration[1] or duration[2]):
        spoken = []
        for value, unit in ((duration[1], "minute"), (duration[2], "second")):
            if value is not None:
                count = int(value)
                spoken.append(f"{cardinal(count)} {unit if count == 1 else unit + 's'}")
        return " ".join(spoken)
    return None


def _telephone(text: str) -> str | None:
    stripped = text.strip()
    if not stripped or re.fullmatch(r"\+?[\d\s().-]+", stripped) is None:
        return None
    groups = [digit_words(group) for group in _PHONE_GROUPS.findall(stripped)]
    if not groups or sum(len(group.split()) for group in groups) > 20:
        return None
    spoken = ", ".join(groups)
    return f"plus {spoken}" if stripped.startswith("+") else spoken


READERS: dict[str, Callable[[str], str | None]] = {
    "cardinal": _number,
    "number": _number,
    "ordinal": _ordinal,
    "digits": _digits,
    "characters": _characters,
    "spell-out": _characters,
    "fraction": _fraction,
    "unit": _unit,
    "time": _time,
    "telephone": _telephone,
}
INTERPRETATIONS = frozenset({*READERS, "date", EXPLETIVE})


def spoken(interpret_as: str, text: str, date_format: str | None = None) -> str | None:
    """The words for ``text`` read as ``interpret_as`` (not the expletive)."""
    if interpret_as == "date":
        return date_words(text, date_format or "mdy")
    return READERS[interpret_as](text)
