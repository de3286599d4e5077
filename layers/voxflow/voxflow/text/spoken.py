"""English spoken-form normalization: digits, symbols and abbreviations to words.

The voice's phonemizer reads "$49.95" or "8:00" digit by digit or not at all,
so this module rewrites them as the words a person would say.

Rules run in a fixed order, most specific first (money before plain numbers,
dates before years), and the last rule converts every ASCII digit that is
left. That is what makes the pipeline idempotent: the output contains no
digits, and the digit-free rules expand each abbreviation into a word they
no longer match.

Everything here expects text that went through ``clean_text`` first (ASCII
quotes and dashes, single spaces).
"""

import calendar
import re
from collections.abc import Callable
from functools import lru_cache

from num2words import num2words

from voxflow.errors import EmptyText, InvalidParameter, TextTooLong
from voxflow.text.clean import clean_text

DEFAULT_MAX_CHARS = 100_000

type _Render = Callable[[re.Match[str]], str | None]

# Digits count as "not a letter" on purpose: digits are turned into words
# later, and an abbreviation glued to a digit ("5Dr.") must be expanded on the
# first pass or it would be on the second one, breaking idempotence.
_NOT_AFTER_LETTER = r"(?<![^\W\d_])"
_NOT_BEFORE_LETTER = r"(?![^\W\d_])"

# A number starts where no digit (or digit plus separator) precedes it, so a
# rule never picks up the tail of "1.2.3" or "12,345" on its own.
_NUM_START = r"(?<![0-9])(?<![0-9][.,:])"
_INT = r"(?P<int>[0-9]{1,3}(?:,[0-9]{3})+(?![0-9])|[0-9]+)"
_NUMBER = rf"(?:(?<![\w.,-])(?P<neg>-))?{_NUM_START}{_INT}(?:\.(?P<frac>[0-9]+))?"
# Keeps "5" in "5,000" or "5.5" or "5%" from being read as a day or a year.
_NUM_END = r"(?![0-9]|[.,:][0-9]|\s?%)"
_AM_PM = rf"(?P<ampm>[AaPp])(?:\.\s?)?[Mm](?P<dot>\.)?{_NOT_BEFORE_LETTER}"

# Spelled out rather than taken from calendar.month_name, which follows the locale.
_MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
_MONTH_NAMES = "|".join(_MONTHS)
_MONTH_ABBREVIATIONS = {name[:3]: name for name in _MONTHS} | {"Sept": "September"}

# An abbreviation's period doubles as the sentence's full stop when nothing,
# or a new capitalized sentence, follows. Titles ("Dr.") are almost always
# followed by a name, so for them only the end of the text counts.
_AT_TEXT_END = re.compile(r"[\"')\]}]*\s*\Z")
_AT_SENTENCE_END = re.compile(r"[\"')\]}]*(?:\s*\Z|\s+[A-Z])")

_DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
# Longer digit runs without separators are codes or phone numbers, and a
# 37-digit cardinal is no help to a listener even with separators.
_MAX_PLAIN_DIGITS = 9
_MAX_GROUPED_DIGITS = 36


@lru_cache(maxsize=4096)
def _cardinal(value: int) -> str:
    return str(num2words(value))


@lru_cache(maxsize=1024)
def _ordinal(value: int) -> str:
    return str(num2words(value, to="ordinal"))


@lru_cache(maxsize=1024)
def _year(value: int) -> str:
    return str(num2words(value, to="year"))


def _digits(digits: str) -> str:
    return " ".join(_DIGIT_WORDS[int(digit)] for digit in digits)


def _integer_words(integer: str) -> str:
    plain = integer.replace(",", "")
    grouped = plain != integer
    if not grouped and (len(plain) > _MAX_PLAIN_DIGITS or (len(plain) > 1 and plain[0] == "0")):
        return _digits(plain)
    if len(plain) > _MAX_GROUPED_DIGITS:
        return _digits(plain)
    return _cardinal(int(plain))


def _number_words(integer: str, fraction: str | None, negative: bool = False) -> str:
    words = _integer_words(integer)
    if fraction:
        words = f"{words} point {_digits(fraction)}"
    return f"minus {words}" if negative else words


