"""Lexicons: PLS parsing (valid, invalid, hostile), application to a speech document
(whole words, order, Sources), and the table behind `voxflow lexicons` on moto."""

import time

import boto3
import pytest
from moto import mock_aws

from voxflow.engine.params import ResolvedParams
from voxflow.errors import InvalidLexicon, InvalidParameter, LexiconNotFound, TextTooLong
from voxflow.events import InvalidRequest, ItemRequest, parse_request
from voxflow.keys import KeyInput, request_key
from voxflow.lexicons import Alias, Phoneme, content_hash
from voxflow.lexicons.apply import apply_lexicons
from voxflow.lexicons.pls import parse_lexicon
from voxflow.lexicons.store import (
    LexiconTable,
    StoredLexicon,
    create_lexicons_table,
    resolve_lexicons,
)
from voxflow.text.document import Phonemes, Source, SpeechDocument, Text

HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<lexicon version="1.0" xmlns="http://www.w3.org/2005/01/pronunciation-lexicon" '
    'alphabet="{alphabet}" xml:lang="en-US">\n'
)


def pls(*lexemes: str, alphabet: str = "ipa") -> str:
    return HEAD.format(alphabet=alphabet) + "\n".join(lexemes) + "\n</lexicon>"


def alias(grapheme: str, words: str) -> str:
    return f"<lexeme><grapheme>{grapheme}</grapheme><alias>{words}</alias></lexeme>"


def phoneme(grapheme: str, ipa: str) -> str:
    return f"<lexeme><grapheme>{grapheme}</grapheme><phoneme>{ipa}</phoneme></lexeme>"


class Repository:
    def __init__(self, **contents: str) -> None:
        self.items = {
            name: StoredLexicon(name, content, content_hash(content), "")
            for name, content in contents.items()
        }

    def get(self, name: str) -> StoredLexicon | None:
        return self.items.get(name)


# -- parsing -------------------------------------------------------------------------


def test_polly_example_parses_with_alias_and_phoneme() -> None:
    content = pls(alias("W3C", "World Wide Web Consortium"), phoneme("tomato", "təˈmɑːtoʊ"))
    lexicon = parse_lexicon("Polly1", content)
    assert [lexeme.graphemes for lexeme in lexicon.lexemes] == [("W3C",), ("tomato",)]
    assert [lexeme.pronunciation for lexeme in lexicon.lexemes] == [
        Alias("World Wide Web Consortium"),
        Phoneme("təˈmɑːtoʊ"),
    ]
    assert lexicon.language == "en-US"
    assert lexicon.sha256 == content_hash(content)


def test_several_graphemes_whitespace_and_the_preferred_pronunciation() -> None:
    lexeme = (
        "<lexeme><grapheme>New\n  York</grapheme><grapheme>NYC</grapheme>"
        "<example>ignored</example><alias>first</alias>"
        '<alias prefer="true">the Big Apple</alias></lexeme>'
    )
    (parsed,) = parse_lexicon("ny", pls(lexeme)).lexemes
    assert parsed.graphemes == ("New York", "NYC")
    assert parsed.pronunciation == Alias("the Big Apple")


def test_x_sampa_entries_become_ipa() -> None:
    lexicon = parse_lexicon("xs", pls(phoneme("tomato", 't@"mA:t@U'), alphabet="x-sampa"))
    assert lexicon.lexemes[0].pronunciation == Phoneme("təˈmɑːtəʊ")
    with pytest.raises(InvalidLexicon, match="x-sampa"):  # IPA is not x-sampa
        parse_lexicon("xs", pls(phoneme("tomato", "t@ə"), alphabet="x-sampa"))


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("<lexicon", "malformed XML at line 1"),
        ("<lexicon version='1.0' alphabet='ipa'/>", "PLS namespace"),
        (pls().replace('version="1.0"', 'version="2.0"'), "version"),
        (pls(alphabet="arpabet"), "alphabet"),
        (pls("<lexeme><alias>x</alias></lexeme>"), "lexeme 1: no <grapheme>"),
        (pls("<lexeme><grapheme>x</grapheme></lexeme>"), "no <alias> or <phoneme>"),
        (pls("<lexeme><grapheme> </grapheme><alias>a</alias></lexeme>"), "empty"),
        (pls("<lexeme><grapheme>x<b/></grapheme><alias>a</alias></lexeme>"), "text only"),
        (pls("<lexeme><grapheme>x</grapheme><sub>a</sub></lexeme>"), "cannot hold <sub>"),
        (pls("<word/>"), "cannot hold <word>"),
        (pls(alias("x", "y")).replace("<alias>", '<alias xmlns="urn:x">'), "namespace"),
        ("<x>" + "a" * 4_000 + "</x>", "4007 characters; the limit is 4000"),
    ],
)
def test_invalid_lexicons_are_typed_errors_naming_no_words(content: str, fragment: str) -> None:
    with pytest.raises(InvalidLexicon) as raised:
        parse_lexicon("bad", content)
    assert fragment in str(raised.value)
    assert raised.value.code == "INVALID_LEXICON"


BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lexicon [<!ENTITY a "aaaaaaaaaa">'
    + "".join(f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(9))
    + ']><lexicon version="1.0" xmlns="http://www.w3.org/2005/01/pronunciation-lexicon" '
    'alphabet="ipa"><lexeme><grapheme>j</grapheme><alias>&j;</alias></lexeme></lexicon>'
)
EXTERNAL_ENTITY = (
    '<?xml version="1.0"?><!DOCTYPE l [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    '<lexicon version="1.0" xmlns="http://www.w3.org/2005/01/pronunciation-lexicon" '
    'alphabet="ipa"><lexeme><grapheme>x</grapheme><alias>&x;</alias></lexeme></lexicon>'
)


@pytest.mark.parametrize("content", [BILLION_LAUGHS, EXTERNAL_ENTITY, "<!DOCTYPE l><l/>"])
def test_hostile_xml_is_refused_before_expansion_and_fast(content: str) -> None:
    started = time.perf_counter()
    with pytest.raises(InvalidLexicon, match="forbidden XML construct"):
        parse_lexicon("evil", content)
    assert time.perf_counter() - started < 0.5


def test_deep_nesting_within_the_size_limit_is_a_typed_error() -> None:
    nested = "<a>" * 600 + "</a>" * 600
    with pytest.raises(InvalidLexicon):
        parse_lexicon("deep", pls(nested))


@pytest.mark.parametrize("name", ["", "a" * 21, "my-lex", "lex ", "léx"])
def test_lexicon_names_follow_pollys_pattern(name: str) -> None:
    with pytest.raises(InvalidParameter):
        parse_lexicon(name, pls(alias("a", "b")))


# -- application -----------------------------------------------------------------------


def applied(text: str, *contents: str) -> SpeechDocument:
    lexicons = [parse_lexicon(f"L{index}", content) for index, content in enumerate(contents)]
    return apply_lexicons(SpeechDocument.plain(text), lexicons)


def test_whole_words_only_and_case_sensitive() -> None:
    text = "A tomato, tomatoes, Tomato, mytomato, tomato_2 and tomato."
    document = applied(text, pls(phoneme("tomato", "təˈmɑːtoʊ")))
    phonemes = [s for s in document.segments if isinstance(s, Phonemes)]
    assert [text[p.source.start : p.source.end] for p in phonemes] == ["tomato", "tomato"]
    assert [p.source.start for p in phonemes] == [2, text.rindex("tomato")]


def test_alias_and_phoneme_segments_keep_sources_into_the_users_text() -> None:
    text = "The W3C grows a tomato."
    document = applied(
        text, pls(alias("W3C", "World Wide Web Consortium"), phoneme("tomato", "təˈmɑːtoʊ"))
    )
    assert document.original == text
    assert document.segments == (
        Text("The ", Source(0, 4)),
        Text("World Wide Web Consortium", Source(4, 7, verbatim=False)),
        Text(" grows a ", Source(7, 16)),
        Phonemes("təˈmɑːtoʊ", Source(16, 22, verbatim=False)),
        Text(".", Source(22, 23)),
    )
    alias_segment = document.segments[1]
    assert isinstance(alias_segment, Text)
    assert not alias_segment.spoken  # still normalized
    for segment in document.segments:
        if isinstance(segment, Text) and segment.source.verbatim:
            assert text[segment.source.start : segment.source.end] == segment.text


def test_the_first_lexicon_named_wins_and_later_ones_never_rewrite_it() -> None:
    lex_a = pls(alias("Bob", "Robert"))
    lex_b = pls(alias("Bob", "Bobby"), alias("Robert", "Rob"))
    ab = applied("Hello, my name is Bob.", lex_a, lex_b)
    ba = applied("Hello, my name is Bob.", lex_b, lex_a)
    assert [s.text for s in ab.segments if isinstance(s, Text)][1] == "Robert"
    assert [s.text for s in ba.segments if isinstance(s, Text)][1] == "Bobby"


def test_multi_word_graphemes_match_across_any_whitespace_longest_first() -> None:
    document = applied(
        "I love New\n York and York.", pls(alias("York", "Yorick"), alias("New York", "NYC"))
    )
    texts = [s.text for s in document.segments if isinstance(s, Text)]
    assert texts == ["I love ", "NYC", " and ", "Yorick", "."]


