"""Web addresses and e-mail addresses: "https://example.com/docs", "jane.doe@example.org".

Read the way people read them aloud: without "https://", "dot" and "slash"
for the punctuation, short or vowelless parts spelled out ("w w w", "i o"),
numbers as numbers.
"""

import re

from voxflow.text.spoken.patterns import Render
from voxflow.text.spoken.words import digit_words, integer_words

# A digit after an address counts as no letter: digits become words with a space,
# and "example.com1" must read the address now as it would then.
_END = r"(?![^\W\d]|-|\.[A-Za-z0-9])"
_TLDS = "com|org|net|io|gov|edu|co|uk|dev|ai|app|info|us|de|fr|ca|au|eu|me|tv|ly"
# Trailing sentence punctuation is the sentence's, not the address's.
_TAIL = r"(?:[^\s<>\"]*[^\s<>\".,;:!?)\]'])?"
_URL = re.compile(
    rf"(?<![^\W\d])(?<![@-])(?:https?://|www\.)(?:[^\s<>\"]*[^\s<>\".,;:!?)\]'])?"
    rf"|(?<![\w@.-])[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)*"
    rf"\.(?:{_TLDS}){_END}(?:[/?#]{_TAIL})?"
)
_EMAIL = re.compile(
    r"(?<![\w.+-])[A-Za-z0-9](?:[A-Za-z0-9._%+-]*[A-Za-z0-9_%+-])?@"
    rf"[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{{2,}}{_END}"
)
# What after a rewritten word could make it the first label of an address on a
# second pass ("Dr..com" -> "Doctor.com", "e.g..com.com"): the rewrite is kept apart.
NAME_SUFFIX = re.compile(r"\.[A-Za-z0-9]")
_SCHEME = re.compile(r"\Ahttps?://")
_TOKEN = re.compile(r"[A-Za-z]+|[0-9]+|.")
_SYMBOLS = {
    ".": "dot", "/": "slash", "-": "dash", "_": "underscore", ":": "colon", "@": "at",
    "?": "question mark", "=": "equals", "&": "and", "#": "hash", "~": "tilde",
    "%": "percent", "+": "plus",
}  # fmt: skip
_SAID_AS_WORDS = frozenset(
    {"co", "go", "my", "me", "to", "do", "be", "we", "on", "in", "at", "is", "it", "of", "or",
     "up", "so", "no", "tv"}
)  # fmt: skip
_SPELLED = frozenset({"www", "edu", "io", "ai", "uk", "us", "de", "fr", "ca", "au", "eu", "ly"})
_VOWELS = frozenset("aeiouyAEIOUY")


def _letters(run: str) -> str:
    lower = run.lower()
    spelled = lower in _SPELLED or not _VOWELS.intersection(run)
    if spelled or (len(run) <= 2 and lower not in _SAID_AS_WORDS):
        return " ".join(run)
    return run


def _words(address: str) -> str:
    words = []
    for token in _TOKEN.findall(_SCHEME.sub("", address).rstrip("/")):
        if token.isascii() and token.isalpha():
            words.append(_letters(token))
        elif token.isdigit():
            words.append(integer_words(token) if len(token) <= 4 else digit_words(token))
        else:
            # Anything else in an address is kept, so a second pass sees the same.
            words.append(_SYMBOLS.get(token, token))
    return " ".join(words)


def _address(match: re.Match[str]) -> str | None:
    # A bare "http://" says nothing and stays as written.
    return _words(match[0]) or None


RULES: tuple[tuple[re.Pattern[str], Render], ...] = (
    (_EMAIL, _address),
    (_URL, _address),
)
