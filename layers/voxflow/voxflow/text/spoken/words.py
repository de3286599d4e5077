"""Numbers as words (num2words, cached), shared by the rule families."""

import re
from functools import lru_cache

_DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
# Longer digit runs without separators are codes or phone numbers, and a
# 37-digit cardinal is no help to a listener even with separators.
_MAX_PLAIN_DIGITS = 9
_MAX_GROUPED_DIGITS = 36


def _num2words(value: int, to: str = "cardinal") -> str:
    # Imported on the first number: num2words loads all its ~50 languages at import,
    # a cost every cold start paid for text without a digit.
    from num2words import num2words

    return str(num2words(value, to=to))


@lru_cache(maxsize=4096)
def cardinal(value: int) -> str:
    return _num2words(value)


@lru_cache(maxsize=1024)
def ordinal(value: int) -> str:
    return _num2words(value, to="ordinal")


@lru_cache(maxsize=1024)
def year_words(value: int) -> str:
    return _num2words(value, to="year")


def digit_words(digits: str) -> str:
    return " ".join(_DIGIT_WORDS[int(digit)] for digit in digits)


def integer_words(integer: str) -> str:
    plain = integer.replace(",", "")
    grouped = plain != integer
    if not grouped and (len(plain) > _MAX_PLAIN_DIGITS or (len(plain) > 1 and plain[0] == "0")):
        return digit_words(plain)
    if len(plain) > _MAX_GROUPED_DIGITS:
        return digit_words(plain)
    return cardinal(int(plain))


def number_words(integer: str, fraction: str | None, negative: bool = False) -> str:
    words = integer_words(integer)
    if fraction:
        words = f"{words} point {digit_words(fraction)}"
    return f"minus {words}" if negative else words


def matched_number(match: re.Match[str]) -> str:
    return number_words(match["int"], match["frac"], match["neg"] is not None)


def plural(words: str) -> str:
    return f"{words[:-1]}ies" if words.endswith("y") else f"{words}s"
