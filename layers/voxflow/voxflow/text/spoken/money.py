"""Money: "$49.95", "£3 million", "5¢"."""

import re

from voxflow.text.spoken.patterns import INT, NOT_BEFORE_LETTER, Render
from voxflow.text.spoken.words import cardinal, integer_words, number_words

# symbol -> (unit, units, subunit, subunits)
_CURRENCIES = {
    "$": ("dollar", "dollars", "cent", "cents"),
    "€": ("euro", "euros", "cent", "cents"),
    "£": ("pound", "pounds", "penny", "pence"),
}
_SCALES = "thousand|million|billion|trillion"
_MONEY = re.compile(
    r"(?:(?<![\w.,-])(?P<neg>-))?(?P<sym>[$€£])\s?"
    rf"{INT}(?:\.(?P<frac>[0-9]+))?(?:\s(?P<scale>{_SCALES}){NOT_BEFORE_LETTER})?"
)


def _money(match: re.Match[str]) -> str:
    unit, units, subunit, subunits = _CURRENCIES[match["sym"]]
    integer, fraction, scale = match["int"], match["frac"], match["scale"]
    if scale:
        words = f"{number_words(integer, fraction)} {scale} {units}"
    elif fraction is None or len(fraction) > 2:
        # Fractions of a cent have no subunit name: "zero point one two five dollars".
        amount = number_words(integer, fraction)
        words = f"{amount} {unit if fraction is None and integer == '1' else units}"
    else:
        major = int(integer.replace(",", ""))
        minor = int(fraction.ljust(2, "0"))
        parts = []
        if major or not minor:
            parts.append(f"{integer_words(integer)} {unit if major == 1 else units}")
        if minor:
            parts.append(f"{cardinal(minor)} {subunit if minor == 1 else subunits}")
        words = " and ".join(parts)
    return f"minus {words}" if match["neg"] else words


RULES: tuple[tuple[re.Pattern[str], Render], ...] = ((_MONEY, _money),)
