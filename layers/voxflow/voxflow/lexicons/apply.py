"""Lexicons applied to a speech document: graphemes become aliases or phonemes.

Polly's rules: lexicons apply in the order the request names them, and the first one
that matches a word wins (a later lexicon never rewrites what an earlier one did).
Within one lexicon the leftmost, then longest grapheme wins. Matching is exact and
case-sensitive ("W3C" is not "w3c"), on whole words: a grapheme matches only where
no letter, digit or underscore touches it on either side, so "tomato" never matches
inside "tomatoes"; whitespace inside a multi-word grapheme matches any whitespace.

Only text still to be normalized is matched (an SSML <sub> alias too): not say-as
output (``Text.spoken``), not phonemes, and not what a lexicon put there.

``max_chars`` bounds what the speech grows to (a 1-character grapheme with a
4,000-character alias would otherwise turn a short request into megabytes of text):
TextTooLong as soon as the text and phonemes pass it, before the rest is built.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass

from voxflow.errors import InvalidParameter, TextTooLong
from voxflow.lexicons.model import MAX_LEXICONS_PER_REQUEST, Alias, Lexicon, Pronunciation
from voxflow.text.document import Phonemes, Segment, Source, SpeechDocument, Text


@dataclass(frozen=True)
class _Matcher:
    pattern: re.Pattern[str]
    pronunciations: dict[str, Pronunciation]  # grapheme, whitespace collapsed


@dataclass
class _Budget:
    used: int
    limit: int | None

    def grow(self, by: int) -> None:
        self.used += by
        if self.limit is not None and self.used > self.limit:
            raise TextTooLong(self.used, self.limit)


def apply_lexicons(
    document: SpeechDocument, lexicons: Sequence[Lexicon], *, max_chars: int | None = None
) -> SpeechDocument:
    if len(lexicons) > MAX_LEXICONS_PER_REQUEST:
        raise InvalidParameter(f"at most {MAX_LEXICONS_PER_REQUEST} lexicons apply to a request")
    budget = _Budget(sum(_length(segment) for segment in document.segments), max_chars)
    # (segment, still open to lexicons)
    segments: list[tuple[Segment, bool]] = [(segment, True) for segment in document.segments]
    for lexicon in lexicons:
        matcher = _matcher(lexicon)
        if matcher is None:
            continue
        applied: list[tuple[Segment, bool]] = []
        for segment, open_ in segments:
            if open_ and isinstance(segment, Text) and not segment.spoken:
                applied.extend(_rewrite(segment, matcher, budget))
            else:
                applied.append((segment, open_))
        segments = applied
    return SpeechDocument(tuple(segment for segment, _ in segments), document.original)


def _matcher(lexicon: Lexicon) -> _Matcher | None:
    pronunciations: dict[str, Pronunciation] = {}
    for lexeme in lexicon.lexemes:
        for grapheme in lexeme.graphemes:
            pronunciations.setdefault(grapheme, lexeme.pronunciation)  # first lexeme wins
    if not pronunciations:
        return None
    alternatives = sorted(pronunciations, key=len, reverse=True)
    body = "|".join(r"\s+".join(re.escape(word) for word in g.split(" ")) for g in alternatives)
    return _Matcher(re.compile(rf"(?<!\w)(?:{body})(?!\w)"), pronunciations)


def _length(segment: Segment) -> int:
    if isinstance(segment, Text):
        return len(segment.text)
    return len(segment.ipa) if isinstance(segment, Phonemes) else 0


def _rewrite(segment: Text, matcher: _Matcher, budget: _Budget) -> list[tuple[Segment, bool]]:
    text = segment.text
    source = segment.source
    # Offsets into the original hold only for a verbatim slice; otherwise every piece
    # stands for the segment's whole range.
    exact = source.verbatim and source.end - source.start == len(text)

    def source_of(start: int, end: int, verbatim: bool) -> Source:
        if not exact:
            return Source(source.start, source.end, verbatim=False)
        return Source(source.start + start, source.start + end, verbatim=verbatim)

    pieces: list[tuple[Segment, bool]] = []
    position = 0
    for match in matcher.pattern.finditer(text):
        start, end = match.span()
        if start > position:
            rest = Text(text[position:start], source_of(position, start, True), segment.prosody)
            pieces.append((rest, True))
        pronunciation = matcher.pronunciations[" ".join(match[0].split())]
        where = source_of(start, end, False)
        if isinstance(pronunciation, Alias):
            # spoken=False: the alias is normalized like the user's own words.
            replacement: Segment = Text(pronunciation.text, where, segment.prosody)
        else:
            replacement = Phonemes(pronunciation.ipa, where, segment.prosody)
        budget.grow(_length(replacement) - (end - start))
        pieces.append((replacement, False))
        position = end
    if not pieces:
        return [(segment, True)]
    if position < len(text):
        rest = Text(text[position:], source_of(position, len(text), True), segment.prosody)
        pieces.append((rest, True))
    return pieces