def _matched_number(match: re.Match[str]) -> str:
    return _number_words(match["int"], match["frac"], match["neg"] is not None)


def _plural(words: str) -> str:
    return f"{words[:-1]}ies" if words.endswith("y") else f"{words}s"


def _period(match: re.Match[str], *, sentence_end: bool) -> str:
    pattern = _AT_SENTENCE_END if sentence_end else _AT_TEXT_END
    return "." if pattern.match(match.string, match.end()) else ""


# --- symbols and abbreviations -------------------------------------------

_AMPERSAND = re.compile(r"\s*&\s*")

# abbreviation -> (expansion, whether its period may end a sentence)
_ABBREVIATIONS: dict[str, tuple[str, bool]] = {
    "Dr": ("Doctor", False),
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
    "Jr": ("Junior", True),
    "Sr": ("Senior", True),
    "etc": ("et cetera", True),
}
_ABBREVIATION = re.compile(
    _NOT_AFTER_LETTER
    + r"(?P<abbr>"
    + "|".join(re.escape(a) for a in sorted(_ABBREVIATIONS, key=len, reverse=True))
    + r")\."
)
_BARE_VERSUS = re.compile(rf"{_NOT_AFTER_LETTER}vs{_NOT_BEFORE_LETTER}")
# "St." before a capitalized word is a saint ("St. Louis"), otherwise a street.
_SAINT = re.compile(rf"{_NOT_AFTER_LETTER}St\.(?=\s+[A-Z])")
_STREET = re.compile(rf"{_NOT_AFTER_LETTER}St\.")
# Only before a number: "No." alone is the word "no", "May" alone is a verb.
_NUMBER_SIGN = re.compile(rf"{_NOT_AFTER_LETTER}(?P<abbr>[Nn]os?)\.(?=\s*[0-9])|#(?=\s*[0-9])")
_MONTH_ABBREVIATION = re.compile(
    rf"{_NOT_AFTER_LETTER}(?P<abbr>Sept|{'|'.join(n[:3] for n in _MONTHS if n != 'May')})"
    rf"\.?(?=\s*[0-9])"
)


def _abbreviation(match: re.Match[str]) -> str:
    words, sentence_end = _ABBREVIATIONS[match["abbr"]]
    return words + _period(match, sentence_end=sentence_end)


def _number_sign(match: re.Match[str]) -> str:
    return "numbers" if match["abbr"] in ("Nos", "nos") else "number"


# --- money --------------------------------------------------------------

# symbol -> (unit, units, subunit, subunits)
_CURRENCIES = {
    "$": ("dollar", "dollars", "cent", "cents"),
    "€": ("euro", "euros", "cent", "cents"),
    "£": ("pound", "pounds", "penny", "pence"),
}
_SCALES = "thousand|million|billion|trillion"
_MONEY = re.compile(
    r"(?:(?<![\w.,-])(?P<neg>-))?(?P<sym>[$€£])\s?"
    rf"{_INT}(?:\.(?P<frac>[0-9]+))?(?:\s(?P<scale>{_SCALES}){_NOT_BEFORE_LETTER})?"
)


def _money(match: re.Match[str]) -> str:
    unit, units, subunit, subunits = _CURRENCIES[match["sym"]]
    integer, fraction, scale = match["int"], match["frac"], match["scale"]
    if scale:
        words = f"{_number_words(integer, fraction)} {scale} {units}"
    elif fraction is None or len(fraction) > 2:
        # Fractions of a cent have no subunit name: "zero point one two five dollars".
        amount = _number_words(integer, fraction)
        words = f"{amount} {unit if fraction is None and integer == '1' else units}"
    else:
        major = int(integer.replace(",", ""))
        minor = int(fraction.ljust(2, "0"))
        parts = []
        if major or not minor:
            parts.append(f"{_integer_words(integer)} {unit if major == 1 else units}")
        if minor:
            parts.append(f"{_cardinal(minor)} {subunit if minor == 1 else subunits}")
        words = " and ".join(parts)
    return f"minus {words}" if match["neg"] else words


# --- dates and times ----------------------------------------------------


