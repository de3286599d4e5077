"""Money: "$49.95", "£3 million", "5¢", and ranges: "$10-20", "$3-5 million"."""

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
    rf"{INT}(?:\.(?P<frac>[0-9]+))?"
    r"(?:-(?P=sym)?(?P<high>[0-9]{1,3}(?:,[0-9]{3})+(?![0-9])|[0-9]+)"
    r"(?:\.(?P<high_frac>[0-9]+))?(?![0-9]|[.,/:-][0-9]))?"
    rf"(?:\s(?P<scale>{_SCALES}){NOT_BEFORE_LETTER})?"
)


def _amount(symbol: str, integer: str, fraction: str | None, scale: str | None) -> str:
    unit, units, subunit, subunits = _CURRENCIES[symbol]
    if scale:
        return f"{number_words(integer, fraction)} {scale} {units}"
    if fraction is None or len(fraction) > 2:
        # Fractions of a cent have no subunit name: "zero point one two five dollars".
        amount = number_words(integer, fraction)
        return f"{amount} {unit if fraction is None and integer == '1' else units}"
    major = int(integer.replace(",", ""))
    minor = int(fraction.ljust(2, "0"))
    parts = []
    if major or not minor:
        parts.append(f"{integer_words(integer)} {unit if major == 1 else units}")
    if minor:
        parts.append(f"{cardinal(minor)} {subunit if minor == 1 else subunits}")
    return " and ".join(parts)


def _money(match: re.Match[str]) -> str:
    symbol, scale = match["sym"], match["scale"]
    if match["high"] is None:
        words = _amount(symbol, match["int"], match["frac"], scale)
    else:
        # "$10-20" is "ten to twenty dollars"; with cents each end keeps its own.
        low = match["frac"] is None or scale is not None
        words = (
            (
                number_words(match["int"], match["frac"])
                if low
                else _amount(symbol, match["int"], match["frac"], None)
            )
            + " to "
            + _amount(symbol, match["high"], match["high_frac"], scale)
        )
    return f"minus {words}" if match["neg"] else words


RULES: tuple[tuple[re.Pattern[str], Render], ...] = ((_MONEY, _money),)
