"""Speech marks of SSML and lexicon requests: offsets into the markup as sent, words as
the user wrote them (an alias, a say-as reading, phonemes: one mark each), <mark/>s at
the right place on the audio's timeline; the mapping in unit tests, the times against
the real voice's audio."""

import itertools
import re
from dataclasses import replace

import numpy as np
import pytest
from numpy.typing import NDArray

from voxflow.audio.pcm import join_offsets, join_pcm
from voxflow.engine import Engine, SpeechChunk, SynthesisParams
from voxflow.engine.alignment import Alignment, Phone
from voxflow.errors import InvalidParameter
from voxflow.lexicons.apply import apply_lexicons
from voxflow.lexicons.pls import parse_lexicon
from voxflow.marks import ChunkTiming, MarksPlan, MarkType, SpeechMark, compose
from voxflow.marks.document import plan_document, plan_speech
from voxflow.marks.packed import pack, unpack
from voxflow.marks.speech import speech_marks, timing_of
from voxflow.marks.timing import chunk_timing, timing_usable
from voxflow.text.chunk_document import chunk_document, document_layout
from voxflow.text.document import SpeechDocument, decode_chunk
from voxflow.text.ssml import parse_ssml

SILENT = SynthesisParams(noise_scale=0.0, noise_w=0.0, sentence_pause_s=0.3)
ALL: tuple[MarkType, ...] = ("sentence", "word", "ssml")
LEXICON = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<lexicon version="1.0" xmlns="http://www.w3.org/2005/01/pronunciation-lexicon" '
    'alphabet="ipa" xml:lang="en-US">'
    "<lexeme><grapheme>W3C</grapheme><alias>World Wide Web Consortium</alias></lexeme>"
    "<lexeme><grapheme>Zoë</grapheme><phoneme>ˈzoʊi</phoneme></lexeme>"
    "</lexicon>"
)


def plan_of(ssml: str, chunk_max_chars: int = 400) -> tuple[SpeechDocument, MarksPlan]:
    document = parse_ssml(ssml)
    layout = document_layout(document, max_chars=100_000, chunk_max_chars=chunk_max_chars)
    return document, plan_document(document, layout)


def sliced(text: str, start: int, end: int) -> str:
    return text.encode("utf-8")[start:end].decode("utf-8")


def of_type(marks: list[SpeechMark], kind: str) -> list[SpeechMark]:
    return [mark for mark in marks if mark.type == kind]


# The mapping, without the voice.


def test_each_written_word_is_one_mark_over_its_bytes_in_the_markup() -> None:
    ssml = (
        '<speak><s>Zoë met <sub alias="World Wide Web">WWW</sub> fans, Tom &amp; Jerry '
        'at <say-as interpret-as="cardinal">1234</say-as> <phoneme alphabet="ipa" '
        'ph="təˈmɑːtoʊ">tomato</phoneme> stalls.</s><!-- a note --><p>Café <prosody '
        'rate="slow">crème</prosody> &#x62;rûlée!</p></speak>'
    )
    _, plan = plan_of(ssml)
    words = [(word.value, sliced(ssml, word.start, word.end)) for word in plan.words]
    assert [value for value, _ in words] == [
        "Zoë", "met", "WWW", "fans", "Tom", "&amp;", "Jerry", "at", "1234", "tomato",
        "stalls", "Café", "crème", "&#x62;rûlée",
    ]  # fmt: skip
    assert all(value == raw for value, raw in words)
    assert [sliced(ssml, s.start, s.end) for s in plan.sentences] == [
        ssml[ssml.index("Zoë") : ssml.index("</s>")],
        ssml[ssml.index("Café") : ssml.index("</p>")],
    ]
    # Alias, say-as and phonemes speak several words or none the chunk can split, yet
    # each is one mark: the tokens of one source share its word.
    assert plan.chunk_words[0] == (0, 1, 2, 2, 2, 3, 4, 5, 6, 7, 8, 8, 8, 8, 8, 8, 9, 10)


