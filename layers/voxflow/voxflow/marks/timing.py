"""A chunk's word and viseme times, in samples of its own audio.

Independent of the request's original text, so it is cached with the chunk's audio
under the chunk's key: a chunk hit brings its timings too.

A structured chunk (SSML, lexicons) is timed piece by piece: the words of each text
piece are matched to the phones inside that piece's samples, a phonemes piece is one
word, and breaks and bleeps have none. ``pieces`` keeps where each piece starts, which
is where an SSML <mark/> between pieces is heard.
"""

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from voxflow.marks.plan import spoken_tokens
from voxflow.marks.visemes import visemes
from voxflow.marks.words import spoken_words, word_times
from voxflow.text.document import TIMED_KINDS, decode_chunk, is_structured

if TYPE_CHECKING:  # the engine layer: only where audio is aligned
    from voxflow.engine.alignment import Alignment

# 2: structured chunks are timed piece by piece (version 1 timed their encoded text as
# if it were words, so a structured chunk's version 1 timing is made again).
# 3: a phone owns the PAD before it, not after (voxflow.engine.alignment): every word
# starts earlier, so any chunk's older timing is made again.
TIMING_VERSION = 3


@dataclass(frozen=True)
class ChunkTiming:
    samples: int  # the chunk's audio length
    words: tuple[tuple[int, int], ...]  # per spoken token of the chunk text
    visemes: tuple[tuple[int, str], ...]
    pieces: tuple[int, ...] = (0,)  # each piece's first sample
    version: int = TIMING_VERSION

    def to_json(self) -> str:
        document: dict[str, object] = {
            "v": self.version,
            "samples": self.samples,
            "words": self.words,
            "visemes": self.visemes,
        }
        if self.pieces != (0,):
            document["pieces"] = self.pieces
        return json.dumps(document, separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: str) -> "ChunkTiming":
        document = json.loads(raw)
        return cls(
            samples=int(document["samples"]),
            words=tuple((int(a), int(b)) for a, b in document["words"]),
            visemes=tuple((int(at), str(name)) for at, name in document["visemes"]),
            pieces=tuple(int(at) for at in document.get("pieces", (0,))),
            version=int(document.get("v", 1)),
        )


def timing_usable(raw: str | None) -> bool:
    """Whether a cached chunk timing times its chunk as this version does."""
    if not raw:
        return False
    return bool(json.loads(raw).get("v", 1) >= TIMING_VERSION)


def chunk_timing(
    text: str, alignment: "Alignment", samples: int, piece_starts: tuple[int, ...] = (0,)
) -> ChunkTiming:
    """``text`` is the chunk string, ``alignment`` its audio's phones, ``piece_starts``
    the first sample of each of its pieces (SpeechChunk.piece_starts)."""
    marked = tuple(visemes(alignment))
    if not is_structured(text):
        times = word_times(spoken_tokens(text), spoken_words(alignment.phones), samples)
        return ChunkTiming(samples, tuple(times), marked)
    pieces = decode_chunk(text)
    if len(piece_starts) != len(pieces):
        raise ValueError("a structured chunk's timing needs each piece's start")
    bounds = [*piece_starts, samples]
    words: list[tuple[int, int]] = []
    for piece, start, end in zip(pieces, bounds, bounds[1:], strict=False):
        if piece.kind in TIMED_KINDS:
            continue
        phones = [phone for phone in alignment.phones if start <= phone.start < end]
        spoken = spoken_words(phones)
        if piece.kind == "phonemes":
            words.append((spoken[0].start, spoken[-1].end) if spoken else (start, end))
            continue
        written = spoken_tokens(piece.content)
        if spoken:
            words.extend(word_times(written, spoken, end - start))
        else:
            words.extend([(start, end)] * len(written))
    return ChunkTiming(samples, tuple(words), marked, tuple(piece_starts))
