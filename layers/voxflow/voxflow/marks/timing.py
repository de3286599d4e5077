"""A chunk's word and viseme times, in samples of its own audio.

Independent of the request's original text, so it is cached with the chunk's audio
under the chunk's key: a chunk hit brings its timings too.
"""

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from voxflow.marks.plan import spoken_tokens
from voxflow.marks.visemes import visemes
from voxflow.marks.words import spoken_words, word_times

if TYPE_CHECKING:  # the engine layer: only where audio is aligned
    from voxflow.engine.alignment import Alignment

TIMING_VERSION = 1


@dataclass(frozen=True)
class ChunkTiming:
    samples: int  # the chunk's audio length
    words: tuple[tuple[int, int], ...]  # per spoken token of the chunk text
    visemes: tuple[tuple[int, str], ...]

    def to_json(self) -> str:
        return json.dumps(
            {
                "v": TIMING_VERSION,
                "samples": self.samples,
                "words": self.words,
                "visemes": self.visemes,
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, raw: str) -> "ChunkTiming":
        document = json.loads(raw)
        return cls(
            samples=int(document["samples"]),
            words=tuple((int(a), int(b)) for a, b in document["words"]),
            visemes=tuple((int(at), str(name)) for at, name in document["visemes"]),
        )


def chunk_timing(text: str, alignment: "Alignment", samples: int) -> ChunkTiming:
    """``text`` is the chunk's normalized text, ``alignment`` its audio's phones."""
    times = word_times(spoken_tokens(text), spoken_words(alignment), samples)
    return ChunkTiming(samples, tuple(times), tuple(visemes(alignment)))
