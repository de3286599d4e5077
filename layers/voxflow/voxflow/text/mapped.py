"""Normalized text that remembers where each of its parts came from in the original.

Speech marks point into the text the user wrote, while the voice reads the
normalized text: "$49.95" is spoken as six words but marked as one. Every
rewrite (cleanup and spoken form alike) goes through ``TrackedText.replaced``,
which records the original range each output character stands for, and
``TrackedText.mapped`` folds those per-character origins into spans.
"""

import bisect
from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class SourceSpan:
    """Normalized text ``[start, end)`` stands for original text ``[source_start, source_end)``."""

    start: int
    end: int
    source_start: int
    source_end: int


@dataclass(frozen=True, slots=True)
class MappedText:
    """The normalized ``text`` and ordered, non-overlapping ``spans`` covering all of it.

    A span maps character for character when it is an unchanged run (or a
    one-for-one substitution such as a typographic quote); any other span maps
    as a whole: each of its parts stands for all of its source. ``exact`` says
    which is which, span by span; without it, a span of two equal lengths
    counts as unchanged. (A rewrite can keep the length, "http://-.com" read
    as "dash dot com", so the lengths alone cannot tell.)
    """

    text: str
    spans: tuple[SourceSpan, ...]
    exact: tuple[bool, ...] = field(default=(), compare=False, repr=False)

    def char_for_char(self, index: int) -> bool:
        """Whether ``spans[index]`` maps character for character."""
        if self.exact:
            return self.exact[index]
        span = self.spans[index]
        return span.end - span.start == span.source_end - span.source_start

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
        covering: list[int] = []
        for index in range(first, len(self.spans)):
            if self.spans[index].start >= end:
                break
            if self.spans[index].end > start:
                covering.append(index)
        if start == end or not covering:
            position = self._source_position(first, start)
            return (position, position)
        low, high = covering[0], covering[-1]
        return (
            self._source_position(low, max(start, self.spans[low].start)),
            self._source_end(high, min(end, self.spans[high].end)),
        )

    def _source_position(self, index: int, at: int) -> int:
        span = self.spans[index]
        if self.char_for_char(index):
            return span.source_start + min(max(at - span.start, 0), span.end - span.start)
        return span.source_start if at < span.end else span.source_end

    def _source_end(self, index: int, at: int) -> int:
        span = self.spans[index]
        if self.char_for_char(index):
            return span.source_start + (at - span.start)
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
        # Plain [start, end, source_start, source_end, exact] lists while merging: this
        # runs once per character, and building a frozen dataclass each time is slow.
        spans: list[list[int]] = []
        for start, end, source_start, source_end in _runs(self.origins):
            # One character for one: unchanged, or a one-for-one substitution.
            exact = end - start == 1 and source_end - source_start == 1
            if spans:
                last = spans[-1]
                if source_start == last[3] and exact and last[4]:
                    last[1], last[3] = end, source_end
                    continue
                if source_start < last[3]:
                    # A rewrite that took in part of an earlier one: one span for both.
                    last[1], last[3], last[4] = end, max(source_end, last[3]), False
                    continue
            spans.append([start, end, source_start, source_end, exact])
        return MappedText(
            self.text,
            tuple(SourceSpan(*span[:4]) for span in spans),
            tuple(bool(span[4]) for span in spans),
        )


def _runs(origins: list[Origin]) -> Iterable[tuple[int, int, int, int]]:
    """Characters with the same origin, one run each: a rewrite, or one unchanged character."""
    start = 0
    for index in range(1, len(origins) + 1):
        if index == len(origins) or origins[index] != origins[start]:
            source_start, source_end = origins[start]
            yield (start, index, source_start, source_end)
            start = index