def test_words_inside_a_cdata_section_are_marks_over_their_own_bytes() -> None:
    # A CDATA section's characters are their own (& and < too), between its delimiters;
    # a word mark's value is the input's bytes, as Polly's "a substring of the input
    # text" is (its SSML example's sentence value keeps the tags as written).
    ssml = "<speak>Tom <![CDATA[& Jerry <3 café]]> hi &amp; <![CDATA[]]>bye.</speak>"
    _, plan = plan_of(ssml)
    words = [(word.value, sliced(ssml, word.start, word.end)) for word in plan.words]
    assert words == [
        ("Tom", "Tom"), ("&", "&"), ("Jerry", "Jerry"), ("3", "3"), ("café", "café"),
        ("hi", "hi"), ("&amp;", "&amp;"), ("bye", "bye"),
    ]  # fmt: skip
    assert [sliced(ssml, s.start, s.end) for s in plan.sentences] == [
        ssml[ssml.index("Tom") : ssml.index("</speak>")]
    ]


def test_lexicon_aliases_and_phonemes_are_one_mark_over_the_word_written() -> None:
    text = "Zoë joined the W3C, and the W3C's rules: Zoë!"
    lexicon = parse_lexicon("team", LEXICON)
    document = apply_lexicons(SpeechDocument.plain(text), [lexicon])
    chunks = chunk_document(document, max_chars=1000)
    plan = plan_speech(document, chunks, 400)
    assert [(w.value, sliced(text, w.start, w.end)) for w in plan.words] == [
        (value, value)
        for value in ["Zoë", "joined", "the", "W3C", "and", "the", "W3C's", "rules", "Zoë"]
    ]
    spoken = [index for chunk in plan.chunk_words for index in chunk]
    assert spoken.count(3) == 4  # "World Wide Web Consortium"
    assert spoken.count(0) == 1  # the phonemes


def test_ssml_marks_are_placed_at_their_word_or_at_a_breaks_start_or_end() -> None:
    ssml = (
        '<speak><mark name="first"/>One two <mark name="mid"/>three '
        '<mark name="before"/><break time="1s"/><mark name="after"/>four '
        '<prosody rate="50%"><mark name="slow"/>five</prosody> six.'
        '<mark name="last"/></speak>'
    )
    document, plan = plan_of(ssml)
    placed = {mark.origin.value: (mark.chunk, mark.piece, mark.word) for mark in plan.ssml}
    assert placed == {
        "first": (-1, 0, 0),  # before words: when the next word starts, as in Polly
        "mid": (-1, 0, 2),  # inside a text piece: when "three" starts
        "before": (0, 1, -1),  # the break is piece 1: where it starts
        "after": (0, 2, -1),  # where the words after it start, at the break's end
        "slow": (-1, 0, 4),  # opening a prosody change: still when "five" starts
        "last": (0, 1 << 30, -1),  # after everything: the end
    }
    for mark in plan.ssml:
        assert sliced(ssml, mark.origin.start, mark.origin.end) == (
            f'<mark name="{mark.origin.value}"/>'
        )
    # Synthetic timings: pieces at 0, 1000, 23050, 30000 and 40000 samples of 50000.
    timing = ChunkTiming(
        50_000,
        ((100, 300), (300, 600), (600, 900), (23_100, 29_000), (30_100, 39_000), (40_100, 49_000)),
        (),
        (0, 1_000, 23_050, 30_000, 40_000),
    )
    marks = compose(plan, [timing], 22050, 0.3, ("ssml",))
    assert [(m.value, m.time) for m in marks] == [
        ("first", 5),
        ("mid", 27),
        ("before", 45),
        ("after", 1045),
        ("slow", 1365),
        ("last", 2268),
    ]
    assert MarksPlan.from_json(plan.to_json()) == plan
    assert document.original == ssml


