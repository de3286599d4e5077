"""An independent word aligner for benchmarks/marks.py: pocketsphinx's forced alignment.

pocketsphinx (BSD-2-Clause, CMU) ships its US English acoustic model and the CMU
pronouncing dictionary inside its PyPI wheel, so nothing is fetched at run time. It is
a dev-only requirement (pyproject.toml's dev extra). Its models are HMMs trained on
recorded speech: nothing in it knows the joe voice, espeak's phonemes or the VITS
durations voxflow's marks come from.

The aligner gets 16 kHz audio (resampled with soxr, not voxflow's resampler) and the
words as written, lowercased; it answers when each word starts, at its 10 ms frame
rate. A word the dictionary lacks is spelt as two dictionary words when it splits into
two ("stonemasons": stone masons); any other is an error, not a guess.
"""

import re
from collections.abc import Sequence

import numpy as np
import soxr
from numpy.typing import NDArray
from pocketsphinx import Decoder

RATE = 16_000
FRAME_S = 0.01  # pocketsphinx's default frame rate, 100 a second
_FILLERS = frozenset({"<s>", "</s>", "<sil>", "(NULL)", "[NOISE]"})


class OutOfVocabulary(ValueError):
    """A word neither in the dictionary nor two of its words."""


def aligner_word(written: str) -> str:
    """How the dictionary spells a written word: lowercase letters and apostrophes."""
    return re.sub(r"[^a-z']", "", written.lower())


def _spell(decoder: Decoder, word: str) -> None:
    if decoder.lookup_word(word) is not None:
        return
    for cut in range(2, len(word) - 1):
        head, tail = decoder.lookup_word(word[:cut]), decoder.lookup_word(word[cut:])
        if head and tail:
            decoder.add_word(word, f"{head} {tail}", True)
            return
    raise OutOfVocabulary(f"pocketsphinx's dictionary has no {word!r}")


def word_starts(pcm: NDArray[np.int16], rate: int, written: Sequence[str]) -> list[float]:
    """Seconds where each of ``written`` starts in ``pcm``, by forced alignment."""
    words = [aligner_word(word) for word in written]
    if not all(words):
        raise OutOfVocabulary("a word with no letters cannot be aligned")
    decoder = Decoder(samprate=RATE, loglevel="ERROR")
    for word in words:
        _spell(decoder, word)
    audio = soxr.resample(pcm, rate, RATE).astype(np.int16)
    decoder.set_align_text(" ".join(words))
    decoder.start_utt()
    decoder.process_raw(audio.tobytes(), full_utt=True)
    decoder.end_utt()
    found = [s for s in decoder.seg() if s.word not in _FILLERS]
    if [re.sub(r"\(\d+\)$", "", s.word) for s in found] != words:
        raise RuntimeError("pocketsphinx did not align every word")
    return [s.start_frame * FRAME_S for s in found]
