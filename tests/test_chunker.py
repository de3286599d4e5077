"""Sentence chunking: invariants for any text, and where cuts land."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from voxflow.errors import InvalidParameter
from voxflow.text import iter_chunks, split_into_chunks

_WORDS = st.one_of(
    st.sampled_from(
        ["Mr.", "Dr.", "e.g.", "U.S.", "J.", "I.", "etc.", "No.", "3.5", "a.m.", "...", "-", "—"]
    ),
    st.text(st.sampled_from("abcXYZ"), min_size=1, max_size=12),
    st.text(st.sampled_from("abc"), min_size=30, max_size=700),  # longer than some limits
    st.text(st.sampled_from(".,;:!?…\"')(-—"), min_size=1, max_size=4),
    st.text(st.characters(exclude_categories=()), min_size=1, max_size=8),
)
_SEPARATORS = st.sampled_from([" ", "  ", "\n", "\t", ". ", "! ", "? ", ", ", "; ", "\u3000"])
_STRUCTURED = st.lists(st.tuples(_WORDS, _SEPARATORS), max_size=60).map(
    lambda parts: "".join(word + sep for word, sep in parts)
)
_TEXTS = st.one_of(
    _STRUCTURED,
    st.text(st.characters(exclude_categories=()), max_size=400),
    st.text(st.sampled_from("ab "), max_size=1500),  # no punctuation at all
    st.text(st.sampled_from("a.!?, "), max_size=400),  # mostly punctuation
)
_LIMITS = st.integers(min_value=20, max_value=500)


@settings(max_examples=300, deadline=None)
@given(_TEXTS, _LIMITS)
def test_chunks_are_bounded_stripped_and_non_empty(text: str, max_chars: int) -> None:
    for chunk in split_into_chunks(text, max_chars):
        assert 0 < len(chunk) <= max_chars
        assert chunk == chunk.strip()


@settings(max_examples=300, deadline=None)
@given(_TEXTS, _LIMITS)
def test_no_character_is_lost_or_reordered(text: str, max_chars: int) -> None:
    chunks = split_into_chunks(text, max_chars)
    assert "".join("".join(chunks).split()) == "".join(text.split())


@settings(max_examples=300, deadline=None)
@given(_TEXTS, _LIMITS)
def test_words_kept_in_order_when_no_word_needs_a_hard_cut(text: str, max_chars: int) -> None:
    # Only a word longer than the limit is split; every other word comes back whole.
    if all(len(word) <= max_chars for word in text.split()):
        assert " ".join(split_into_chunks(text, max_chars)).split() == text.split()


@settings(max_examples=300, deadline=None)
@given(_TEXTS, _LIMITS)
def test_iter_chunks_matches_split_into_chunks(text: str, max_chars: int) -> None:
    assert list(iter_chunks(text, max_chars)) == split_into_chunks(text, max_chars)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Hello there. How are you? I am fine! Thanks.",
            ["Hello there.", "How are you?", "I am fine!", "Thanks."],
        ),
        ('He said "Stop." Then he left.', ['He said "Stop."', "Then he left."]),
        ("Wait… What happened?", ["Wait…", "What happened?"]),
        ("No split on 3.5 or on pi=3.14 here.", ["No split on 3.5 or on pi=3.14 here."]),
        ("", []),
        ("   \n ", []),
        ("no terminal punctuation", ["no terminal punctuation"]),
        # Stray punctuation belongs to the next sentence, not a chunk of its own.
        ("Hi. ... Then more.", ["Hi.", "... Then more."]),
    ],
)
def test_sentence_split(text: str, expected: list[str]) -> None:
    assert split_into_chunks(text) == expected


@pytest.mark.parametrize(
    "sentence",
    [
        "Mr. Smith and Dr. Jones met Mrs. Brown.",
        "Fruit, e.g. apples, i.e. the red ones, are fine.",
        "J. R. R. Tolkien lived in the U.S. for a while.",
        "Cats vs. dogs is an old debate.",
        "We met at 8 a.m. on a Monday.",
        "See No. 5 and St. Louis.",
    ],
)
def test_abbreviations_do_not_end_sentences(sentence: str) -> None:
    assert split_into_chunks(sentence) == [sentence]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Apples, pears, etc. Then more.", ["Apples, pears, etc.", "Then more."]),
        ("We left at 8 a.m. Then it rained.", ["We left at 8 a.m.", "Then it rained."]),
        ("It was I. You know it.", ["It was I.", "You know it."]),
    ],
)
def test_ambiguous_abbreviations_end_before_a_capital(text: str, expected: list[str]) -> None:
    assert split_into_chunks(text) == expected


def test_over_long_sentence_is_cut_at_clauses_before_words() -> None:
    sentence = (
        "The first clause is here, the second clause follows it, "
        "and the third clause ends the sentence."
    )
    assert split_into_chunks(sentence, max_chars=60) == [
        "The first clause is here, the second clause follows it,",
        "and the third clause ends the sentence.",
    ]


def test_clause_cuts_include_semicolons_colons_and_dashes() -> None:
    sentence = "one two three four five; six seven eight nine: ten eleven twelve - thirteen end."
    assert split_into_chunks(sentence, max_chars=30) == [
        "one two three four five;",
        "six seven eight nine:",
        "ten eleven twelve -",
        "thirteen end.",
    ]


def test_over_long_clause_is_cut_between_words() -> None:
    clause = " ".join(["word"] * 20) + "."
    chunks = split_into_chunks(clause, max_chars=25)
    assert chunks == [
        "word word word word word",
        "word word word word word",
        "word word word word word",
        "word word word word word.",
    ]


def test_over_long_word_is_hard_cut() -> None:
    word = "x" * 50
    assert split_into_chunks(f"Short. {word} end.", max_chars=20) == [
        "Short.",
        "x" * 20,
        "x" * 20,
        "x" * 10 + " end.",
    ]


def test_short_sentences_are_never_merged() -> None:
    assert split_into_chunks("Yes. No. Maybe. Ok!", max_chars=500) == [
        "Yes.",
        "No.",
        "Maybe.",
        "Ok!",
    ]


def test_same_sentence_gives_same_chunk_in_any_context() -> None:
    sentence = "The cache keys audio by sentence, so this one must stay identical."
    contexts = [
        f"{sentence}",
        f"Before it. {sentence} After it!",
        f"Something else entirely? {sentence}",
        f"Mr. Smith spoke. {sentence} Dr. Jones agreed.",
    ]
    for text in contexts:
        assert sentence in split_into_chunks(text, max_chars=100)


def test_same_long_sentence_is_cut_the_same_way_in_any_context() -> None:
    sentence = "alpha beta gamma, delta epsilon zeta, eta theta iota, kappa lambda mu."
    alone = split_into_chunks(sentence, max_chars=40)
    embedded = split_into_chunks(f"Intro here. {sentence} Outro there.", max_chars=40)
    assert len(alone) > 1
    assert embedded == ["Intro here.", *alone, "Outro there."]


@pytest.mark.parametrize("limit", [19, 0, -5])
def test_limit_below_twenty_is_invalid(limit: int) -> None:
    with pytest.raises(InvalidParameter):
        split_into_chunks("Hello.", max_chars=limit)
    # The generator variant validates eagerly, before the first next().
    with pytest.raises(InvalidParameter):
        iter_chunks("Hello.", max_chars=limit)
