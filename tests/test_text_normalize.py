"""Text cleanup and spoken-form normalization: exact readings, errors, idempotence."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from voxflow.errors import EmptyText, InvalidParameter, TextTooLong
from voxflow.text import clean_text, normalize_text, to_spoken_form
from voxflow.text import spoken as spoken_module

CLEAN_CASES = [
    pytest.param("ﬁne ＡＢＣ １２３", "fine ABC 123", id="nfkc-compatibility"),
    pytest.param("e\u0301te\u0301", "été", id="nfkc-composition"),
    pytest.param("a\x00b\x07c\x1bd", "abcd", id="control-chars"),
    pytest.param("line one\nline two\r\n\tthree", "line one line two three", id="newlines-tabs"),
    pytest.param("lone \ud800surrogate", "lone surrogate", id="lone-surrogate"),
    pytest.param("zero\u200bwidth\u200c\u200d\ufeff joiners", "zerowidth joiners", id="zero-width"),
    pytest.param("soft\u00adhyphen", "softhyphen", id="soft-hyphen"),
    pytest.param("private\ue000 use", "private use", id="private-use"),
    pytest.param("e\u200b\u0301", "é", id="combining-mark-behind-zero-width"),
    pytest.param("  many   \u00a0\u2003 spaces  ", "many spaces", id="whitespace-collapse"),
    pytest.param("“quoted” ‘single’ it’s", "\"quoted\" 'single' it's", id="typographic-quotes"),
    pytest.param("pages 3–5 and a pause—here", "pages 3-5 and a pause - here", id="dashes"),
    pytest.param("−5 degrees", "-5 degrees", id="minus-sign"),
    pytest.param("wait…", "wait...", id="ellipsis"),
    pytest.param("1½ cups", "1 1⁄2 cups", id="mixed-fraction-kept-apart"),
    pytest.param("", "", id="empty"),
]


@pytest.mark.parametrize(("raw", "expected"), CLEAN_CASES)
def test_clean_text(raw: str, expected: str) -> None:
    assert clean_text(raw) == expected


SPOKEN_CASES = [
    # money
    ("$49.95", "forty-nine dollars and ninety-five cents"),
    ("$1", "one dollar"),
    ("$0.50", "fifty cents"),
    ("$1.01", "one dollar and one cent"),
    ("$1.00", "one dollar"),
    ("$4.5", "four dollars and fifty cents"),
    ("$0.125", "zero point one two five dollars"),
    ("€5", "five euros"),
    ("£3", "three pounds"),
    ("£3.50", "three pounds and fifty pence"),
    ("£0.01", "one penny"),
    ("$1,200", "one thousand, two hundred dollars"),
    ("$2.5 million", "two point five million dollars"),
    ("$1 billion", "one billion dollars"),
    ("-$5", "minus five dollars"),
    # times
    ("8:00", "eight o'clock"),
    ("8:30", "eight thirty"),
    ("8:05", "eight oh five"),
    ("8:00 am", "eight A M"),
    ("8:00 PM", "eight P M"),
    ("8:45 p.m. sharp", "eight forty-five P M sharp"),
    ("5pm", "five P M"),
    ("We left at 8 a.m. Then it rained.", "We left at eight A M. Then it rained."),
    ("at 11 a.m. on the dot", "at eleven A M on the dot"),
    ("13:00", "thirteen hundred"),
    ("20:45", "twenty forty-five"),
    # dates
    ("2024-03-15", "March fifteenth, twenty twenty-four"),
    ("03/15/2024", "March fifteenth, twenty twenty-four"),
    ("March 15, 2024", "March fifteenth, twenty twenty-four"),
    ("March 15", "March fifteenth"),
    ("15 March 2024", "the fifteenth of March, twenty twenty-four"),
    ("Jan. 5th, 2020", "January fifth, twenty twenty"),
    ("Sept 3", "September third"),
    # years only where they clearly are years
    ("in 1999", "in nineteen ninety-nine"),
    ("Since 2005 we grew", "Since two thousand and five we grew"),
    ("from 1905", "from nineteen oh-five"),
    ("1999 people", "one thousand, nine hundred and ninety-nine people"),
    ("the 1990s", "the nineteen nineties"),
    ("the '80s", "the eighties"),
    # ordinals
    ("3rd", "third"),
    ("21st", "twenty-first"),
    ("100th", "one hundredth"),
    ("the 2nd and 4th", "the second and fourth"),
    # percentages
    ("45%", "forty-five percent"),
    ("3.5%", "three point five percent"),
    ("-2 %", "minus two percent"),
    # plain numbers
    ("1,234", "one thousand, two hundred and thirty-four"),
    ("3.14", "three point one four"),
    ("-5", "minus five"),
    ("-3.5", "minus three point five"),
    ("0", "zero"),
    ("1,000,000", "one million"),
    ("007", "zero zero seven"),
    ("5551234567", "five five five one two three four five six seven"),
    ("1.2.3", "one dot two dot three"),
    ("COVID-19", "COVID-nineteen"),
    ("5G and H2O", "five G and H two O"),
    ("3-5", "three to five"),
    # units after a number
    ("5 km", "five kilometers"),
    ("1 km", "one kilometer"),
    ("2.5kg", "two point five kilograms"),
    ("1 lb", "one pound"),
    ("10 lbs. of flour", "ten pounds of flour"),
    ("It weighs 10 lb.", "It weighs ten pounds."),
    ("60 mph", "sixty miles per hour"),
    ("20°C", "twenty degrees Celsius"),
    ("the km marker", "the km marker"),
    # fractions from vulgar fraction characters
    ("½", "one half"),
    ("1½ cups", "one and one half cups"),
    ("¾", "three quarters"),
    # abbreviations
    ("Dr. Smith is here.", "Doctor Smith is here."),
    ("Ask the Dr.", "Ask the Doctor."),
    ("Mr. & Mrs. Jones", "Mister and Missus Jones"),
    ("Ms. Lee", "Miz Lee"),
    ("Tom & Jerry", "Tom and Jerry"),
    ("St. Louis", "Saint Louis"),
    ("on Main St.", "on Main Street."),
    ("Main St. is busy", "Main Street is busy"),
    ("cats vs. dogs", "cats versus dogs"),
    ("cats vs dogs", "cats versus dogs"),
    ("fruit, e.g. apples", "fruit, for example apples"),
    ("fruit, e.g., apples", "fruit, for example, apples"),
    ("one, i.e. a single one", "one, that is a single one"),
    ("approx. 5", "approximately five"),
    ("No. 5", "number five"),
    ("#1", "number one"),
    ("No. I refuse.", "No. I refuse."),
    ("apples, pears, etc. Then more.", "apples, pears, et cetera. Then more."),
    ("apples, etc. and more", "apples, et cetera and more"),
    ("John Smith Jr. was there", "John Smith Junior was there"),
    ("in Jan. we ski", "in Jan. we ski"),
]


@pytest.mark.parametrize(("raw", "expected"), SPOKEN_CASES)
def test_spoken_form(raw: str, expected: str) -> None:
    assert normalize_text(raw) == expected


@pytest.mark.parametrize("impossible", ["2024-02-30", "13/01/2024", "2023-02-29"])
def test_impossible_dates_are_not_read_as_dates(impossible: str) -> None:
    spoken = normalize_text(impossible)
    assert not any(month in spoken for month in ("January", "February", "March"))


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ("It costs $49.95 today.", "forty-nine dollars and ninety-five cents"),
        ("Meet me at 8:00 sharp.", "eight o'clock"),
        ("The 3rd time.", "third"),
    ],
)
def test_spoken_form_in_sentences(raw: str, fragment: str) -> None:
    assert fragment in normalize_text(raw)


@pytest.mark.parametrize(
    "plain",
    [
        "The quick brown fox jumps over the lazy dog.",
        "Hello, world! How are you? Fine; thanks: really.",
        'It\'s a "quoted" phrase - with a dash.',
        "Café naïve résumé, déjà vu.",
        "No. I won't. May I? Street art in Mar del Plata.",
        "",
    ],
)
def test_text_without_numbers_or_abbreviations_is_unchanged(plain: str) -> None:
    assert to_spoken_form(plain) == plain


def test_spoken_form_can_be_switched_off() -> None:
    assert normalize_text("  Dr. Who paid $5\n", spoken_form=False) == "Dr. Who paid $5"


@pytest.mark.parametrize("raw", ["", "   ", "\x00\x01", "\u200b\ufeff", "...!!", " - ? "])
def test_nothing_to_speak_is_empty_text(raw: str) -> None:
    with pytest.raises(EmptyText):
        normalize_text(raw)


def test_too_long_counts_the_raw_input() -> None:
    assert normalize_text("a" * 10, max_chars=10) == "a" * 10
    with pytest.raises(TextTooLong) as raised:
        normalize_text("a" * 11, max_chars=10)
    assert (raised.value.length, raised.value.limit) == (11, 10)
    # Whitespace that cleanup would remove still counts: the limit guards work.
    with pytest.raises(TextTooLong):
        normalize_text("a" + " " * 10, max_chars=10)


def test_too_long_is_raised_before_any_work(monkeypatch: pytest.MonkeyPatch) -> None:
    def must_not_run_tracked(tracked: object) -> object:
        raise AssertionError("cleanup ran on oversized input")

    monkeypatch.setattr(spoken_module, "clean_tracked", must_not_run_tracked)
    huge = "1" * 50_000_000
    with pytest.raises(TextTooLong) as raised:
        normalize_text(huge)
    assert raised.value.length == len(huge)
    assert raised.value.limit == 100_000


@pytest.mark.parametrize("limit", [0, -1])
def test_limit_below_one_is_invalid(limit: int) -> None:
    with pytest.raises(InvalidParameter):
        normalize_text("hello", max_chars=limit)


def test_errors_carry_stable_codes() -> None:
    with pytest.raises(EmptyText) as empty:
        normalize_text("   ")
    with pytest.raises(TextTooLong) as too_long:
        normalize_text("ab", max_chars=1)
    assert (empty.value.code, too_long.value.code) == ("EMPTY_TEXT", "TEXT_TOO_LONG")


# Pieces that trigger the rules, glued together by arbitrary separators, find
# far more rule interactions than uniformly random text would.
_TOKENS = st.sampled_from(
    [
        "$", "€", "£", "%", "&", "#", ":", ".", ",", "-", "/", "'", "°C", "½", "\u2044",
        "Dr.", "Mr.", "Mrs.", "St.", "No.", "no.", "vs", "vs.", "e.g.", "i.e.", "etc.",
        "approx.", "Jr.", "Jan.", "Sept", "March", "May", "am", "p.m.", "PM", "km", "lbs.",
        "st", "th", "s", "in", "since", "million", "The", "x", "A", "1", "5", "8:00", "12",
        "2024", "1999", "03", "15", "1,234", "3.5", "0.50", "00", "1990s", "'80s",
    ]
)  # fmt: skip
_SEPARATORS = st.sampled_from(["", " ", "  ", ". ", ", ", "\n", "-"])
_RULE_SOUP = st.lists(st.tuples(_TOKENS, _SEPARATORS), max_size=12).map(
    lambda parts: "".join(token + sep for token, sep in parts)
)
_ANY_TEXT = st.text(st.characters(exclude_categories=()), max_size=60)


def _normalized_or_none(text: str) -> str | None:
    try:
        return normalize_text(text)
    except EmptyText:
        return None


@settings(max_examples=500, deadline=None)
@given(st.one_of(_RULE_SOUP, _ANY_TEXT))
def test_normalize_text_is_idempotent(text: str) -> None:
    once = _normalized_or_none(text)
    if once is not None:
        assert normalize_text(once) == once


@settings(max_examples=300, deadline=None)
@given(st.one_of(_RULE_SOUP, _ANY_TEXT))
def test_normalized_text_has_no_ascii_digits(text: str) -> None:
    once = _normalized_or_none(text)
    if once is not None:
        assert not any("0" <= ch <= "9" for ch in once)


@settings(max_examples=500, deadline=None)
@given(_ANY_TEXT)
def test_clean_text_is_idempotent_and_tidy(text: str) -> None:
    cleaned = clean_text(text)
    assert clean_text(cleaned) == cleaned
    assert cleaned == cleaned.strip()
    assert "  " not in cleaned
    assert not any(0xD800 <= ord(ch) <= 0xDFFF for ch in cleaned)


def test_spoken_form_is_split_by_rule_family_behind_the_same_names() -> None:
    """voxflow.text.spoken is a package of one module per rule family, each small; its
    public names are the ones the single module had, and the families run in order, the
    catch-all number rule last."""
    from pathlib import Path

    from voxflow.text import DEFAULT_MAX_CHARS, spoken

    assert (spoken.DEFAULT_MAX_CHARS, spoken.normalize_text, spoken.to_spoken_form) == (
        DEFAULT_MAX_CHARS,
        normalize_text,
        to_spoken_form,
    )
    modules = sorted(Path(spoken.__file__).parent.glob("*.py"))
    assert [module.stem for module in modules] == [
        "__init__",
        "abbreviations",
        "dates",
        "money",
        "patterns",
        "phone",
        "quantities",
        "ranges",
        "roman",
        "streets",
        "units",
        "web",
        "words",
    ]
    assert all(len(module.read_text().splitlines()) <= 150 for module in modules)
    families = [
        spoken.web.RULES,
        spoken.abbreviations.RULES,
        spoken.streets.RULES,
        spoken.roman.RULES,
        spoken.phone.RULES,
        spoken.money.RULES,
        spoken.dates.RULES,
        spoken.ranges.RULES,
        spoken.units.RULES,
        spoken.quantities.RULES,
    ]
    assert tuple(rule for family in families for rule in family) == spoken._RULES
    assert to_spoken_form("Dr. Ng paid $5 on 2024-03-05 at 8:00, 50% of 12,345") == (
        "Doctor Ng paid five dollars on March fifth, twenty twenty-four at eight o'clock,"
        " fifty percent of twelve thousand, three hundred and forty-five"
    )