def test_a_mark_right_after_a_break_that_ends_a_chunk_is_at_the_breaks_end() -> None:
    ssml = (
        '<speak><s>Hi <mark name="b"/><break time="1s"/><mark name="a"/></s>'
        '<mark name="between"/><s>There.</s></speak>'
    )
    _, plan = plan_of(ssml)
    assert len(plan.chunk_words) == 2
    timings = [
        ChunkTiming(30_050, ((100, 7_000),), (), (0, 8_000)),
        ChunkTiming(9_000, ((200, 8_000),), ()),
    ]
    marks = compose(plan, timings, 22050, 0.5, ("ssml",))
    # The chunks are 30050 samples (1363 ms), 500 ms of pause, then 9000 samples; a mark
    # between sentences is when the next one's first word starts (its chunk's leading
    # silence, 200 samples, is before it), not where the chunk starts.
    assert [(m.value, m.time) for m in marks] == [("b", 363), ("a", 1363), ("between", 1872)]


def test_a_word_the_chunker_cut_in_a_structured_chunk_is_still_one_mark() -> None:
    long_word = "a" * 45
    ssml = f'<speak>Hi <prosody rate="slow">{long_word} there</prosody>, friend.</speak>'
    _, plan = plan_of(ssml, chunk_max_chars=20)
    assert [w.value for w in plan.words] == ["Hi", long_word, "there", "friend"]
    assert sliced(ssml, plan.words[1].start, plan.words[1].end) == long_word
    assert [i for chunk in plan.chunk_words for i in chunk].count(1) == 3
    assert len(plan.sentences) == 1


def test_the_layout_chunks_exactly_as_chunk_document_does() -> None:
    documents = [
        '<speak><p>One. Two <break time="2s"/></p><p><s>Three</s><break/></p></speak>',
        '<speak>Hi<mark name="x"/><p></p><p> </p>there <say-as interpret-as="expletive">'
        "darn</say-as> it.</speak>",
        '<speak><prosody volume="loud">It costs $49.95 on 3/4/2021.</prosody> Dr. Who?</speak>',
    ]
    for ssml in documents:
        document = parse_ssml(ssml)
        layout = document_layout(document, max_chars=1000, chunk_max_chars=30)
        assert layout.chunks == chunk_document(document, max_chars=1000, chunk_max_chars=30)
        plan = plan_document(document, layout)
        assert len(plan.chunk_words) == len(layout.chunks)
    with pytest.raises(InvalidParameter, match="not the document's"):
        plan_speech(parse_ssml(documents[0]), ["One.", "Two"], 400)


def test_a_structured_chunk_is_timed_piece_by_piece() -> None:
    chunk = chunk_document(
        parse_ssml('<speak>Go now <break time="1s"/> <phoneme ph="bi">b</phoneme> go.</speak>'),
        max_chars=100,
    )[0]
    assert [piece.kind for piece in decode_chunk(chunk)] == ["text", "break", "phonemes", "text"]

    def utterance(phonemes: str, start: int) -> list[Phone]:
        # ^ the phonemes, spaces between words, $: 100 samples each.
        return [
            Phone(phoneme, (), start + 100 * index, 100)
            for index, phoneme in enumerate(["^", *phonemes, "$"])
        ]

    phones = [*utterance("ɡoʊ naʊ", 0), *utterance("bi", 32_950), *utterance("ɡoʊ", 33_350)]
    timing = chunk_timing(chunk, Alignment(tuple(phones)), 33_850, (0, 900, 32_950, 33_350))
    assert timing.words == ((100, 400), (500, 800), (33_050, 33_250), (33_450, 33_750))
    assert timing.pieces == (0, 900, 32_950, 33_350)
    assert ChunkTiming.from_json(timing.to_json()) == timing
    # A timing from before a phone owned the PAD before it (version 3) is made again.
    for version in (1, 2):
        assert not timing_usable(f'{{"v":{version},"samples":1,"words":[],"visemes":[]}}')
    assert timing_usable(timing.to_json())
    assert not timing_usable(None)


# Against the real voice.


