"""Which samples of a chunk speak which of its words.

espeak separates the words it speaks with a ' ' phoneme, but not always where the
text has a space: it runs short function words together ("of the" is one
phonetic word, ʌvðə) and may split others. The chunk's written words are matched
to espeak's words by a monotonic alignment on length (letters against phonemes,
scaled by the chunk's own ratio), allowing a few words on either side to share
one match; a written word that shares an espeak word gets a share of its time
in proportion to its letters.
"""

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol


class TimedPhone(Protocol):
    """A phone of an alignment (voxflow.engine.alignment.Phone)."""

    @property
    def phoneme(self) -> str: ...

    @property
    def start(self) -> int: ...

    @property
    def end(self) -> int: ...


# Phones that end a word: the utterance's ends, the space, punctuation espeak keeps.
_BREAKS = frozenset({"^", "$", "_", " ", ".", ",", "!", "?", ":", ";", "…", "—", "-", '"'})
# Marks that change a sound rather than add one: no weight in a word's length.
_MODIFIERS = frozenset({"ˈ", "ˌ", "ː", "ˑ", "\u0303", "\u0329", "\u0361"})
_MAX_GROUP = 4  # written words sharing one espeak word, or the reverse
_GROUP_COST = 0.6  # per extra word in a group: a 1:1 match is preferred


@dataclass(frozen=True)
class SpokenWord:
    start: int
    end: int
    weight: int  # phonemes, not counting stress and length marks


def spoken_words(phones: Iterable[TimedPhone]) -> list[SpokenWord]:
    words: list[SpokenWord] = []
    start = end = weight = 0
    inside = False
    for phone in phones:
        if phone.phoneme in _BREAKS:
            if inside:
                words.append(SpokenWord(start, end, max(weight, 1)))
            inside = False
            continue
        if not inside:
            start, weight, inside = phone.start, 0, True
        end = phone.end
        weight += phone.phoneme not in _MODIFIERS
    if inside:
        words.append(SpokenWord(start, end, max(weight, 1)))
    return words


def letters(word: str) -> int:
    return sum(ch.isalnum() for ch in word)


def word_times(
    written: Sequence[str], spoken: Sequence[SpokenWord], length: int
) -> list[tuple[int, int]]:
    """(start, end) samples for each written word (words with letters only)."""
    weights = [max(letters(word), 1) for word in written]
    if not written:
        return []
    if not spoken:
        return [(0, length)] * len(written)
    groups = _align(weights, [word.weight for word in spoken])
    times: list[tuple[int, int]] = []
    for (w0, w1), (s0, s1) in groups:
        start, end = spoken[s0].start, spoken[s1 - 1].end
        total = sum(weights[w0:w1])
        position = 0
        for index in range(w0, w1):
            first = start + (end - start) * position // total
            position += weights[index]
            times.append((first, start + (end - start) * position // total))
    return times


Group = tuple[tuple[int, int], tuple[int, int]]


def _align(written: Sequence[int], spoken: Sequence[int]) -> list[Group]:
    """Monotonic groups (written range, spoken range) covering both, at least cost."""
    n, m = len(written), len(spoken)
    ratio = sum(spoken) / sum(written)
    band = abs(n - m) + 2 * _MAX_GROUP
    inf = math.inf
    cost: dict[tuple[int, int], float] = {(0, 0): 0.0}
    back: dict[tuple[int, int], tuple[int, int]] = {}
    written_sum = [0]
    for weight in written:
        written_sum.append(written_sum[-1] + weight)
    spoken_sum = [0]
    for weight in spoken:
        spoken_sum.append(spoken_sum[-1] + weight)
    for i in range(1, n + 1):
        centre = i * m / n
        for j in range(max(1, int(centre - band)), min(m, int(centre + band)) + 1):
            best, best_from = inf, (0, 0)
            for a in range(1, min(_MAX_GROUP, i) + 1):
                for b in range(1, min(_MAX_GROUP, j) + 1):
                    if a > 1 and b > 1:
                        continue
                    previous = cost.get((i - a, j - b))
                    if previous is None:
                        continue
                    expected = (written_sum[i] - written_sum[i - a]) * ratio
                    actual = spoken_sum[j] - spoken_sum[j - b]
                    step = abs(math.log((actual + 1) / (expected + 1)))
                    total = previous + step + _GROUP_COST * (a + b - 2)
                    if total < best:
                        best, best_from = total, (i - a, j - b)
            if best < inf:
                cost[(i, j)] = best
                back[(i, j)] = best_from
    if (n, m) not in cost:  # outside the band: fall back to one group
        return [((0, n), (0, m))]
    groups: list[Group] = []
    node = (n, m)
    while node != (0, 0):
        came_from = back[node]
        groups.append(((came_from[0], node[0]), (came_from[1], node[1])))
        node = came_from
    return groups[::-1]