def _date_words(year: int, month: int, day: int) -> str | None:
    if not 1 <= month <= 12 or not 1 <= day <= calendar.monthrange(year, month)[1]:
        return None
    return f"{_MONTHS[month - 1]} {_ordinal(day)}, {_year(year)}"


_ISO_DATE = re.compile(r"(?<![0-9-])([0-9]{4})-([0-9]{2})-([0-9]{2})(?![0-9]|-[0-9])")
_US_DATE = re.compile(r"(?<![0-9/])([0-9]{1,2})/([0-9]{1,2})/([0-9]{4})(?![0-9]|/[0-9])")
_DAY = rf"{_NUM_START}(?P<day>[0-9]{{1,2}})(?:st|nd|rd|th)?{_NUM_END}{_NOT_BEFORE_LETTER}"
_YEAR_AFTER_DAY = rf"(?:,?\s(?P<year>[0-9]{{4}}){_NUM_END})?"
_MONTH_DAY = re.compile(rf"{_NOT_AFTER_LETTER}(?P<month>{_MONTH_NAMES})\s{_DAY}{_YEAR_AFTER_DAY}")
_DAY_MONTH = re.compile(rf"{_DAY}\s(?P<month>{_MONTH_NAMES}){_NOT_BEFORE_LETTER}{_YEAR_AFTER_DAY}")


def _iso_date(match: re.Match[str]) -> str | None:
    return _date_words(int(match[1]), int(match[2]), int(match[3]))


def _us_date(match: re.Match[str]) -> str | None:
    return _date_words(int(match[3]), int(match[1]), int(match[2]))


def _named_date(match: re.Match[str], *, day_first: bool) -> str | None:
    day = int(match["day"])
    if not 1 <= day <= 31:
        return None
    month, year = match["month"], match["year"]
    words = f"the {_ordinal(day)} of {month}" if day_first else f"{month} {_ordinal(day)}"
    return f"{words}, {_year(int(year))}" if year else words


_TIME = re.compile(
    rf"{_NUM_START}(?P<hour>[01]?[0-9]|2[0-3]):(?P<minute>[0-5][0-9])"
    rf"(?![0-9]|:[0-9]|[.,][0-9])(?:\s?{_AM_PM})?"
)
_HOUR_AM_PM = re.compile(rf"{_NUM_START}(?P<hour>1[0-2]|0?[1-9])\s?{_AM_PM}")


def _am_pm(match: re.Match[str]) -> str:
    if match["ampm"] is None:
        return ""
    # Spelled as letters: espeak reads "am" as the verb and "a.m." erratically.
    letters = " A M" if match["ampm"] in "Aa" else " P M"
    return letters + (_period(match, sentence_end=True) if match["dot"] else "")


def _time(match: re.Match[str]) -> str:
    hour, minute = int(match["hour"]), int(match["minute"])
    if minute == 0 and match["ampm"] is None:
        # Hours only a 24-hour clock has are read the military way.
        clock = "hundred" if hour == 0 or hour > 12 else "o'clock"
        return f"{_cardinal(hour)} {clock}"
    words = _cardinal(hour)
    if minute:
        minutes = f"oh {_cardinal(minute)}" if minute < 10 else _cardinal(minute)
        words = f"{words} {minutes}"
    return words + _am_pm(match)


def _hour_am_pm(match: re.Match[str]) -> str:
    return _cardinal(int(match["hour"])) + _am_pm(match)


