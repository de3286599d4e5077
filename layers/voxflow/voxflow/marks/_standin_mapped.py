"""STAND-IN, deleted when the normalize branch lands: ``normalize_mapped`` with the
contract of voxflow.text.spoken.normalize_mapped / voxflow.text.mapped, built by
diffing the original against ``normalize_text``'s output."""

import bisect
import difflib
from dataclasses import dataclass

from voxflow.text import normalize_text


@dataclass(frozen=True, slots=True)
class SourceSpan:
    start: int
    end: int
    source_start: int
    source_end: int

    @property
    def char_for_char(self) -> bool:
        return self.end - self.start == self.source_end - self.source_start


@dataclass(frozen=True, slots=True)
class MappedText:
    text: str
    spans: tuple[SourceSpan, ...]

    def source_range(self, start: int, end: int) -> tuple[int, int]:
        if not self.spans:
            return (0, 0)
        first = max(bisect.bisect_right(self.spans, start, key=lambda s: s.start) - 1, 0)
        covering = [
            s for s in self.spans[first:] if s.start < max(end, start + 1) and s.end > start
        ]
        if not covering:
            covering = [self.spans[first]]
        lo, hi = covering[0], covering[-1]
        low = lo.source_start + (max(start, lo.start) - lo.start if lo.char_for_char else 0)
        high = (
            hi.source_start + (min(end, hi.end) - hi.start) if hi.char_for_char else hi.source_end
        )
        return (low, high)


def normalize_mapped(text: str) -> MappedText:
    normalized = normalize_text(text)
    matcher = difflib.SequenceMatcher(None, text, normalized, autojunk=False)
    spans: list[SourceSpan] = []
    for tag, a0, a1, b0, b1 in matcher.get_opcodes():
        if b1 == b0:
            continue
        if tag == "equal":
            spans.append(SourceSpan(b0, b1, a0, a1))
        else:
            spans.append(SourceSpan(b0, b1, a0, a1))
    return MappedText(normalized, tuple(spans))
