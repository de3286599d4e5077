"""normalize_mapped: the normalized text with spans back into the original text."""

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from mapped_checks import assert_spans_consistent, word_sources

from voxflow.errors import EmptyText
from voxflow.text import MappedText, SourceSpan, normalize_mapped, normalize_text


def test_a_rewritten_match_is_one_span_over_the_whole_original() -> None:
    original = "It costs $49.95 today."
    mapped = normalize_mapped(original)
    assert mapped.text == "It costs forty-nine dollars and ninety-five cents today."
    assert mapped.spans == (
        SourceSpan(0, 9, 0, 9),
        SourceSpan(9, 49, 9, 15),
        SourceSpan(49, 56, 15, 22),
    )
    # Any part of "forty-nine dollars and ninety-five cents" comes from all of "$49.95".
    assert mapped.source_range(9, 19) == (9, 15)
    assert mapped.source_range(30, 31) == (9, 15)
    # Unchanged text maps character for character, a range over both covers both.
    assert mapped.source_range(3, 8) == (3, 8)
    assert mapped.source_range(3, 20) == (3, 15)
    assert mapped.source_range(50, 55) == (16, 21)


def test_each_word_maps_to_the_words_the_user_wrote() -> None:
    original = "Dr. Ng  paid\n$5 on 2024-03-05, in 1999 - “really”."
    mapped = normalize_mapped(original)
    assert word_sources(original, mapped) == [
        ("Doctor", "Dr."),
        ("Ng", "Ng"),
        ("paid", "paid"),
        ("five", "$5"),
        ("dollars", "$5"),
        ("on", "on"),
        ("March", "2024-03-05"),
        ("fifth,", "2024-03-05"),
        ("twenty", "2024-03-05"),
        ("twenty-four,", "2024-03-05,"),
        ("in", "in"),
        ("nineteen", "1999"),
        ("ninety-nine", "1999"),
        ("-", "-"),
        ('"really".', "“really”."),
    ]


def test_cleanup_rewrites_are_mapped() -> None:
    original = "\u200b“ﬁne”\x00 word—word  e\u0301\n"
    mapped = normalize_mapped(original, spoken_form=False)
    assert mapped.text == '"fine" word - word é'
    assert_spans_consistent(original, mapped)
    assert word_sources(original, mapped) == [
        ('"fine"', "“ﬁne”"),
        ("word", "word"),
        ("-", "—"),
        ("word", "word"),
        ("é", "e\u0301"),
    ]


def test_empty_and_out_of_range_requests() -> None:
    mapped = normalize_mapped("Hi $5")
    assert mapped.source_range(2, 2) == (2, 2)
    assert mapped.source_range(len(mapped.text), len(mapped.text)) == (5, 5)
    for start, end in [(-1, 2), (3, 2), (0, len(mapped.text) + 1)]:
        with pytest.raises(ValueError, match="outside"):
            mapped.source_range(start, end)
    assert MappedText("", ()).source_range(0, 0) == (0, 0)


def test_a_rewrite_that_keeps_the_length_still_maps_as_a_whole() -> None:
    original = "see http://-.com"
    mapped = normalize_mapped(original)
    assert mapped.text == "see dash dot com"
    assert mapped.spans[-1] == SourceSpan(4, 16, 4, 16)
    assert not mapped.char_for_char(len(mapped.spans) - 1)
    assert mapped.source_range(9, 12) == (4, 16)
    # Built without the flags, equal lengths count as unchanged.
    bare = MappedText(mapped.text, mapped.spans)
    assert bare == mapped
    assert bare.source_range(9, 12) == (9, 12)


def test_mapped_text_is_frozen() -> None:
    mapped = normalize_mapped("hello")
    with pytest.raises(AttributeError):
        mapped.text = "other"  # type: ignore[misc]


# The same rule soup as test_text_normalize, plus the new families' triggers.
_TOKENS = st.sampled_from(
    [
        "$", "€", "%", "&", "#", ":", ".", ",", "-", "–", "—", "/", "'", "°C", "½", "+", "(", ")",
        "@", "Dr.", "Dr", "St.", "St", "No.", "vs", "e.g.", "etc.", "Jan.", "March", "am", "km",
        "GB", "mph", "in", "since", "The", "Main", "Louis", "Henry", "VIII", "World War", "II",
        "I", "MIX", "Pope", "http://", "www.", "example", ".com", "x", "1", "5", "8:00", "12",
        "555", "0104", "2024", "1999", "03", "1,234", "3.5", "0.50", "1990s", "“", "\n", "\u200b",
        "e\u0301", "ﬁ", "１",
    ]
)  # fmt: skip
_SEPARATORS = st.sampled_from(["", " ", "  ", ". ", ", ", "\n", "-"])
_RULE_SOUP = st.lists(st.tuples(_TOKENS, _SEPARATORS), max_size=12).map(
    lambda parts: "".join(token + sep for token, sep in parts)
)
_ANY_TEXT = st.text(st.characters(exclude_categories=()), max_size=60)


@settings(max_examples=500, deadline=None)
@given(st.one_of(_RULE_SOUP, _ANY_TEXT))
def test_spans_are_ordered_in_range_and_cover_the_text(text: str) -> None:
    try:
        mapped = normalize_mapped(text)
    except EmptyText:
        return
    assert mapped.text == normalize_text(text)
    assert_spans_consistent(text, mapped)
    for start in range(0, len(mapped.text), 7):
        source_start, source_end = mapped.source_range(start, min(start + 5, len(mapped.text)))
        assert 0 <= source_start <= source_end <= len(text)


_PLAIN_WORD = st.text(st.sampled_from("abcdefghijklmnopqrstuwxyz,;!?'"), min_size=1, max_size=8)
_WHITESPACE = st.text(st.sampled_from(" \t\n\r\u00a0\u2003"), min_size=1, max_size=3)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(_PLAIN_WORD, _WHITESPACE), min_size=1, max_size=10),
    _WHITESPACE,
)
def test_text_without_rewrites_maps_each_word_onto_itself(
    parts: list[tuple[str, str]], lead: str
) -> None:
    original = lead + "".join(word + space for word, space in parts)
    try:
        mapped = normalize_mapped(original)
    except EmptyText:
        return
    assume(mapped.text.split() == original.split())
    for word, source in word_sources(original, mapped):
        assert source == word
    assert all(mapped.char_for_char(index) for index in range(len(mapped.spans)))
