"""Dates and times: ISO and US dates, "March 5th, 2024", "5 March", "8:00", "7 p.m."."""

import calendar
import re

from voxflow.text.spoken.patterns import (
    AM_PM,
    MONTH_NAMES,
    MONTHS,
    NOT_AFTER_LETTER,
    NOT_BEFORE_LETTER,
    NUM_END,
    NUM_START,
    Render,
    period,
)
from voxflow.text.spoken.words import cardinal, ordinal, year_words


def _date_words(year: int, month: int, day: int) -> str | None:
    if not 1 <= month <= 12 or not 1 <= day <= calendar.monthrange(year, month)[1]:
        return None
    return f"{MONTHS[month - 1]} {ordinal(day)}, {year_words(year)}"


_ISO_DATE = re.compile(r"(?<![0-9-])([0-9]{4})-([0-9]{2})-([0-9]{2})(?![0-9]|-[0-9])")
_US_DATE = re.compile(r"(?<![0-9/])([0-9]{1,2})/([0-9]{1,2})/([0-9]{4})(?![0-9]|/[0-9])")
_DAY = rf"{NUM_START}(?P<day>[0-9]{{1,2}})(?:st|nd|rd|th)?{NUM_END}{NOT_BEFORE_LETTER}"
_YEAR_AFTER_DAY = rf"(?:,?\s(?P<year>[0-9]{{4}}){NUM_END})?"
_MONTH_DAY = re.compile(rf"{NOT_AFTER_LETTER}(?P<month>{MONTH_NAMES})\s{_DAY}{_YEAR_AFTER_DAY}")
_DAY_MONTH = re.compile(rf"{_DAY}\s(?P<month>{MONTH_NAMES}){NOT_BEFORE_LETTER}{_YEAR_AFTER_DAY}")


def _iso_date(match: re.Match[str]) -> str | None:
    return _date_words(int(match[1]), int(match[2]), int(match[3]))


def _us_date(match: re.Match[str]) -> str | None:
    return _date_words(int(match[3]), int(match[1]), int(match[2]))


def _named_date(match: re.Match[str], *, day_first: bool) -> str | None:
    day = int(match["day"])
    if not 1 <= day <= 31:
        return None
    month, year = match["month"], match["year"]
    words = f"the {ordinal(day)} of {month}" if day_first else f"{month} {ordinal(day)}"
    return f"{words}, {year_words(int(year))}" if year else words


_TIME = re.compile(
    rf"{NUM_START}(?P<hour>[01]?[0-9]|2[0-3]):(?P<minute>[0-5][0-9])"
    rf"(?![0-9]|:[0-9]|[.,][0-9])(?:\s?{AM_PM})?"
)
_HOUR = r"1[0-2]|0?[1-9]"
_HOUR_AM_PM = re.compile(rf"{NUM_START}(?:(?P<first>{_HOUR})-)?(?P<hour>{_HOUR})\s?{AM_PM}")


def _am_pm(match: re.Match[str]) -> str:
    if match["ampm"] is None:
        return ""
    # Spelled as letters: espeak reads "am" as the verb and "a.m." erratically.
    letters = " A M" if match["ampm"] in "Aa" else " P M"
    return letters + (period(match, sentence_end=True) if match["dot"] else "")


def _time(match: re.Match[str]) -> str:
    hour, minute = int(match["hour"]), int(match["minute"])
    if minute == 0 and match["ampm"] is None:
        # Hours only a 24-hour clock has are read the military way.
        clock = "hundred" if hour == 0 or hour > 12 else "o'clock"
        return f"{cardinal(hour)} {clock}"
    words = cardinal(hour)
    if minute:
        minutes = f"oh {cardinal(minute)}" if minute < 10 else cardinal(minute)
        words = f"{words} {minutes}"
    return words + _am_pm(match)


def _hour_am_pm(match: re.Match[str]) -> str:
    # "10-11 a.m." is a range of hours.
    first = f"{cardinal(int(match['first']))} to " if match["first"] else ""
    return first + cardinal(int(match["hour"])) + _am_pm(match)


RULES: tuple[tuple[re.Pattern[str], Render], ...] = (
    (_ISO_DATE, _iso_date),
    (_US_DATE, _us_date),
    (_MONTH_DAY, lambda m: _named_date(m, day_first=False)),
    (_DAY_MONTH, lambda m: _named_date(m, day_first=True)),
    (_TIME, _time),
    (_HOUR_AM_PM, _hour_am_pm),
)
