"""Word-mark accuracy against an independent aligner and against the audio's onsets.

    python benchmarks/marks.py [--ssml] [TEXT_FILE]
        (default: benchmarks/corpus/long.txt, 493 words)

With --ssml the same text is sent as SSML (voxflow.marks with the SSML document): each
paragraph a <p>, every sentence an <s>, every third sentence at prosody rate 80%, and
after every other sentence a <mark/>, a 400 ms <break> and another <mark/>. Besides the
word marks it prints how far apart each pair of marks is and whether the audio between
them is silent (a break that ends a paragraph is its 500 ms pause instead,
docs/ssml.md).

The reference for every word is pocketsphinx's forced alignment of the whole audio
(benchmarks/aligner.py: its own acoustic model and dictionary, from its PyPI wheel; the
issue's faster-whisper needs models from a hub this workplace cannot reach). It prints
the median, p90 and max of |voxflow's word start - the aligner's| over all words, and the
signed median (positive: voxflow's marks are later).

The second reference needs no model: speech onsets. Wherever the voice pauses
(sentence joins, commas, breaths) and speech resumes, a word starts; the onset is found
from frame energy alone and compared with the nearest word mark, and with the nearest
aligner word start: the aligner's own lead or lag where the audio shows the truth.
"""

import re
import sys
from collections import Counter
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np
from aligner import word_starts
from numpy.typing import NDArray

from voxflow.audio.pcm import join_pcm
from voxflow.engine import Engine, SynthesisParams
from voxflow.marks import MarkType, SpeechMark
from voxflow.marks.speech import speech_marks
from voxflow.settings import EngineSettings
from voxflow.text import normalize_mapped, split_into_chunks
from voxflow.text.chunk_document import chunk_document
from voxflow.text.ssml import parse_ssml
from voxflow.voices import VoiceRegistry

CORPUS = Path(__file__).resolve().parent / "corpus" / "long.txt"
FRAME_S = 0.005
SILENCE_DB = -40.0  # below the loudest frame
MIN_PAUSE_S = 0.08  # a stop consonant's closure is shorter
PARAMS = SynthesisParams(noise_scale=0.0, noise_w=0.0, sentence_pause_s=0.2)


