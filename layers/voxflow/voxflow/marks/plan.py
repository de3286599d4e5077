"""Where each word and sentence of a request came from in the text the user sent.

The plan depends on the original text and not on the audio, so it is made when a
request is planned and kept beside the job; the chunks' timings (``timing``) depend
on the audio and not on the original text, so they are cached with the chunks.
``compose`` joins the two.

Words are the words the user wrote: the normalized words of one rewritten span
("$49.95" spoken as "forty-nine dollars and ninety-five cents") map to the same
source range and become one word, timed from the first of them.
"""

import bisect
import json
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from itertools import accumulate
from typing import Protocol

from voxflow.errors import InvalidParameter
from voxflow.marks.words import letters

_TOKEN = re.compile(r"\S+")
_SENTENCE_END = ".!?…"
_CLOSERS = "\"')]}"


class SourceMap(Protocol):
    """Normalized text that maps its ranges back to the original (MappedText)."""

    @property
    def text(self) -> str: ...

    def source_range(self, start: int, end: int) -> tuple[int, int]: ...


@dataclass(frozen=True)
class Origin:
    """UTF-8 byte range [start, end) of the original text and what it says."""

    start: int
    end: int
    value: str


@dataclass(frozen=True)
class SsmlMark:
    """An SSML <mark/> and where it is heard: with ``chunk`` >= 0, where piece ``piece``
    of that chunk starts (its piece count: where the chunk ends); otherwise when word
    ``word`` starts (no such word: the end of the audio)."""

    origin: Origin
    word: int = -1
    chunk: int = -1
    piece: int = 0


@dataclass(frozen=True)
class MarksPlan:
    words: tuple[Origin, ...]
    sentences: tuple[Origin, ...]
    # Per chunk, per whitespace token of its text: the index of its word, or -1 for a
    # token with nothing to speak (a lone dash).
    chunk_words: tuple[tuple[int, ...], ...]
    chunk_sentence: tuple[int, ...]
    ssml: tuple[SsmlMark, ...] = ()

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: str) -> "MarksPlan":
        document = json.loads(raw)
        return cls(
            words=tuple(Origin(*item.values()) for item in document["words"]),
            sentences=tuple(Origin(*item.values()) for item in document["sentences"]),
            chunk_words=tuple(tuple(chunk) for chunk in document["chunk_words"]),
            chunk_sentence=tuple(document["chunk_sentence"]),
            ssml=tuple(
                SsmlMark(Origin(**item["origin"]), item["word"], item["chunk"], item["piece"])
                for item in document["ssml"]
            ),
        )


class Bytes:
    """Character offsets of one text to UTF-8 byte offsets, in O(1) each."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._offsets = [0, *accumulate(len(ch.encode("utf-8")) for ch in text)]

    def origin(self, start: int, end: int) -> Origin:
        return Origin(self._offsets[start], self._offsets[end], self.text[start:end])


def plan_marks(
    original: str,
    mapped: SourceMap,
    chunks: Sequence[str],
    ssml_marks: Sequence[tuple[str, int, int]] = (),
) -> MarksPlan:
    """The plan for ``chunks``, which split ``mapped.text`` (as split_into_chunks does).

    ``ssml_marks``: (name, start, end) of each SSML <mark/>, in characters of ``original``.
    """
    text = mapped.text
    tokens = [(match.start(), match.end()) for match in _TOKEN.finditer(text)]
    to_bytes = Bytes(original)
    words: list[Origin] = []
    word_chars: list[tuple[int, int]] = []
    sentences: list[Origin] = []
    sentence_chars: list[tuple[int, int]] = []
    chunk_words: list[tuple[int, ...]] = []
    chunk_sentence: list[int] = []
    cursor = _Cursor(text, tokens)
    continues = False
    for chunk in chunks:
        spans = [cursor.take(token) for token in chunk.split()]
        indexes = []
        for start, end in spans:
            core = _core(text, start, end)
            if core is None:
                indexes.append(-1)
                continue
            source = mapped.source_range(*core)
            # A piece of a word the chunker hard-cut continues it, as does a word whose
            # source overlaps the last one's ("$49.95" spoken as six words).
            continues_word = start > 0 and not text[start - 1].isspace()
            if word_chars and (continues_word or source[0] < word_chars[-1][1]):
                # The same written word as the last one: widen it, no new mark.
                word_chars[-1] = (word_chars[-1][0], max(word_chars[-1][1], source[1]))
                words[-1] = to_bytes.origin(*word_chars[-1])
            else:
                word_chars.append(source)
                words.append(to_bytes.origin(*source))
            indexes.append(len(words) - 1)
        chunk_words.append(tuple(indexes))
        source = mapped.source_range(spans[0][0], spans[-1][1]) if spans else (0, 0)
        if continues and sentence_chars:
            sentence_chars[-1] = (sentence_chars[-1][0], max(sentence_chars[-1][1], source[1]))
            sentences[-1] = to_bytes.origin(*sentence_chars[-1])
        else:
            sentence_chars.append(source)
            sentences.append(to_bytes.origin(*source))
        chunk_sentence.append(len(sentences) - 1)
        # A chunk cut out of a longer sentence: the next chunk is the same sentence.
        continues = chunk.rstrip(_CLOSERS)[-1:] not in _SENTENCE_END
    starts = [start for start, _ in word_chars]
    ssml = tuple(
        SsmlMark(replace(to_bytes.origin(start, end), value=name), bisect.bisect_left(starts, end))
        for name, start, end in ssml_marks
    )
    return MarksPlan(
        tuple(words), tuple(sentences), tuple(chunk_words), tuple(chunk_sentence), ssml
    )


def _core(text: str, start: int, end: int) -> tuple[int, int] | None:
    """The token without its leading and trailing punctuation; None if no letter is left."""
    while start < end and not text[start].isalnum():
        start += 1
    while end > start and not text[end - 1].isalnum():
        end -= 1
    return (start, end) if start < end else None


class _Cursor:
    """Walks the normalized text's tokens as the chunks consume them; a word the chunker
    hard-cut comes back in pieces, each a part of one token."""

    def __init__(self, text: str, tokens: list[tuple[int, int]]) -> None:
        self._text = text
        self._tokens = tokens
        self._index = 0
        self._offset = 0

    def take(self, piece: str) -> tuple[int, int]:
        if self._index >= len(self._tokens):
            raise InvalidParameter("chunks do not split the normalized text")
        start, end = self._tokens[self._index]
        first = start + self._offset
        if self._text[first : first + len(piece)] != piece:
            raise InvalidParameter("chunks do not split the normalized text")
        self._offset += len(piece)
        if first + len(piece) >= end:
            self._index, self._offset = self._index + 1, 0
        return (first, first + len(piece))


def spoken_tokens(chunk: str) -> list[str]:
    """The chunk's tokens that have something to speak, in order (what timing times)."""
    return [token for token in chunk.split() if letters(token)]
