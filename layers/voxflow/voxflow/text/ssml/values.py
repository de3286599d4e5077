"""SSML attribute values to numbers: break strength and time, prosody rate and volume.

Each function returns None for a value it does not accept; the caller turns that into
InvalidSsml with the attribute's position (the value itself is never quoted back).
"""

import math
import re

from voxflow.text.document import MAX_BREAK_S, RATE_LIMITS, SILENT_DB

# Polly: none removes a pause, medium is a comma's pause, strong a sentence's,
# x-strong a paragraph's.
BREAK_STRENGTHS = {
    "none": 0.0,
    "x-weak": 0.1,
    "weak": 0.25,
    "medium": 0.4,
    "strong": 0.7,
    "x-strong": 1.2,
}
DEFAULT_BREAK_S = BREAK_STRENGTHS["medium"]
PARAGRAPH_PAUSE_S = 0.5  # added after </p>, on top of the sentence pause between chunks

RATE_WORDS = {"x-slow": 0.5, "slow": 0.75, "medium": 1.0, "fast": 1.25, "x-fast": 1.5}
VOLUME_WORDS = {
    "silent": SILENT_DB,
    "x-soft": -6.0,
    "soft": -3.0,
    "medium": 0.0,
    "loud": 3.0,
    "x-loud": 6.0,
}
MAX_VOLUME_DB = 6.0

_TIME = re.compile(r"\s*(\d{1,6}(?:\.\d{1,6})?)\s*(ms|s)\s*")
_PERCENT = re.compile(r"\s*\+?(\d{1,4}(?:\.\d{1,6})?)\s*%\s*")
_DECIBELS = re.compile(r"\s*([+-]?\d{1,4}(?:\.\d{1,6})?)\s*dB\s*")


def break_seconds(strength: str | None, time: str | None) -> float | None:
    if time is not None:
        match = _TIME.fullmatch(time)
        if match is None:
            return None
        seconds = float(match[1]) / (1000.0 if match[2] == "ms" else 1.0)
        return seconds if seconds <= MAX_BREAK_S else None
    if strength is not None:
        return BREAK_STRENGTHS.get(strength.strip())
    return DEFAULT_BREAK_S


def prosody_rate(value: str) -> float | None:
    word = RATE_WORDS.get(value.strip())
    if word is not None:
        return word
    match = _PERCENT.fullmatch(value)
    if match is None:
        return None
    rate = float(match[1]) / 100.0
    low, high = RATE_LIMITS
    return rate if low <= rate <= high else None


def prosody_volume(value: str) -> float | None:
    word = VOLUME_WORDS.get(value.strip())
    if word is not None:
        return word
    match = _DECIBELS.fullmatch(value)
    if match is None:
        return None
    decibels = float(match[1])
    if not math.isfinite(decibels) or abs(decibels) > 100.0:
        return None
    # Polly's +dB range ends at +6; quieter than the floor is silence.
    return max(SILENT_DB, decibels) if decibels <= MAX_VOLUME_DB else None
