"""Speech marks from the real voice: the user's words, their bytes, their times in the audio."""

import itertools
import re
import sys
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from voxflow.audio.pcm import join_offsets, join_pcm
from voxflow.engine import Engine, SpeechChunk, SynthesisParams
from voxflow.engine.phonemizer import phonemize
from voxflow.errors import InvalidParameter
from voxflow.marks import (
    ChunkTiming,
    MarksPlan,
    MarkType,
    SpeechMark,
    compose,
    from_json_lines,
    parse_mark_types,
    plan_marks,
    to_json_lines,
)
from voxflow.marks.speech import speech_marks, timing_of
from voxflow.marks.visemes import DIGRAPHS, VISEMES
from voxflow.marks.words import _align
from voxflow.text import normalize_mapped, split_into_chunks
from voxflow.voices import VoiceRegistry

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
from aligner import word_starts  # benchmarks/ is not a package

CORPUS = Path(__file__).resolve().parent.parent / "benchmarks" / "corpus"
SILENT = SynthesisParams(noise_scale=0.0, noise_w=0.0, sentence_pause_s=0.3)
POLLY_VISEMES = set("ptSTfkirsu@aeEoO") | {"sil"}


def synthesize(engine: Engine, text: str) -> tuple[list[SpeechChunk], list[SpeechMark]]:
    mapped = normalize_mapped(text)
    chunks = list(engine.synthesize(split_into_chunks(mapped.text, 400), "joe", SILENT))
    types: tuple[MarkType, ...] = ("sentence", "word", "viseme")
    return chunks, speech_marks(text, mapped, chunks, SILENT.sentence_pause_s, types)


def of_type(marks: list[SpeechMark], kind: str) -> list[SpeechMark]:
    return [mark for mark in marks if mark.type == kind]


def written_words(text: str) -> list[str]:
    return [re.sub(r"^\W+|\W+$", "", token) for token in text.split() if re.search(r"\w", token)]


def test_word_marks_are_the_written_words_once_in_order_with_byte_offsets(
    engine: Engine,
) -> None:
    text = "Zoë's naïve café served crème brûlée — to the Ångström fans, of the town."
    _, marks = synthesize(engine, text)
    words = of_type(marks, "word")
    raw = text.encode("utf-8")

    assert [mark.value for mark in words] == written_words(text)
    for mark in words:
        assert mark.start is not None
        assert mark.end is not None
        assert raw[mark.start : mark.end].decode("utf-8") == mark.value
    starts = [mark.start or 0 for mark in words]
    assert starts == sorted(starts)
    assert len(set(starts)) == len(starts)
    times = [mark.time for mark in words]
    # Strictly later each time, "of the" included: espeak speaks it as one word (ʌvðə).
    assert all(later > earlier for earlier, later in itertools.pairwise(times))


def test_a_rewritten_amount_is_one_word_mark_over_its_bytes(engine: Engine) -> None:
    _, marks = synthesize(engine, "$49.95 is the price")
    words = of_type(marks, "word")

    assert [(m.value, m.start, m.end) for m in words] == [
        ("$49.95", 0, 6),
        ("is", 7, 9),
        ("the", 10, 13),
        ("price", 14, 19),
    ]
    # "forty-nine dollars and ninety-five cents" takes far longer than one word.
    assert words[1].time - words[0].time > 1000


def _chunk_spans(audio: NDArray[np.int16], rate: int, pause_s: float) -> list[tuple[int, int]]:
    """The chunks' spans as the audio shows them: split at the runs of exact silence
    that join_pcm puts between chunks."""
    silent = np.concatenate([[False], audio == 0, [False]])
    edges = np.flatnonzero(np.diff(silent.astype(np.int8)))
    runs = [(a, b) for a, b in zip(edges[::2], edges[1::2], strict=True)]
    gaps = [(a, b) for a, b in runs if b - a >= 0.8 * pause_s * rate]
    bounds = [0, *[x for gap in gaps for x in gap], len(audio)]
    return list(zip(bounds[::2], bounds[1::2], strict=True))