def onsets(pcm: NDArray[np.int16], rate: int) -> list[float]:
    """Seconds where speech resumes after at least MIN_PAUSE_S of near-silence."""
    frame = round(FRAME_S * rate)
    frames = pcm[: len(pcm) // frame * frame].astype(np.float64).reshape(-1, frame)
    level = 10 * np.log10(np.mean(frames**2, axis=1) + 1e-9)
    loud = level > level.max() + SILENCE_DB
    found, quiet = [], 0
    for index, is_loud in enumerate(loud):
        if is_loud:
            if quiet * FRAME_S >= MIN_PAUSE_S and index > 0:
                found.append(index * FRAME_S)
            quiet = 0
        else:
            quiet += 1
    return found


BREAK_MS = 400


def as_ssml(text: str) -> str:
    """The text as SSML: <p>, <s>, prosody on every third sentence, marks and a break
    after every other one."""
    paragraphs = []
    count = 0
    for paragraph in text.split("\n\n"):
        sentences = []
        for sentence in re.split(r"(?<=[.!?])\s+", paragraph.strip()):
            if not sentence:
                continue
            body = escape(sentence)
            if count % 3 == 2:
                body = f'<prosody rate="80%">{body}</prosody>'
            if count % 2 == 1:
                body += (
                    f'<mark name="b{count}"/><break time="{BREAK_MS}ms"/><mark name="a{count}"/>'
                )
            sentences.append(f"<s>{body}</s>")
            count += 1
        paragraphs.append("<p>" + " ".join(sentences) + "</p>")
    return "<speak>" + "\n".join(paragraphs) + "</speak>"


def main() -> None:
    arguments = [argument for argument in sys.argv[1:] if argument != "--ssml"]
    ssml = "--ssml" in sys.argv[1:]
    path = Path(arguments[0]) if arguments else CORPUS
    text = path.read_text(encoding="utf-8")
    settings = EngineSettings()
    engine = Engine(VoiceRegistry.default(cache_dir=settings.cache_dir), settings)
    types: tuple[MarkType, ...] = ("word", "ssml")
    if ssml:
        text = as_ssml(text)
        document = parse_ssml(text)
        chunk_texts = chunk_document(
            document, max_chars=len(text), chunk_max_chars=settings.chunk_max_chars
        )
        chunks = list(engine.synthesize(chunk_texts, "joe", PARAMS))
        found = speech_marks(
            text, None, chunks, PARAMS.sentence_pause_s, types, document=document,
            chunk_max_chars=settings.chunk_max_chars,
        )  # fmt: skip
    else:
        mapped = normalize_mapped(text)
        chunk_texts = split_into_chunks(mapped.text, settings.chunk_max_chars)
        chunks = list(engine.synthesize(chunk_texts, "joe", PARAMS))
        found = speech_marks(text, mapped, chunks, PARAMS.sentence_pause_s, types)
    rate = chunks[0].sample_rate
    marks = [mark for mark in found if mark.type == "word"]
    audio = join_pcm([chunk.pcm for chunk in chunks], rate, pause_s=PARAMS.sentence_pause_s)
    starts = np.array([mark.time / 1000 for mark in marks])
    kind = "SSML" if ssml else "text"
    print(f"{path.name} as {kind}: {len(marks)} word marks, {len(audio) / rate:.1f} s of audio")
    if ssml:
        print_mark_pairs(found, audio, rate)
    aligned = np.array(word_starts(audio, rate, [mark.value for mark in marks]))
    print_errors("pocketsphinx word starts", len(aligned), (starts - aligned) * 1000)
    reference = onsets(audio, rate)
    print_errors("speech onsets after pauses", len(reference), nearest(starts, reference))
    ours, theirs = same_word(starts, aligned, reference)
    print_errors("  words both put within 150 ms of one: voxflow", len(ours), ours)
    print_errors("  the same words: pocketsphinx", len(theirs), theirs)


def nearest(starts: NDArray[np.float64], reference: list[float]) -> NDArray[np.float64]:
    """Per reference time: the signed ms from it to the nearest of ``starts``."""
    return np.array([(starts[np.argmin(np.abs(starts - at))] - at) * 1000 for at in reference])


def same_word(
    starts: NDArray[np.float64], aligned: NDArray[np.float64], reference: list[float]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Signed ms from each onset to the start of the word that starts there by both
    voxflow and the aligner (the word nearest it by either, both within 150 ms): each
    one's lead or lag where the audio itself shows a word starting."""
    ours, theirs = [], []
    for at in reference:
        word = int(np.argmin(np.minimum(np.abs(starts - at), np.abs(aligned - at))))
        if abs(starts[word] - at) < 0.15 and abs(aligned[word] - at) < 0.15:
            ours.append((starts[word] - at) * 1000)
            theirs.append((aligned[word] - at) * 1000)
    return np.array(ours), np.array(theirs)


def print_errors(what: str, count: int, errors: NDArray[np.float64]) -> None:
    size = np.abs(errors)
    print(
        f"{what}: {count}; |difference|: median {np.median(size):.0f} ms, "
        f"p90 {np.percentile(size, 90):.0f} ms, max {size.max():.0f} ms; "
        f"signed median {np.median(errors):+.0f} ms"
    )


def print_mark_pairs(found: list[SpeechMark], audio: NDArray[np.int16], rate: int) -> None:
    at = {mark.value: mark.time for mark in found if mark.type == "ssml"}
    pairs = [(at[name], at["a" + name[1:]]) for name in at if name.startswith("b")]
    # A break that ends a paragraph is the paragraph's 500 ms pause when that is longer.
    gaps = Counter(after - before for before, after in pairs)
    silent = sum(
        not audio[round((b + 2) * rate / 1000) : round((a - 2) * rate / 1000)].any()
        for b, a in pairs
    )
    print(
        f"<mark/> pairs around {BREAK_MS} ms breaks: {len(pairs)}; ms apart (count): "
        f"{dict(sorted(gaps.items()))}; all silent between them: {silent}/{len(pairs)}"
    )


if __name__ == "__main__":
    main()
