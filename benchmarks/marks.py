"""Word-mark accuracy against a reference taken from the audio itself.

    python benchmarks/marks.py [TEXT_FILE]   (default: benchmarks/corpus/long.txt, 493 words)

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

import sys
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from voxflow.audio.pcm import join_pcm
from voxflow.engine import Engine, SynthesisParams
from voxflow.marks.speech import speech_marks
from voxflow.settings import EngineSettings
from voxflow.text import normalize_mapped, split_into_chunks
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


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else CORPUS
    text = path.read_text(encoding="utf-8")
    settings = EngineSettings()
    engine = Engine(VoiceRegistry.default(cache_dir=settings.cache_dir), settings)
    mapped = normalize_mapped(text)
    chunks = list(
        engine.synthesize(split_into_chunks(mapped.text, settings.chunk_max_chars), "joe", PARAMS)
    )
    rate = chunks[0].sample_rate
    marks = speech_marks(text, mapped, chunks, PARAMS.sentence_pause_s, ("word",))
    audio = join_pcm([chunk.pcm for chunk in chunks], rate, pause_s=PARAMS.sentence_pause_s)
    starts = np.array([mark.time / 1000 for mark in marks])
    reference = onsets(audio, rate)
    errors = np.array([np.min(np.abs(starts - onset)) * 1000 for onset in reference])
    print(f"{path.name}: {len(marks)} word marks, {len(audio) / rate:.1f} s of audio")
    print(
        f"speech onsets after pauses: {len(reference)}; |word start - onset|: "
        f"median {np.median(errors):.0f} ms, p90 {np.percentile(errors, 90):.0f} ms, "
        f"max {errors.max():.0f} ms"
    )


if __name__ == "__main__":
    main()
