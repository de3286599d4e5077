"""Where each phoneme lies in a chunk's audio, from the model's own durations.

A VITS voice patched with piper's alignment output returns, for every input id, the
number of frames it spoke; ``hop_length`` samples a frame. piper's id sequence is BOS,
PAD, then each phoneme's ids followed by PAD, then EOS. A phoneme here owns the PAD
before it and its ids (BOS its ids alone): the PAD's frames are heard as the way into
the next sound, not the tail of the last. piper's own ``PhonemeAlignment`` gives the PAD
to the phoneme before; that started each word one to three frames (a median 23 ms) late:
word marks were 21 ms later against an independent aligner and 13 ms later against the
energy onsets where speech resumes (benchmarks/marks.py, benchmarks/NOTES.md). Phonemes
the voice's id map lacks are dropped from the ids, so they are dropped here too.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from piper.const import BOS, EOS, PAD


@dataclass(frozen=True)
class Phone:
    """One phoneme (or BOS/EOS, a space, punctuation) and the samples it spans."""

    phoneme: str
    ids: tuple[int, ...]
    start: int  # first sample in the chunk's pcm
    samples: int

    @property
    def end(self) -> int:
        return self.start + self.samples


@dataclass(frozen=True)
class Alignment:
    """Every phone of a chunk, in order, with sample offsets into the chunk's pcm."""

    phones: tuple[Phone, ...]

    @property
    def phonemes(self) -> tuple[str, ...]:
        return tuple(phone.phoneme for phone in self.phones)

    @property
    def durations(self) -> tuple[int, ...]:
        return tuple(phone.samples for phone in self.phones)

    def shifted(self, offset: int) -> "Alignment":
        return Alignment(
            tuple(Phone(p.phoneme, p.ids, p.start + offset, p.samples) for p in self.phones)
        )

    @staticmethod
    def joined(parts: Sequence[tuple["Alignment", int]]) -> "Alignment":
        """Alignments of consecutive pieces of audio, each with its piece's start sample."""
        phones: list[Phone] = []
        for alignment, offset in parts:
            phones.extend(alignment.shifted(offset).phones)
        return Alignment(tuple(phones))


def utterance_alignment(
    phonemes: Sequence[str],
    ids: Sequence[int],
    id_samples: Sequence[int],
    id_map: Mapping[str, Sequence[int]],
) -> Alignment | None:
    """The phones of one utterance; None when the ids are not the phonemes' ids."""
    if len(id_samples) != len(ids):
        return None
    pad = list(id_map.get(PAD, []))
    spoken = [phoneme for phoneme in phonemes if phoneme in id_map]
    phones: list[Phone] = []
    position = 0
    start = 0
    for index, phoneme in enumerate((BOS, *spoken, EOS)):
        expected = list(id_map.get(phoneme, []))
        if index:
            expected = pad + expected
        own = list(ids[position : position + len(expected)])
        if own != expected:
            return None
        samples = int(sum(id_samples[position : position + len(expected)]))
        phones.append(Phone(phoneme, tuple(own), start, samples))
        position += len(expected)
        start += samples
    if position != len(ids):
        return None
    return Alignment(tuple(phones))
