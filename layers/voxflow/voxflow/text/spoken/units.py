"""Units after a number: "5 km", "20°C", "3.5 GB", "60 mph", "250 ml", "5 MB/s"."""

import re

from voxflow.text.spoken.patterns import NOT_BEFORE_LETTER, NUMBER, Render, period
from voxflow.text.spoken.words import matched_number

# unit -> (singular, plural). Letters that are words or initials in their own
# right ("in", "A", "B", "K", "t", "G", "s") are left out: "5 in a row", "Plan 5 B",
# "the 1990s". NFKC has already turned "µ" into "μ" and "m²" into "m2".
_UNITS: dict[str, tuple[str, str]] = {
    "km/h": ("kilometer per hour", "kilometers per hour"),
    "kph": ("kilometer per hour", "kilometers per hour"),
    "mph": ("mile per hour", "miles per hour"),
    "m/s": ("meter per second", "meters per second"),
    "km": ("kilometer", "kilometers"),
    "m": ("meter", "meters"),
    "cm": ("centimeter", "centimeters"),
    "mm": ("millimeter", "millimeters"),
    "μm": ("micrometer", "micrometers"),
    "nm": ("nanometer", "nanometers"),
    "mi": ("mile", "miles"),
    "yd": ("yard", "yards"),
    "ft": ("foot", "feet"),
    "km2": ("square kilometer", "square kilometers"),
    "m2": ("square meter", "square meters"),
    "cm2": ("square centimeter", "square centimeters"),
    "sq ft": ("square foot", "square feet"),
    "m3": ("cubic meter", "cubic meters"),
    "cm3": ("cubic centimeter", "cubic centimeters"),
    "cc": ("cubic centimeter", "cubic centimeters"),
    "kg": ("kilogram", "kilograms"),
    "g": ("gram", "grams"),
    "mg": ("milligram", "milligrams"),
    "μg": ("microgram", "micrograms"),
    "lbs": ("pound", "pounds"),
    "lb": ("pound", "pounds"),
    "oz": ("ounce", "ounces"),
    "fl oz": ("fluid ounce", "fluid ounces"),
    "l": ("liter", "liters"),
    "L": ("liter", "liters"),
    "ml": ("milliliter", "milliliters"),
    "mL": ("milliliter", "milliliters"),
    "cl": ("centiliter", "centiliters"),
    "gal": ("gallon", "gallons"),
    "ms": ("millisecond", "milliseconds"),
    "μs": ("microsecond", "microseconds"),
    "ns": ("nanosecond", "nanoseconds"),
    "sec": ("second", "seconds"),
    "min": ("minute", "minutes"),
    "mins": ("minute", "minutes"),
    "h": ("hour", "hours"),
    "hr": ("hour", "hours"),
    "hrs": ("hour", "hours"),
    "KB": ("kilobyte", "kilobytes"),
    "kB": ("kilobyte", "kilobytes"),
    "MB": ("megabyte", "megabytes"),
    "GB": ("gigabyte", "gigabytes"),
    "TB": ("terabyte", "terabytes"),
    "PB": ("petabyte", "petabytes"),
    "kbps": ("kilobit per second", "kilobits per second"),
    "Mbps": ("megabit per second", "megabits per second"),
    "Gbps": ("gigabit per second", "gigabits per second"),
    "Hz": ("hertz", "hertz"),
    "kHz": ("kilohertz", "kilohertz"),
    "MHz": ("megahertz", "megahertz"),
    "GHz": ("gigahertz", "gigahertz"),
    "W": ("watt", "watts"),
    "kW": ("kilowatt", "kilowatts"),
    "MW": ("megawatt", "megawatts"),
    "kWh": ("kilowatt hour", "kilowatt hours"),
    "V": ("volt", "volts"),
    "mA": ("milliampere", "milliamperes"),
    "mAh": ("milliampere hour", "milliampere hours"),
    "kcal": ("kilocalorie", "kilocalories"),
    "cal": ("calorie", "calories"),
    "kPa": ("kilopascal", "kilopascals"),
    "hPa": ("hectopascal", "hectopascals"),
    "psi": ("pound per square inch", "pounds per square inch"),
    "dB": ("decibel", "decibels"),
    "°C": ("degree Celsius", "degrees Celsius"),
    "°F": ("degree Fahrenheit", "degrees Fahrenheit"),
    "° C": ("degree Celsius", "degrees Celsius"),
    "° F": ("degree Fahrenheit", "degrees Fahrenheit"),
    "°": ("degree", "degrees"),
}
# The denominators of "MB/s" and the like.
_PER = {"s": "second", "sec": "second", "min": "minute", "h": "hour", "hr": "hour", "day": "day"}

# Longest first, or "m" would take the "m" of "mph" and leave "ph".
UNIT = (
    rf"(?P<unit>{'|'.join(re.escape(u) for u in sorted(_UNITS, key=len, reverse=True))})"
    rf"(?:/(?P<per>{'|'.join(_PER)}))?{NOT_BEFORE_LETTER}(?![0-9])"
)
_UNIT = re.compile(rf"{NUMBER}\s?{UNIT}(?P<dot>\.)?")


def unit_words(match: re.Match[str], *, one: bool) -> str:
    """The unit of a match of ``UNIT``, singular or plural, with its period if any."""
    singular, plural = _UNITS[match["unit"]]
    words = singular if one else plural
    if match["per"]:
        words = f"{words} per {_PER[match['per']]}"
    return words + (period(match, sentence_end=True) if match["dot"] else "")


def _unit(match: re.Match[str]) -> str:
    one = match["int"] == "1" and match["frac"] is None
    return f"{matched_number(match)} {unit_words(match, one=one)}"


RULES: tuple[tuple[re.Pattern[str], Render], ...] = ((_UNIT, _unit),)