def test_a_document_without_matches_is_unchanged() -> None:
    document = SpeechDocument.plain("Nothing to see.")
    lexicon = parse_lexicon("a", pls(alias("W3C", "x")))
    assert apply_lexicons(document, [lexicon]) == document


def test_spoken_text_and_phonemes_are_left_alone() -> None:
    document = SpeechDocument(
        (Text("W3C", Source(0, 3), spoken=True), Phonemes("w", Source(3, 4))), "W3Cx"
    )
    lexicon = parse_lexicon("a", pls(alias("W3C", "x"), alias("w", "y")))
    assert apply_lexicons(document, [lexicon]) == document


def test_aliases_cannot_grow_the_text_past_the_limit() -> None:
    bomb = parse_lexicon("bomb", pls(alias("a", "x" * 3_000)))
    started = time.perf_counter()
    with pytest.raises(TextTooLong):
        apply_lexicons(SpeechDocument.plain("a " * 50_000), [bomb], max_chars=100_000)
    assert time.perf_counter() - started < 1.0
    fits = apply_lexicons(SpeechDocument.plain("a a"), [bomb], max_chars=6_003)
    assert len(fits.segments) == 3


def test_resolve_keeps_the_order_and_names_the_missing_lexicon() -> None:
    repository = Repository(A=pls(alias("a", "b")), B=pls(alias("c", "d")))
    assert [lexicon.name for lexicon in resolve_lexicons(repository, ["B", "A"])] == ["B", "A"]
    with pytest.raises(LexiconNotFound) as raised:
        resolve_lexicons(repository, ["A", "Nope"])
    assert (raised.value.code, raised.value.name) == ("LEXICON_NOT_FOUND", "Nope")
    with pytest.raises(InvalidParameter):
        resolve_lexicons(repository, ["A"] * 2)
    with pytest.raises(InvalidParameter):
        resolve_lexicons(repository, list("ABCDEF"))


# -- the contract and the key ----------------------------------------------------------


def test_requests_name_up_to_five_distinct_lexicons_per_item() -> None:
    (item,) = parse_request({"text": "Hi.", "lexicons": ["B", "A"]}).expand()
    assert item.lexicons == ["B", "A"]
    batch = parse_request({"items": [{"text": "a", "lexicons": ["X1"]}, {"text": "b"}]})
    assert [item.lexicons for item in batch.expand()] == [["X1"], []]
    for bad in (["A", "A"], ["no-dash"], [""], ["a" * 21], list("ABCDEF"), "A"):
        with pytest.raises(InvalidRequest):
            parse_request({"text": "Hi.", "lexicons": bad})
    with pytest.raises(InvalidRequest):  # a batch names them per item
        parse_request({"items": [{"text": "a"}], "lexicons": ["A"]})


def test_an_item_queued_before_lexicons_existed_still_parses() -> None:
    (item,) = parse_request({"request_id": "r", "text": "Hi."}).expand()
    old = item.model_dump(mode="json")
    del old["lexicons"]
    assert ItemRequest.model_validate(old).lexicons == []


def test_the_request_key_holds_the_lexicons_hashes_in_order() -> None:
    params = ResolvedParams(length_scale=1.0, noise_scale=0.667, noise_w=0.8, sentence_pause_s=0.2)
    key_input = KeyInput("Hi.", "joe", "m" * 64, params, 22050)
    plain = request_key(key_input, "wav")
    assert request_key(key_input, "wav", ()) == plain  # no lexicons: the key as before
    one, two = content_hash("a"), content_hash("b")
    assert request_key(key_input, "wav", [one]) not in (plain, request_key(key_input, "wav", [two]))
    assert request_key(key_input, "wav", [one, two]) != request_key(key_input, "wav", [two, one])


# -- the table ---------------------------------------------------------------------------


def test_table_put_get_list_delete() -> None:
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        create_lexicons_table(dynamodb, "t-lexicons")
        table = LexiconTable(dynamodb, "t-lexicons")
        first = table.put("W3C", pls(alias("W3C", "World Wide Web Consortium")))
        assert table.get("W3C") == first
        edited = table.put("W3C", pls(alias("W3C", "the consortium")))
        assert edited.sha256 != first.sha256
        table.put("Other", pls(alias("x", "y")))
        assert [stored.name for stored in table.list()] == ["Other", "W3C"]
        assert table.delete("W3C") == edited
        assert table.get("W3C") is None
        assert table.delete("W3C") is None
        with pytest.raises(InvalidLexicon):
            table.put("Bad", "<not-pls/>")
        assert table.get("Bad") is None