def loudness(audio: NDArray[np.int16], rate: int, frame_s: float = 0.005) -> NDArray[np.float64]:
    """Per frame of ``frame_s``: dB below the loudest frame."""
    frame = round(frame_s * rate)
    frames = audio[: len(audio) // frame * frame].astype(np.float64).reshape(-1, frame)
    level: NDArray[np.float64] = 10 * np.log10(np.mean(frames**2, axis=1) + 1e-9)
    return level - level.max()


def onsets(audio: NDArray[np.int16], rate: int) -> list[float]:
    """Milliseconds where speech resumes after at least 80 ms below -40 dB (as
    benchmarks/marks.py finds them)."""
    loud = loudness(audio, rate) > -40.0
    found, quiet = [], 0
    for index, is_loud in enumerate(loud):
        if is_loud:
            if quiet >= 16 and index > 0:
                found.append(index * 5.0)
            quiet = 0
        else:
            quiet += 1
    return found


def synthesize(
    engine: Engine, document: SpeechDocument, text: str
) -> tuple[list[SpeechChunk], NDArray[np.int16], list[SpeechMark]]:
    chunks_text = chunk_document(document, max_chars=100_000)
    chunks = list(engine.synthesize(chunks_text, "joe", SILENT))
    marks = speech_marks(text, None, chunks, SILENT.sentence_pause_s, ALL, document=document)
    audio = join_pcm(
        [chunk.pcm for chunk in chunks], chunks[0].sample_rate, SILENT.sentence_pause_s
    )
    return chunks, audio, marks


SSML = (
    '<speak><s>Zoë met <sub alias="World Wide Web">WWW</sub> fans at '
    '<say-as interpret-as="cardinal">1234</say-as> stalls.</s>'
    '<s>She said <mark name="before"/><break time="800ms"/><mark name="after"/>'
    '<phoneme alphabet="ipa" ph="təˈmɑːtoʊ">tomato</phoneme>, Tom &amp; Jerry '
    '<prosody rate="60%">slowly</prosody> agreed.</s><mark name="between"/>'
    '<p>Then café crème, naïve <say-as interpret-as="characters">abc</say-as>!</p>'
    '<mark name="end"/></speak>'
)


def test_ssml_marks_from_the_voice_point_at_the_markup_and_the_audio(engine: Engine) -> None:
    chunks, audio, marks = synthesize(engine, parse_ssml(SSML), SSML)
    rate = chunks[0].sample_rate
    duration_ms = len(audio) * 1000 / rate
    words = of_type(marks, "word")
    assert [w.value for w in words] == [
        "Zoë", "met", "WWW", "fans", "at", "1234", "stalls", "She", "said", "tomato",
        "Tom", "&amp;", "Jerry", "slowly", "agreed", "Then", "café", "crème", "naïve", "abc",
    ]  # fmt: skip
    for mark in marks:
        assert mark.start is not None
        assert mark.end is not None
        raw = SSML.encode("utf-8")[mark.start : mark.end].decode("utf-8")
        assert raw == (f'<mark name="{mark.value}"/>' if mark.type == "ssml" else mark.value)
    times = [w.time for w in words]
    assert all(later > earlier for earlier, later in itertools.pairwise(times)), times
    assert all(0 <= mark.time < duration_ms for mark in marks)

    # Every word mark falls inside its chunk's audio, after the chunks and pauses before it.
    offsets = join_offsets([len(c.pcm) for c in chunks], rate, SILENT.sentence_pause_s)
    sentence_words = [7, 8, 5]  # words of the three chunks
    bounds = [0, *itertools.accumulate(sentence_words)]
    for chunk, (first, last) in enumerate(itertools.pairwise(bounds)):
        span = (
            offsets[chunk] * 1000 / rate,
            (offsets[chunk] + len(chunks[chunk].pcm)) * 1000 / rate,
        )
        assert all(span[0] <= w.time < span[1] for w in words[first:last]), chunk

    # The break: its marks 800 ms apart, pure silence between, speech right after.
    ssml_marks = {m.value: m.time for m in of_type(marks, "ssml")}
    assert ssml_marks["after"] - ssml_marks["before"] == pytest.approx(800, abs=1)
    inside = audio[
        round((ssml_marks["before"] + 2) * rate / 1000) : round(
            (ssml_marks["after"] - 2) * rate / 1000
        )
    ]
    assert len(inside) > 0.75 * rate
    assert not inside.any()
    resumed = min(onset for onset in onsets(audio, rate) if onset > ssml_marks["after"] - 10)
    tomato = next(w.time for w in words if w.value == "tomato")
    assert abs(resumed - tomato) <= 60, (resumed, tomato)
    assert ssml_marks["end"] == pytest.approx(duration_ms, abs=1)
    # A mark between sentences is when the next one's first word starts (as Polly's mark
    # before "lamb" is), after the silence its chunk opens with.
    then = next(w.time for w in words if w.value == "Then")
    assert ssml_marks["between"] == then
    assert then > offsets[2] * 1000 / rate + 5, (then, offsets[2] * 1000 / rate)

    # Where speech resumes after a pause, a word mark starts near it; except inside one
    # mark spoken as several words (the comma of "one thousand, two hundred...").
    starts = np.array(times, dtype=np.float64)
    several = {"WWW", "1234", "abc"}
    errors = [
        float(np.min(np.abs(starts - onset)))
        for onset in onsets(audio, rate)
        if not any(
            w.value in several and w.time + 100 < onset < later.time
            for w, later in itertools.pairwise(words)
        )
    ]
    assert len(errors) >= 6
    assert float(np.median(errors)) <= 60, errors
    assert max(errors) <= 150, errors
    # Each word mark is at speech: loud audio within the 150 ms after it.
    level = loudness(audio, rate)
    for word in words:
        frame = int(word.time / 5)
        assert level[frame : frame + 30].max() > -30, word

    sentences = of_type(marks, "sentence")
    assert [s.time for s in sentences] == [words[0].time, words[7].time, words[15].time]
    assert sliced(SSML, sentences[1].start or 0, sentences[1].end or 0).startswith("She said")


def test_a_slower_prosody_rate_stretches_the_word_marks(engine: Engine) -> None:
    def spans(rate: str) -> list[int]:
        ssml = f'<speak><prosody rate="{rate}">one two three four five six</prosody></speak>'
        _, _, marks = synthesize(engine, parse_ssml(ssml), ssml)
        times = [w.time for w in of_type(marks, "word")]
        assert len(times) == 6
        return [b - a for a, b in itertools.pairwise(times)]

    normal, slow = spans("100%"), spans("50%")
    ratio = sum(slow) / sum(normal)
    assert 1.6 < ratio < 2.4, ratio


def test_lexicon_marks_from_the_voice_are_the_words_written(engine: Engine) -> None:
    text = "Zoë joined the W3C today. The W3C agreed."
    document = apply_lexicons(SpeechDocument.plain(text), [parse_lexicon("team", LEXICON)])
    chunks, audio, marks = synthesize(engine, document, text)
    words = of_type(marks, "word")
    assert [w.value for w in words] == re.findall(r"[\wë]+", text)
    assert all(sliced(text, w.start or 0, w.end or 0) == w.value for w in words)
    times = [w.time for w in words]
    assert all(later > earlier for earlier, later in itertools.pairwise(times))
    assert times[-1] < len(audio) * 1000 / chunks[0].sample_rate
    # "World Wide Web Consortium" is spoken for W3C: far longer than one short word.
    w3c = next(i for i, w in enumerate(words) if w.value == "W3C")
    assert times[w3c + 1] - times[w3c] > 1000
    assert timing_of(chunks[0]).pieces[0] == 0


def test_a_packed_plan_is_the_plan_and_reads_plans_from_before_packing() -> None:
    ssml = (
        '<speak><s><mark name="a"/>Zoë — met <sub alias="World Wide Web">WWW</sub> fans '
        '&amp; <break time="1s"/><mark name="b"/>crème.</s><p>Bye <![CDATA[& <3]]>!</p>'
        '<mark name="end"/></speak>'
    )
    _, plan = plan_of(ssml, chunk_max_chars=20)
    assert any(-1 in chunk for chunk in plan.chunk_words)  # the lone dash speaks nothing
    packed = pack(plan, ssml)
    assert packed.startswith("z1:")
    assert unpack(packed) == plan
    assert unpack(plan.to_json()) == plan  # a job planned before plans were packed
    words = list(plan.words)
    words[0] = replace(words[0], value="Zoe")
    with pytest.raises(ValueError, match="not the original's bytes"):
        pack(replace(plan, words=tuple(words)), ssml)
