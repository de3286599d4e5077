"""Unicode and whitespace cleanup that every later text stage relies on.

The spoken-form rules and the chunker only reason about ASCII digits,
ASCII punctuation and single spaces; this module is what makes that true.
"""

import re
import unicodedata

# Typographic punctuation the voice reads no better than its ASCII twin, and
# which the spoken-form regexes would otherwise have to spell out twice.
# Em dashes get spaces so "word—word" keeps its pause instead of reading as a
# hyphenated compound; en dashes stay tight because they mostly mark ranges.
_TYPOGRAPHIC = str.maketrans(
    {
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
)

# NFKC turns "1½" into "11⁄2", silently changing the number; a space keeps the
# whole part and the fraction apart.
_VULGAR_FRACTION_AFTER_DIGIT = re.compile(r"(?<=[0-9])(?=[\u00bc-\u00be\u2150-\u215e\u2189])")

_WHITESPACE_RUN = re.compile(r"\s+")


def _drop_invisible(text: str) -> str:
    # Category "C" is exactly Cc, Cf, Cs, Co and Cn: controls, zero-width
    # format characters, lone surrogates, private use and unassigned code
    # points. Whitespace controls (tab, newline...) still separate words.
    return "".join(
        " " if ch.isspace() else ch
        for ch in text
        if ch.isspace() or unicodedata.category(ch)[0] != "C"
    )


def clean_text(text: str) -> str:
    """Return ``text`` NFKC-normalized, without invisible characters, on one line.

    Invisible characters go *before* NFKC so that a base letter and a combining
    mark that were only separated by, say, a zero-width space compose now
    rather than on a second pass: the function is idempotent.
    """
    text = _drop_invisible(text)
    text = _VULGAR_FRACTION_AFTER_DIGIT.sub(" ", text)
    text = unicodedata.normalize("NFKC", text)
    text = text.translate(_TYPOGRAPHIC)
    return _WHITESPACE_RUN.sub(" ", text).strip()