def test_marks_of_a_multi_chunk_request_line_up_with_the_assembled_audio(
    engine: Engine,
) -> None:
    text = (
        "The lighthouse stood at the edge of the cliff. Every evening, Margaret climbed "
        "the ninety-two steps. It cost $49.95 a month, in 1987!"
    )
    chunks, marks = synthesize(engine, text)
    rate = chunks[0].sample_rate
    audio = join_pcm([chunk.pcm for chunk in chunks], rate, pause_s=SILENT.sentence_pause_s)
    spans = _chunk_spans(audio, rate, SILENT.sentence_pause_s)
    assert len(chunks) == len(spans) == 3
    offsets = join_offsets([len(c.pcm) for c in chunks], rate, SILENT.sentence_pause_s)
    assert offsets[-1] + len(chunks[-1].pcm) == len(audio)

    sentence_of = [text.encode().find(s.encode()) for s in ("The", "Every", "It cost")]
    for mark in of_type(marks, "word"):
        assert mark.start is not None
        chunk = sum(1 for start in sentence_of if mark.start >= start) - 1
        first, last = spans[chunk]
        sample = mark.time * rate / 1000
        assert first <= sample < last, mark

    sentences = of_type(marks, "sentence")
    assert [s.value for s in sentences] == [
        "The lighthouse stood at the edge of the cliff.",
        "Every evening, Margaret climbed the ninety-two steps.",
        "It cost $49.95 a month, in 1987!",
    ]
    words = of_type(marks, "word")
    assert [s.time for s in sentences] == [
        next(w.time for w in words if w.value == first) for first in ("The", "Every", "It")
    ]
    assert words[-1].value == "1987"
    assert words[-1].time < len(audio) * 1000 / rate


def test_visemes_cover_every_phoneme_with_a_table_entry(engine: Engine) -> None:
    chunks, marks = synthesize(engine, "Mom met Bob. Then she sang!")
    visemes = of_type(marks, "viseme")
    assert {mark.value for mark in visemes} <= POLLY_VISEMES
    times = [mark.time for mark in visemes]
    assert times == sorted(times)
    spoken = [mark.value for mark in visemes if mark.value != "sil"]
    # m ɑ m  m ɛ t  b ɑ b: lips, open vowel, lips...
    assert spoken[:9] == ["p", "a", "p", "p", "E", "t", "p", "a", "p"]
    expected = 0
    for chunk in chunks:
        assert chunk.alignment is not None
        phonemes = chunk.alignment.phonemes
        index = 0
        while index < len(phonemes):
            if phonemes[index : index + 2] in DIGRAPHS:
                expected, index = expected + 1, index + 2
                continue
            expected += phonemes[index] in VISEMES
            index += 1
    assert len(visemes) == expected


def test_the_viseme_table_covers_the_voices_phonemes(registry: VoiceRegistry) -> None:
    config = registry.get("joe").config
    text = (
        "The quick brown fox jumps over the lazy dog; she measured the azure thing, "
        "joyfully choosing a huge rhythm. Why? Oh, boy! Cows sang in the church, "
        "although the pleasure was thorough, and the vision bothered Ruth."
    )
    modifiers = {"ˈ", "ˌ", "ː", " ", "ʲ"}
    parts = {part for pair in DIGRAPHS for part in pair}
    phonemes = {p for sentence in phonemize(text, config) for p in sentence}
    missing = phonemes - set(VISEMES) - parts - modifiers
    assert not missing


def test_alignment_groups_run_together_function_words() -> None:
    # "edge of the cliff": espeak speaks "of the" as one word.
    groups = _align([4, 2, 3, 5], [3, 4, 4])
    assert groups == [((0, 1), (0, 1)), ((1, 3), (1, 2)), ((3, 4), (2, 3))]


def test_ssml_marks_take_the_time_of_the_word_they_precede() -> None:
    text = 'Hi <mark name="here"/>there.'
    mapped = normalize_mapped("Hi there.")

    class Shifted:  # the SSML document's text, its words at their places in the markup
        text = mapped.text

        def source_range(self, start: int, end: int) -> tuple[int, int]:
            return (start, end) if start < 3 else (start + 19, end + 19)

    plan = plan_marks(text, Shifted(), ["Hi there."], ssml_marks=[("here", 3, 22)])
    timing = ChunkTiming(22050, ((1000, 5000), (6000, 20000)), ())
    marks = compose(plan, [timing], 22050, 0.2, ("ssml", "word"))
    assert [(m.type, m.value, m.time) for m in marks] == [
        ("word", "Hi", 45),
        ("ssml", "here", 272),
        ("word", "there", 272),
    ]
    assert text.encode()[marks[1].start : marks[1].end] == b'<mark name="here"/>'


