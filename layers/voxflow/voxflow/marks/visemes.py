"""Phoneme to viseme: the joe voice's espeak IPA to Amazon Polly's viseme names.

Polly's English visemes (its "Phoneme and Viseme Tables", US English) are
p (b p m), f (f v), T (θ ð), t (t d n l), s (s z), S (ʃ ʒ tʃ dʒ), k (k ɡ ŋ h),
r (ɹ), i (i ɪ j), u (u ʊ w), @ (ə ɚ), a (æ ɑ aɪ aʊ), e (eɪ), E (ɛ ɝ ʌ), o (oʊ),
O (ɔ ɔɪ) and sil (silence). espeak's symbols for the same sounds (ɾ, ᵻ, ɐ, ɜ,
the length mark, r-colouring) take the viseme of the sound they stand for.
piper splits each phoneme into code points, so the two-letter diphthongs and
affricates are matched first and give one viseme. Stress and length marks
have no mouth shape: they take none.
"""

from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the engine layer: only where audio is aligned
    from voxflow.engine.alignment import Alignment


SILENCE = "sil"

DIGRAPHS: dict[tuple[str, str], str] = {
    ("a", "ɪ"): "a",
    ("a", "ʊ"): "a",
    ("e", "ɪ"): "e",
    ("o", "ʊ"): "o",
    ("ɔ", "ɪ"): "O",
    ("t", "ʃ"): "S",
    ("d", "ʒ"): "S",
}

VISEMES: dict[str, str] = {
    **dict.fromkeys("bpm", "p"),
    **dict.fromkeys("fv", "f"),
    **dict.fromkeys("θð", "T"),
    **dict.fromkeys("tdnlɾɫ", "t"),
    **dict.fromkeys("sz", "s"),
    **dict.fromkeys("ʃʒ", "S"),
    **dict.fromkeys("kɡgŋhxʔ", "k"),
    **dict.fromkeys("ɹr", "r"),
    **dict.fromkeys("iɪjᵻy", "i"),
    **dict.fromkeys("uʊw", "u"),
    **dict.fromkeys("əɚɐ", "@"),
    **dict.fromkeys("æɑa", "a"),
    **dict.fromkeys("e", "e"),
    **dict.fromkeys("ɛɜɝʌ", "E"),
    **dict.fromkeys("o", "o"),
    **dict.fromkeys("ɔɒ", "O"),
    # Pauses: the utterance's ends and the punctuation espeak keeps.
    **dict.fromkeys(["^", "$", ".", ",", "!", "?", ":", ";", "…"], SILENCE),
}


def visemes(alignment: "Alignment") -> Iterator[tuple[int, str]]:
    """(start sample, viseme) for every phone with a table entry, a digraph as one."""
    phones = alignment.phones
    index = 0
    while index < len(phones):
        phone = phones[index]
        if index + 1 < len(phones):
            pair = (phone.phoneme, phones[index + 1].phoneme)
            if pair in DIGRAPHS:
                yield phone.start, DIGRAPHS[pair]
                index += 2
                continue
        viseme = VISEMES.get(phone.phoneme)
        if viseme is not None:
            yield phone.start, viseme
        index += 1
