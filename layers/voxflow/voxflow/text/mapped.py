"""Normalized text that remembers where each of its parts came from in the original.

Speech marks point into the text the user wrote, while the voice reads the
normalized text: "$49.95" is spoken as six words but marked as one. Every
rewrite (cleanup and spoken form alike) goes through ``TrackedText.replaced``,
which records the original range each output character stands for, and
``TrackedText.mapped`` folds those per-character origins into spans.
"""

import bisect
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SourceSpan:
    """Normalized text ``[start, end)`` stands for original text ``[source_start, source_end)``.

    A span whose two lengths are equal maps character for character (an
    unchanged run, or a one-for-one substitution such as a typographic quote);
    any other span maps as a whole: each of its parts stands for all of it.
    """

    start: int
    end: int
    source_start: int
    source_end: int

    @property
    def char_for_char(self) -> bool:
        return self.end - self.start == self.source_end - self.source_start


@dataclass(frozen=True, slots=True)
class MappedText:
    """The normalized ``text`` and ordered, non-overlapping ``spans`` covering all of it."""

    text: str
    spans: tuple[SourceSpan, ...]

    def source_range(self, start: int, end: int) -> tuple[int, int]:
        """Return the original range that covers normalized ``[start, end)``.

        A range that touches part of a rewritten span gets the whole of its
        source: half of "forty-nine dollars" still comes from all of "$49.95".
        An empty range maps to the original position it sits at.
        """
        if not 0 <= start <= end <= len(self.text):
            raise ValueError(f"range [{start}, {end}) is outside 0..{len(self.text)}")
        if not self.spans:
            return (0, 0)
        first = max(bisect.bisect_right(self.spans, start, key=lambda s: s.start) - 1, 0)
        if start == end:
            position = _source_position(self.spans[first], start)
            return (position, position)
        covering = []
        for span in self.spans[first:]:
            if span.start >= end:
                break
            if span.end > start:
                covering.append(span)
        lo, hi = covering[0], covering[-1]
        return (_source_position(lo, max(start, lo.start)), _source_end(hi, min(end, hi.end)))


def _source_position(span: SourceSpan, index: int) -> int:
    if span.char_for_char:
        return span.source_start + min(max(index - span.start, 0), span.end - span.start)
    return span.source_start if index < span.end else span.source_end


def _source_end(span: SourceSpan, index: int) -> int:
    if span.char_for_char:
        return span.source_start + (index - span.start)
    return span.source_end


type Origin = tuple[int, int]


class TrackedText:
    """A text under rewriting, with the original range behind each of its characters."""

    __slots__ = ("origins", "source_length", "text")

    def __init__(self, text: str, origins: list[Origin], source_length: int) -> None:
        self.text = text
        self.origins = origins
        self.source_length = source_length

    @classmethod
    def of(cls, text: str) -> "TrackedText":
        return cls(text, [(i, i + 1) for i in range(len(text))], len(text))

    def _cover(self, start: int, end: int) -> Origin:
        if start < end:
            return (self.origins[start][0], self.origins[end - 1][1])
        if start < len(self.origins):
            at = self.origins[start][0]
        else:
            at = self.origins[-1][1] if self.origins else self.source_length
        return (at, at)

    def replaced(self, edits: Iterable[tuple[int, int, str]]) -> "TrackedText":
        """Apply ordered, non-overlapping ``(start, end, replacement)`` edits.

        A replacement stands for the whole original range of what it replaces;
        one equal to what it replaces changes nothing, so the map stays exact.
        """
        pieces: list[str] = []
        origins: list[Origin] = []
        position = 0
        for start, end, replacement in edits:
            if replacement == self.text[start:end]:
                continue
            pieces.append(self.text[position:start])
            origins.extend(self.origins[position:start])
            pieces.append(replacement)
            origins.extend([self._cover(start, end)] * len(replacement))
            position = end
        if position == 0 and not pieces:
            return self
        pieces.append(self.text[position:])
        origins.extend(self.origins[position:])
        return TrackedText("".join(pieces), origins, self.source_length)

    def mapped(self) -> MappedText:
        # Plain [start, end, source_start, source_end] lists while merging: this runs
        # once per character, and building a frozen dataclass each time is slow.
        spans: list[list[int]] = []
        for start, end, source_start, source_end in _runs(self.origins):
            exact = end - start == source_end - source_start
            if spans:
                last = spans[-1]
                last_exact = last[1] - last[0] == last[3] - last[2]
                if source_start == last[3] and exact and last_exact:
                    last[1], last[3] = end, source_end
                    continue
                if source_start < last[3]:
                    # A rewrite that took in part of an earlier one: one span for both.
                    last[1], last[3] = end, max(source_end, last[3])
                    continue
            spans.append([start, end, source_start, source_end])
        return MappedText(self.text, tuple(SourceSpan(*span) for span in spans))


def _runs(origins: list[Origin]) -> Iterable[tuple[int, int, int, int]]:
    """Characters with the same origin, one run each: a rewrite, or one unchanged character."""
    start = 0
    for index in range(1, len(origins) + 1):
        if index == len(origins) or origins[index] != origins[start]:
            source_start, source_end = origins[start]
            yield (start, index, source_start, source_end)
            start = index
