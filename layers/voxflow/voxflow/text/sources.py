"""Where each word a document's text segment speaks came from in the original text.

The words are the ones ``chunk_document`` makes of the segment (cleaned, in spoken
form unless spoken already); each gets two ranges of the original's characters: its
core (without leading and trailing punctuation: what a word mark covers) and the
whole token (what a sentence mark spans). A verbatim segment maps character for
character, an SSML text run with entity references or comments maps through them,
and anything else (an alias, a say-as reading) maps every word to the whole source.
"""

import re
from dataclasses import dataclass

from voxflow.text.clean import clean_tracked
from voxflow.text.document import Text
from voxflow.text.mapped import TrackedText
from voxflow.text.spoken import spoken_tracked

_TOKEN = re.compile(r"\S+")
_ENTITIES = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'"}


@dataclass(frozen=True)
class WordSource:
    core: tuple[int, int]
    token: tuple[int, int]
    # The segment's first word, which may continue the word before the segment: what a
    # lexicon match leaves of "W3C's" is "'s", glued to the alias.
    glued: bool = False


def word_sources(segment: Text, original: str, words: list[str]) -> list[WordSource]:
    """One WordSource per word of ``words`` (the segment's words, as chunked)."""
    start, end = segment.source.start, segment.source.end
    whole = [WordSource((start, end), (start, end))] * len(words)
    origins = _origins(segment, original)
    if origins is None:
        return whole
    tracked = clean_tracked(TrackedText(segment.text, origins, len(original)))
    if not segment.spoken:
        tracked = clean_tracked(spoken_tracked(tracked))
    mapped = tracked.mapped()
    tokens = [match.span() for match in _TOKEN.finditer(mapped.text)]
    if [mapped.text[a:b] for a, b in tokens] != words:
        return whole  # not the words chunk_document spoke: no finer map than the whole
    sources: list[WordSource] = []
    opens_glued = bool(segment.text[:1]) and not segment.text[:1].isspace()
    for a, b in tokens:
        core_start, core_end = a, b
        while core_start < core_end and not mapped.text[core_start].isalnum():
            core_start += 1
        while core_end > core_start and not mapped.text[core_end - 1].isalnum():
            core_end -= 1
        token = mapped.source_range(a, b)
        core = mapped.source_range(core_start, core_end) if core_start < core_end else token
        sources.append(WordSource(core, token, glued=opens_glued and not sources))
    return sources


def _origins(segment: Text, original: str) -> list[tuple[int, int]] | None:
    """Each character's range of the original, or None when it has no own range."""
    source = segment.source
    if segment.spoken or source.end <= source.start:
        return None
    if source.verbatim and original[source.start : source.end] == segment.text:
        return [(source.start + i, source.start + i + 1) for i in range(len(segment.text))]
    return _through_markup(original, source.start, source.end, segment.text)


def _through_markup(original: str, start: int, end: int, text: str) -> list[tuple[int, int]] | None:
    """Align XML character data with its raw form: references, comments, CDATA
    sections (whose characters, & and < too, are their own), CR LF."""
    origins: list[tuple[int, int]] = []
    at = start
    cdata = False
    for char in text:
        skipped = _skip_markup(original, at, end, cdata)
        if skipped is None:
            return None
        at, cdata = skipped
        if at >= end:
            return None
        if original[at] == "&" and not cdata:
            close = original.find(";", at, min(end, at + 12))
            if close < 0 or _reference(original[at + 1 : close]) != char:
                return None
            origins.append((at, close + 1))
            at = close + 1
        elif original.startswith("\r\n", at) and char == "\n":
            origins.append((at, at + 2))
            at += 2
        elif original[at] == char or (original[at] == "\r" and char == "\n"):
            origins.append((at, at + 1))
            at += 1
        else:
            return None
    return origins


def _skip_markup(original: str, at: int, end: int, cdata: bool) -> tuple[int, bool] | None:
    """Past the comments and CDATA delimiters at ``at``: where the next character is,
    and whether it is inside a CDATA section; None for an unclosed comment."""
    while True:
        if cdata and original.startswith("]]>", at):
            at, cdata = at + 3, False
        elif not cdata and original.startswith("<![CDATA[", at):
            at, cdata = at + 9, True
        elif not cdata and original.startswith("<!--", at):
            close = original.find("-->", at, end)
            if close < 0:
                return None
            at = close + 3
        else:
            return at, cdata


def _reference(name: str) -> str | None:
    if name in _ENTITIES:
        return _ENTITIES[name]
    try:
        if name.startswith("#x"):
            return chr(int(name[2:], 16))
        if name.startswith("#"):
            return chr(int(name[1:]))
    except (ValueError, OverflowError):
        return None
    return None
