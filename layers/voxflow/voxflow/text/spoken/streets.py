"""Abbreviations read from their context: "St." (Saint or Street), "Dr." (Doctor or Drive).

A street name follows a house number ("221 Baker St.") or a capitalized word
in mid-sentence ("on Main St."); a saint or a doctor is followed by a name.
"""

import re

from voxflow.text.spoken.patterns import NOT_AFTER_LETTER, Render, period

# Capitalized words before "St." or "Dr." that are no street's name: a saint's
# place ("Mount St. Helens") or a word that starts a sentence ("The Dr. is in").
_NOT_STREET_NAMES = frozenset(
    {"Mount", "Fort", "Port", "Lake", "Cape", "Pope", "Church", "Cathedral", "Abbey",
     "Basilica", "Chapel", "Holy", "Of", "Great", "Little", "Old", "New", "Saint", "The",
     "A", "An", "My", "Our", "Your", "His", "Her", "Their", "This", "That", "Ask", "Call",
     "See", "Dear", "Visit", "Thank", "Thanks", "Hello", "Hi", "Meet", "And", "But", "Or",
     "With", "To", "From", "By", "For", "At", "In", "On", "I", "We", "You", "They", "He",
     "She", "It", "Then", "When", "If", "So", "Mister", "Missus", "Miz", "Professor", "Doctor"}
)  # fmt: skip
_HOUSE_NUMBER = re.compile(r"(?:^|\s)[0-9]+[A-Za-z]?(?: [A-Z][\w'-]*){1,3} \Z")
_WORD_BEFORE = re.compile(r"(?:(?P<stop>[.!?:;]\s+|^)|\s)(?P<word>[A-Z][\w'-]*) \Z")

_SAINT_OR_STREET = re.compile(rf"{NOT_AFTER_LETTER}St(?:\.|(?= [A-Z]))")
_DOCTOR_OR_DRIVE = re.compile(rf"{NOT_AFTER_LETTER}Dr(?:\.|(?= [A-Z]))")
_STREET_TYPES = {"Ave": "Avenue", "Blvd": "Boulevard", "Rd": "Road", "Ln": "Lane", "Hwy": "Highway"}
_STREET_TYPE = re.compile(rf"{NOT_AFTER_LETTER}(?P<abbr>{'|'.join(_STREET_TYPES)})\.")
_NAME_AFTER = re.compile(r" (?:[A-Z][a-z]|[A-Z]\.)")


def _named_before(match: re.Match[str]) -> str | None:
    """What precedes the match: "number" (a house number and a street name), "name"
    (a capitalized word in mid-sentence), "initial" (one that starts a sentence) or None."""
    # A window, not the whole text before: these patterns end at \Z and would rescan it.
    window = (match.string, max(0, match.start() - 80), match.start())
    if _HOUSE_NUMBER.search(*window):
        return "number"
    word = _WORD_BEFORE.search(*window)
    if word is None or word["word"] in _NOT_STREET_NAMES:
        return None
    return "initial" if word["stop"] is not None else "name"


def _dot(match: re.Match[str]) -> str:
    return period(match, sentence_end=True) if match[0].endswith(".") else ""


def _saint_or_street(match: re.Match[str]) -> str:
    before = _named_before(match)
    if _NAME_AFTER.match(match.string, match.end()):
        # "Visit St. Louis" but "on Main St. Then..."
        return "Saint" if before in (None, "initial") else "Street" + _dot(match)
    if match[0] == "St" and before is None:
        return match[0]
    return "Street" + _dot(match)


def _doctor_or_drive(match: re.Match[str]) -> str:
    before = _named_before(match)
    if _NAME_AFTER.match(match.string, match.end()):
        # A name after "Dr." makes a doctor even after a capitalized word ("Ask Dr. Ng").
        return "Drive" + _dot(match) if before == "number" else "Doctor"
    if before is not None:
        return "Drive" + _dot(match)
    return match[0] if match[0] == "Dr" else "Doctor" + period(match, sentence_end=False)


def _street_type(match: re.Match[str]) -> str:
    return _STREET_TYPES[match["abbr"]] + period(match, sentence_end=True)


RULES: tuple[tuple[re.Pattern[str], Render], ...] = (
    (_SAINT_OR_STREET, _saint_or_street),
    (_DOCTOR_OR_DRIVE, _doctor_or_drive),
    (_STREET_TYPE, _street_type),
)
