"""Unicode and whitespace cleanup that every later text stage relies on.

The spoken-form rules and the chunker only reason about ASCII digits,
ASCII punctuation and single spaces; this module is what makes that true.
"""

import re
import unicodedata

from voxflow.text.mapped import TrackedText

# Typographic punctuation the voice reads no better than its ASCII twin, and
# which the spoken-form regexes would otherwise have to spell out twice.
# Em dashes get spaces so "word—word" keeps its pause instead of reading as a
# hyphenated compound; en dashes stay tight because they mostly mark ranges.
_TYPOGRAPHIC = {
    "\u2018": "'",
    "\u2019": "'",
    "\u201a": "'",
    "\u201b": "'",
    "\u2032": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u201e": '"',
    "\u201f": '"',
    "\u2033": '"',
    "\u00ab": '"',
    "\u00bb": '"',
    "\u2010": "-",
    "\u2011": "-",
    "\u2012": "-",
    "\u2013": "-",
    "\u2212": "-",
    "\u2014": " - ",
    "\u2015": " - ",
}

# NFKC turns "1½" into "11⁄2", silently changing the number; a space keeps the
# whole part and the fraction apart.
_VULGAR_FRACTION_AFTER_DIGIT = re.compile(r"(?<=[0-9])(?=[\u00bc-\u00be\u2150-\u215e\u2189])")

_WHITESPACE_RUN = re.compile(r"\s+")
_NON_ASCII_RUN = re.compile(r"[\x00-\x7f]?[^\x00-\x7f]+")
_EDGE_SPACE = re.compile(r"\A \Z|\A | \Z")


def _visible(ch: str) -> str:
    # Category "C" is exactly Cc, Cf, Cs, Co and Cn: controls, zero-width
    # format characters, lone surrogates, private use and unassigned code
    # points. Whitespace controls (tab, newline...) still separate words.
    if ch.isspace():
        return " "
    return "" if unicodedata.category(ch)[0] == "C" else ch


def _per_character(tracked: TrackedText, rewrite: dict[str, str]) -> TrackedText:
    text = tracked.text
    return tracked.replaced(
        (index, index + 1, rewrite[ch]) for index, ch in enumerate(text) if ch in rewrite
    )


def _drop_invisible(tracked: TrackedText) -> TrackedText:
    text = tracked.text
    if text.isprintable():
        # No control, format or unassigned character, and no whitespace but " ".
        return tracked
    # One pass of a regex over the characters that change, rather than a Python loop.
    changing = {ch: _visible(ch) for ch in set(text) if not ch.isprintable()}
    pattern = re.compile("|".join(re.escape(ch) for ch in changing))
    return tracked.replaced((m.start(), m.end(), changing[m[0]]) for m in pattern.finditer(text))


def _nfkc(tracked: TrackedText) -> TrackedText:
    """NFKC, segment by segment so that only the characters it changes lose their exact map."""
    text = tracked.text
    if unicodedata.is_normalized("NFKC", text):
        return tracked
    whole = unicodedata.normalize("NFKC", text)
    edits: list[tuple[int, int, str]] = []
    # ASCII is NFKC-stable and never the second half of a composition, so only
    # non-ASCII runs (with the character before each) can change.
    for region in _NON_ASCII_RUN.finditer(text):
        start = region.start()
        for index in range(start + 1, region.end() + 1):
            if index < region.end() and not _segment_boundary(text[index - 1], text[index]):
                continue
            segment = text[start:index]
            if not unicodedata.is_normalized("NFKC", segment):
                edits.append((start, index, unicodedata.normalize("NFKC", segment)))
            start = index
    result = tracked.replaced(edits)
    if result.text != whole:
        # A composition the segmentation did not foresee: map it coarsely but never wrongly.
        return tracked.replaced([(0, len(text), whole)])
    return result


def _segment_boundary(before: str, ch: str) -> bool:
    if ch < "\x80":
        # No ASCII character is the second half of a composition.
        return True
    if unicodedata.combining(ch):
        return False
    pair = unicodedata.normalize("NFKC", before + ch)
    return pair == unicodedata.normalize("NFKC", before) + unicodedata.normalize("NFKC", ch)


def _sub(tracked: TrackedText, pattern: re.Pattern[str], replacement: str) -> TrackedText:
    return tracked.replaced(
        (m.start(), m.end(), replacement) for m in pattern.finditer(tracked.text)
    )


def _collapse_whitespace(tracked: TrackedText) -> TrackedText:
    # The first character of a run stays in place (as a space) and the rest go, so the
    # space keeps one character's origin instead of standing for the whole run.
    edits: list[tuple[int, int, str]] = []
    for match in _WHITESPACE_RUN.finditer(tracked.text):
        start, end = match.span()
        if match[0][0] != " ":
            edits.append((start, start + 1, " "))
        if end - start > 1:
            edits.append((start + 1, end, ""))
    return tracked.replaced(edits)


def clean_tracked(tracked: TrackedText) -> TrackedText:
    """``clean_text`` on tracked text: every character keeps its place in the original."""
    tracked = _drop_invisible(tracked)
    tracked = _sub(tracked, _VULGAR_FRACTION_AFTER_DIGIT, " ")
    tracked = _nfkc(tracked)
    tracked = _per_character(tracked, _TYPOGRAPHIC)
    tracked = _collapse_whitespace(tracked)
    return _sub(tracked, _EDGE_SPACE, "")


def clean_text(text: str) -> str:
    """Return ``text`` NFKC-normalized, without invisible characters, on one line.

    Invisible characters go *before* NFKC so that a base letter and a combining
    mark that were only separated by, say, a zero-width space compose now
    rather than on a second pass: the function is idempotent.
    """
    return clean_tracked(TrackedText.of(text)).text
