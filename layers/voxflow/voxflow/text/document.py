"""A request's speech as structure: what plain text, SSML and lexicons all become.

Two levels, because they live in different places:

- ``SpeechDocument`` is the whole request: segments of text, phonemes, breaks and
  marks, each with its ``Source`` (where it came from in the text the user sent).
  Sources are what speech marks report; they never shape the sound.
- A chunk is what the pipeline synthesizes and caches. It travels as a string (chunk
  tasks, job items, cache keys), built from ``Piece`` values that hold only what
  shapes the sound. A chunk of plain text at default prosody is its text, exactly as
  before this module existed, so plain requests keep their cache keys; any other
  chunk is ``CHUNK_MARKER`` followed by canonical JSON of its pieces, which puts
  prosody, breaks and phonemes into the chunk key.

``CHUNK_MARKER`` is a control character: ``clean_text`` removes every control
character from user text, so no plain chunk can start with it.
"""

import json
import math
from dataclasses import dataclass, field

from voxflow.errors import InvalidParameter

CHUNK_MARKER = "\x1e"  # ASCII record separator
SILENT_DB = -120.0  # SSML volume="silent": the engine writes zeros at or below it
MAX_BREAK_S = 10.0  # Polly's limit for one <break>
RATE_LIMITS = (0.2, 2.0)  # SSML prosody rate 20%..200%


@dataclass(frozen=True)
class Prosody:
    """How a piece is spoken. rate multiplies the speaking rate (0.5: half as fast)."""

    rate: float = 1.0
    volume_db: float = 0.0
    drc: bool = False  # amazon:effect name="drc": dynamic range compression

    def __post_init__(self) -> None:
        low, high = RATE_LIMITS
        if not math.isfinite(self.rate) or not low <= self.rate <= high:
            raise InvalidParameter(f"prosody rate {self.rate} is outside {low}..{high}")
        if not math.isfinite(self.volume_db) or not SILENT_DB <= self.volume_db <= 6.0:
            raise InvalidParameter(f"prosody volume {self.volume_db} dB is outside -120..+6")

    @property
    def is_default(self) -> bool:
        return self == DEFAULT_PROSODY


DEFAULT_PROSODY = Prosody()


@dataclass(frozen=True)
class Source:
    """Characters [start, end) of the request's original text a segment stands for.

    verbatim: the segment's text is that slice char for char (after cleanup), so a word
    inside it maps to its own characters; otherwise (an alias, a say-as expansion)
    every word of the segment maps to the whole range.
    """

    start: int
    end: int
    verbatim: bool = True


# Request level: what SSML, a lexicon or plain text produce.


@dataclass(frozen=True)
class Text:
    """Words to speak; normalization to spoken form still applies unless spoken=True."""

    text: str
    source: Source
    prosody: Prosody = DEFAULT_PROSODY
    spoken: bool = False  # already in spoken form (say-as output, a lexicon alias)


@dataclass(frozen=True)
class Phonemes:
    """IPA the voice is given directly (SSML <phoneme>, a lexicon's phoneme entry)."""

    ipa: str
    source: Source
    prosody: Prosody = DEFAULT_PROSODY


@dataclass(frozen=True)
class Break:
    seconds: float
    source: Source

    def __post_init__(self) -> None:
        if not math.isfinite(self.seconds) or not 0.0 <= self.seconds <= MAX_BREAK_S:
            raise InvalidParameter(f"break of {self.seconds} s is outside 0..{MAX_BREAK_S}")


@dataclass(frozen=True)
class SentenceEnd(Break):
    """A sentence or paragraph ends here (SSML </s>, </p>): the next words start a new
    chunk. ``seconds`` is silence on top of the pause between chunks (0 for </s>)."""


@dataclass(frozen=True)
class Bleep(Break):
    """A word replaced by a tone of ``seconds`` (SSML say-as interpret-as="expletive").
    A Break, so whatever times the audio counts it like a pause of that length."""


@dataclass(frozen=True)
class Mark:
    """SSML <mark name="..."/>: reported in the ssml speech marks, silent."""

    name: str
    source: Source


Segment = Text | Phonemes | Break | Mark


@dataclass(frozen=True)
class SpeechDocument:
    segments: tuple[Segment, ...]
    original: str = field(repr=False)  # the text as the user sent it (marks' offsets)

    @classmethod
    def plain(cls, text: str) -> "SpeechDocument":
        return cls((Text(text, Source(0, len(text))),), text)


# Chunk level: only what shapes the sound.

PIECE_KINDS = ("text", "phonemes", "break", "tone")
TIMED_KINDS = ("break", "tone")  # pieces that are a length of sound, not words


@dataclass(frozen=True)
class Piece:
    """One run of a chunk: kind "text" (normalized words), "phonemes" (IPA),
    "break" (silence of ``seconds``) or "tone" (a bleep of ``seconds``)."""

    kind: str
    content: str = ""
    prosody: Prosody = DEFAULT_PROSODY
    seconds: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in PIECE_KINDS:
            raise InvalidParameter(f"unknown chunk piece kind {self.kind!r}")


def encode_chunk(pieces: tuple[Piece, ...] | list[Piece]) -> str:
    """The chunk string: plain text for one default text piece, else marker + JSON."""
    if len(pieces) == 1 and pieces[0].kind == "text" and pieces[0].prosody.is_default:
        return pieces[0].content
    document = [_piece_json(piece) for piece in pieces]
    return CHUNK_MARKER + json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def decode_chunk(chunk: str) -> tuple[Piece, ...]:
    if not chunk.startswith(CHUNK_MARKER):
        return (Piece("text", chunk),)
    try:
        document = json.loads(chunk[len(CHUNK_MARKER) :])
        return tuple(_piece_from_json(item) for item in document)
    except (ValueError, TypeError, KeyError) as error:
        raise InvalidParameter(f"malformed structured chunk: {type(error).__name__}") from None


def is_structured(chunk: str) -> bool:
    return chunk.startswith(CHUNK_MARKER)


def _piece_json(piece: Piece) -> dict[str, object]:
    item: dict[str, object] = {"k": piece.kind}
    if piece.kind in TIMED_KINDS:
        item["s"] = round(piece.seconds, 6)
        return item
    item["c"] = piece.content
    if not piece.prosody.is_default:
        item["r"] = round(piece.prosody.rate, 6)
        item["v"] = round(piece.prosody.volume_db, 6)
        item["d"] = piece.prosody.drc
    return item


def _piece_from_json(item: dict[str, object]) -> Piece:
    kind = str(item["k"])
    if kind in TIMED_KINDS:
        seconds = float(item["s"])  # type: ignore[arg-type]
        if not math.isfinite(seconds) or not 0.0 <= seconds <= MAX_BREAK_S:
            raise ValueError("piece length out of range")
        return Piece(kind, seconds=seconds)
    prosody = DEFAULT_PROSODY
    if "r" in item:
        prosody = Prosody(
            rate=float(item["r"]),  # type: ignore[arg-type]
            volume_db=float(item["v"]),  # type: ignore[arg-type]
            drc=bool(item["d"]),
        )
    return Piece(kind, str(item["c"]), prosody)