# --- quantities ---------------------------------------------------------

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
    rf"{_NUMBER}\s?(?P<unit>{'|'.join(re.escape(u) for u in _UNITS)})"
    rf"{_NOT_BEFORE_LETTER}(?P<dot>\.)?"
)
_PERCENT = re.compile(rf"{_NUMBER}\s?%")
_ORDINAL = re.compile(rf"{_NUM_START}{_INT}(?:st|nd|rd|th){_NOT_BEFORE_LETTER}")
_DECADE = re.compile(rf"{_NUM_START}(?P<year>1[0-9][0-9]0|20[0-9]0)'?s{_NOT_BEFORE_LETTER}")
_SHORT_DECADE = re.compile(rf"{_NOT_AFTER_LETTER}'(?P<decade>[1-9]0)s{_NOT_BEFORE_LETTER}")
# Four digits read as a year only after a word that announces one.
_YEAR = re.compile(
    rf"{_NOT_AFTER_LETTER}(?P<lead>(?i:in|since|by|until|till|from|during|before|after|circa|year))"
    rf"\s(?P<year>1[1-9][0-9]{{2}}|20[0-9]{{2}}){_NUM_END}{_NOT_BEFORE_LETTER}"
)
# U+2044 only comes from NFKC-decomposed vulgar fractions ("½"), so these are
# real fractions, unlike "24/7" or "1/2 of the time" written with a slash.
_FRACTION = re.compile(
    r"(?<![0-9])(?:(?P<whole>[0-9]+) )?(?P<num>[0-9]+)\u2044(?P<den>[0-9]+)(?![0-9])"
)
_DOTTED = re.compile(rf"{_NUM_START}[0-9]+(?:\.[0-9]+){{2,}}(?![0-9])")
_ANY_NUMBER = re.compile(rf"(?:(?<![\w.,-])(?P<neg>-))?{_INT}(?:\.(?P<frac>[0-9]+))?")


def _unit(match: re.Match[str]) -> str:
    singular, plural = _UNITS[match["unit"]]
    one = match["int"] == "1" and match["frac"] is None
    words = f"{_matched_number(match)} {singular if one else plural}"
    return words + (_period(match, sentence_end=True) if match["dot"] else "")


def _percent(match: re.Match[str]) -> str:
    return f"{_matched_number(match)} percent"


def _ordinal_number(match: re.Match[str]) -> str:
    return _ordinal(int(match["int"].replace(",", "")))


def _decade(match: re.Match[str]) -> str:
    return _plural(_year(int(match["year"])))


def _short_decade(match: re.Match[str]) -> str:
    return _plural(_cardinal(int(match["decade"])))


def _year_in_context(match: re.Match[str]) -> str:
    return f"{match['lead']} {_year(int(match['year']))}"


def _fraction(match: re.Match[str]) -> str:
    numerator, denominator = int(match["num"]), int(match["den"])
    many = numerator != 1
    if denominator == 2:
        name = "halves" if many else "half"
    elif denominator == 4:
        name = "quarters" if many else "quarter"
    else:
        name = _ordinal(denominator) + ("s" if many else "")
    words = f"{_cardinal(numerator)} {name}"
    return f"{_integer_words(match['whole'])} and {words}" if match["whole"] else words


def _dotted(match: re.Match[str]) -> str:
    # Versions and addresses ("1.2.3", "192.168.0.1") are read part by part.
    return " dot ".join(_integer_words(part) for part in match[0].split("."))


_RULES: tuple[tuple[re.Pattern[str], _Render], ...] = (
    (_AMPERSAND, lambda _: " and "),
    (_ABBREVIATION, _abbreviation),
    (_BARE_VERSUS, lambda _: "versus"),
    (_SAINT, lambda _: "Saint"),
    (_STREET, lambda m: "Street" + _period(m, sentence_end=True)),
    (_NUMBER_SIGN, _number_sign),
    (_MONTH_ABBREVIATION, lambda m: _MONTH_ABBREVIATIONS[m["abbr"]]),
    (_MONEY, _money),
    (_ISO_DATE, _iso_date),
    (_US_DATE, _us_date),
    (_MONTH_DAY, lambda m: _named_date(m, day_first=False)),
    (_DAY_MONTH, lambda m: _named_date(m, day_first=True)),
    (_TIME, _time),
    (_HOUR_AM_PM, _hour_am_pm),
    (_UNIT, _unit),
    (_PERCENT, _percent),
    (_ORDINAL, _ordinal_number),
    (_DECADE, _decade),
    (_SHORT_DECADE, _short_decade),
    (_YEAR, _year_in_context),
    (_FRACTION, _fraction),
    (_DOTTED, _dotted),
    (_ANY_NUMBER, _matched_number),
)


def _apply(pattern: re.Pattern[str], render: _Render, text: str) -> str:
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
