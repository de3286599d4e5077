"""Word-mark accuracy against a reference taken from the audio itself.

    python benchmarks/marks.py [--ssml] [TEXT_FILE]
        (default: benchmarks/corpus/long.txt, 493 words)

With --ssml the same text is sent as SSML (voxflow.marks with the SSML document): each
paragraph a <p>, every sentence an <s>, every third sentence at prosody rate 80%, and
after every other sentence a <mark/>, a 400 ms <break> and another <mark/>. Besides the
word marks against the onsets it prints how far apart each pair of marks is
and whether the audio between them is silent (a break that ends a paragraph is its
500 ms pause instead, docs/ssml.md).

The issue asks for faster-whisper's word timestamps as the independent aligner, but its
models come from the Hugging Face hub, which this workplace cannot reach (the wheel
installs from PyPI; fetching Systran/faster-whisper-tiny.en fails with "Could not
resolve host: huggingface.co"). Until a session that can fetch one runs it, this
benchmark uses the one reference the audio gives without any model: speech onsets.
Wherever the voice pauses (sentence joins, commas, breaths) and speech resumes, a word
starts; the onset is found from frame energy alone, then the nearest word mark is
compared with it. That checks the marks where the model's durations are least
constrained (after a pause, whose length the model also chose) and it is independent
of those durations, but it sees only the words after pauses, not every word.

Prints the count of onsets, and the median and p90 absolute difference in ms.
"""

import re
import sys
from collections import Counter
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np
from numpy.typing import NDArray

from voxflow.audio.pcm import join_pcm
from voxflow.engine import Engine, SynthesisParams
from voxflow.marks import MarkType
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
    reference = onsets(audio, rate)
    errors = np.array([np.min(np.abs(starts - onset)) * 1000 for onset in reference])
    kind = "SSML" if ssml else "text"
    print(f"{path.name} as {kind}: {len(marks)} word marks, {len(audio) / rate:.1f} s of audio")
    if ssml:
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
    print(
        f"speech onsets after pauses: {len(reference)}; |word start - onset|: "
        f"median {np.median(errors):.0f} ms, p90 {np.percentile(errors, 90):.0f} ms, "
        f"max {errors.max():.0f} ms"
    )


if __name__ == "__main__":
    main()