def test_plans_timings_and_marks_survive_their_wire_forms(engine: Engine) -> None:
    text = "It costs $5. Naïve, isn't it?"
    mapped = normalize_mapped(text)
    chunks = list(engine.synthesize(split_into_chunks(mapped.text, 400), "joe", SILENT))
    plan = plan_marks(text, mapped, [chunk.text for chunk in chunks])
    timings = [timing_of(chunk) for chunk in chunks]
    assert MarksPlan.from_json(plan.to_json()) == plan
    assert [ChunkTiming.from_json(t.to_json()) for t in timings] == timings
    marks = compose(plan, timings, 22050, 0.2, ("sentence", "word", "viseme"))
    assert from_json_lines(to_json_lines(marks)) == marks
    first = to_json_lines(marks).splitlines()[0]
    assert first.startswith(b'{"time":')
    assert b'"type":"' in first


def test_mark_types_are_checked() -> None:
    assert parse_mark_types(["word", " Sentence", "word"]) == ("sentence", "word")
    with pytest.raises(InvalidParameter, match="speech mark type"):
        parse_mark_types(["words"])


def test_join_offsets_skip_empty_chunks_as_join_pcm_does() -> None:
    chunks = [np.ones(100, np.int16), np.zeros(0, np.int16), np.ones(50, np.int16)]
    offsets = join_offsets([len(c) for c in chunks], 1000, pause_s=0.01)
    assert offsets == [0, 100, 110]
    assert len(join_pcm(chunks, 1000, pause_s=0.01)) == offsets[-1] + 50


def test_the_wire_patch_exposes_the_same_durations_as_onnxs(registry: VoiceRegistry) -> None:
    onnx = pytest.importorskip("onnx")
    import onnxruntime as ort
    from piper.patch_voice_with_alignment import add_alignment_output

    from voxflow.engine.durations_output import NotPatchable, with_durations_output

    raw = registry.get("joe").model_path.read_bytes()
    ours = with_durations_output(raw)
    assert with_durations_output(ours) == ours  # patched once only
    reference = onnx.load_from_string(raw)
    add_alignment_output(reference)
    inputs = {
        "input": np.array([[1, 0, 20, 0, 14, 0, 24, 0, 27, 0, 2]], dtype=np.int64),
        "input_lengths": np.array([11], dtype=np.int64),
        "scales": np.array([0.0, 1.0, 0.0], dtype=np.float32),
    }
    outputs = [
        ort.InferenceSession(model, providers=["CPUExecutionProvider"]).run(None, inputs)
        for model in (ours, reference.SerializeToString())
    ]
    assert len(outputs[0]) == len(outputs[1]) == 2
    np.testing.assert_array_equal(outputs[0][1], outputs[1][1])
    assert outputs[0][1].sum() * 256 == outputs[0][0].size
    with pytest.raises(NotPatchable):
        with_durations_output(b"\x3a\x02\x0a\x00")  # a graph with one node, no Ceil


def test_a_word_the_chunker_cut_is_still_one_word_mark() -> None:
    text = "Hi " + "a" * 45 + " there, friend. It costs $5."
    mapped = normalize_mapped(text)
    chunks = split_into_chunks(mapped.text, 20)
    assert chunks[1] == "a" * 20  # cut into pieces across chunks
    plan = plan_marks(text, mapped, chunks)
    assert [word.value for word in plan.words] == [
        "Hi", "a" * 45, "there", "friend", "It", "costs", "$5",
    ]  # fmt: skip
    assert plan.chunk_words[:4] == ((0,), (1,), (1,), (1, 2, 3))
    assert [s.value for s in plan.sentences] == [text[: text.index(" It")], "It costs $5."]


def test_word_marks_agree_with_an_independent_aligner(engine: Engine) -> None:
    # pocketsphinx's forced alignment (benchmarks/aligner.py): its own acoustic model and
    # dictionary, nothing of the voice. Its word starts lead by ~25 ms (NOTES.md); before a
    # phone owned the PAD before it, voxflow's were a median 49 ms later than its, now 28.
    text = (CORPUS / "medium.txt").read_text(encoding="utf-8")
    chunks, marks = synthesize(engine, text)
    rate = chunks[0].sample_rate
    audio = join_pcm([chunk.pcm for chunk in chunks], rate, SILENT.sentence_pause_s)
    words = of_type(marks, "word")
    assert len(words) >= 100
    aligned = np.array(word_starts(audio, rate, [word.value for word in words]))
    late = np.array([word.time / 1000 for word in words]) - aligned
    assert float(np.median(np.abs(late))) <= 0.060, np.median(np.abs(late))
    assert float(np.percentile(np.abs(late), 90)) <= 0.150
    assert float(np.median(late)) <= 0.040, np.median(late)
