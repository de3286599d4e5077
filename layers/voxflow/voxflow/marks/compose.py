"""A request's speech marks: its plan placed on the assembled audio's timeline.

Chunks start where ``join_offsets`` puts them, the same arithmetic ``join_pcm``
joins their audio with, so the marks line up with the file the user gets.
"""

from collections.abc import Sequence

from voxflow.audio.pcm import join_offsets
from voxflow.errors import InvalidParameter
from voxflow.marks.model import MarkType, SpeechMark
from voxflow.marks.plan import MarksPlan
from voxflow.marks.timing import ChunkTiming


def compose(
    plan: MarksPlan,
    timings: Sequence[ChunkTiming],
    sample_rate: int,
    pause_s: float,
    types: Sequence[MarkType],
) -> list[SpeechMark]:
    """Marks of ``types``, ordered by time (Polly's order within a time: sentence,
    word, viseme)."""
    if len(timings) != len(plan.chunk_words):
        raise InvalidParameter("speech marks need one timing per chunk")
    offsets = join_offsets([timing.samples for timing in timings], sample_rate, pause_s)

    def ms(sample: int) -> int:
        return round(sample * 1000 / sample_rate)

    word_time: dict[int, int] = {}
    sentence_time: dict[int, int] = {}
    visemes: list[SpeechMark] = []
    for chunk, (timing, offset) in enumerate(zip(timings, offsets, strict=True)):
        spoken = [index for index in plan.chunk_words[chunk] if index >= 0]
        if len(spoken) != len(timing.words):
            raise InvalidParameter("a chunk's timing does not match its words")
        for index, (start, _) in zip(spoken, timing.words, strict=True):
            word_time.setdefault(index, offset + start)
        first = offset + timing.words[0][0] if timing.words else offset
        sentence_time.setdefault(plan.chunk_sentence[chunk], first)
        visemes.extend(SpeechMark(ms(offset + at), "viseme", name) for at, name in timing.visemes)
    marks: list[SpeechMark] = []
    if "sentence" in types:
        marks.extend(
            SpeechMark(ms(sentence_time[index]), "sentence", origin.value, origin.start, origin.end)
            for index, origin in enumerate(plan.sentences)
            if index in sentence_time
        )
    if "ssml" in types:
        end = offsets[-1] + timings[-1].samples if timings else 0
        for mark in plan.ssml:
            if 0 <= mark.chunk < len(timings):
                timing = timings[mark.chunk]
                inside = timing.pieces[mark.piece] if mark.piece < len(timing.pieces) else None
                at = offsets[mark.chunk] + (timing.samples if inside is None else inside)
            else:
                at = word_time.get(mark.word, end)
            origin = mark.origin
            marks.append(SpeechMark(ms(at), "ssml", origin.value, origin.start, origin.end))
    if "word" in types:
        marks.extend(
            SpeechMark(ms(word_time[index]), "word", origin.value, origin.start, origin.end)
            for index, origin in enumerate(plan.words)
            if index in word_time
        )
    if "viseme" in types:
        marks.extend(visemes)
    order = {"sentence": 0, "ssml": 1, "word": 2, "viseme": 3}
    return sorted(marks, key=lambda mark: (mark.time, order[mark.type]))
