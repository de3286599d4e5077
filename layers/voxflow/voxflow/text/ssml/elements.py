"""What each supported SSML element means: the parser's events to document segments.

The set is Amazon Polly's for neural voices. Every other element or attribute, and
every value outside its range, is an SsmlError at the element's position.
"""

from collections.abc import Callable
from dataclasses import dataclass, field, replace

from voxflow.errors import InvalidInput
from voxflow.text.document import (
    RATE_LIMITS,
    SILENT_DB,
    Bleep,
    Break,
    Mark,
    Phonemes,
    Prosody,
    Segment,
    SentenceEnd,
    Source,
    SpeechDocument,
    Text,
)
from voxflow.text.ssml import say_as, values
from voxflow.text.ssml.xsampa import xsampa_to_ipa

EFFECT = "amazon:effect"
# Elements whose text is read as a whole (an alias, phonemes, a say-as reading):
# nothing may nest inside them.
_CAPTURING = frozenset({"sub", "phoneme", "say-as"})
_EMPTY = frozenset({"break", "mark"})
_ATTRIBUTES: dict[str, frozenset[str]] = {
    "speak": frozenset({"xml:lang", "version", "xml:base"}),
    "p": frozenset({"xml:lang"}),
    "s": frozenset({"xml:lang"}),
    "w": frozenset({"role"}),
    "lang": frozenset({"xml:lang", "onlangfailure"}),
    "break": frozenset({"strength", "time"}),
    "prosody": frozenset({"rate", "volume"}),
    "sub": frozenset({"alias"}),
    "phoneme": frozenset({"alphabet", "ph"}),
    "mark": frozenset({"name"}),
    EFFECT: frozenset({"name"}),
    "say-as": frozenset({"interpret-as", "format", "detail"}),
}
_REQUIRED: dict[str, tuple[str, ...]] = {
    "sub": ("alias",),
    "phoneme": ("ph",),
    "mark": ("name",),
    EFFECT: ("name",),
    "say-as": ("interpret-as",),
    "lang": ("xml:lang",),
}
_BLEEP_S_PER_CHAR = 0.08
_BLEEP_LIMITS_S = (0.25, 1.5)


@dataclass(frozen=True)
class Position:
    line: int
    column: int
    char: int  # offset into the original text


class SsmlError(Exception):
    def __init__(self, reason: str, where: Position, tag: str | None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.where = where
        self.tag = tag


@dataclass
class _Frame:
    tag: str
    attributes: dict[str, str]
    prosody: Prosody
    where: Position
    captured: list[str] = field(default_factory=list)
    content_start: int | None = None


class DocumentBuilder:
    """Collects segments from start/end/characters events, in document order."""

    def __init__(self, original: str) -> None:
        self.original = original
        self.segments: list[Segment] = []
        self.stack: list[_Frame] = []
        self.run: list[str] = []
        self.run_start = 0
        self.root_seen = False

    # events

    def start(self, tag: str, attributes: dict[str, str], where: Position) -> None:
        self._flush(where.char)
        parent = self.stack[-1] if self.stack else None
        if parent is None:
            if tag != "speak" or self.root_seen:
                raise SsmlError("the document must be one <speak> element", where, tag)
            self.root_seen = True
        elif tag == "speak":
            raise SsmlError("<speak> cannot nest", where, tag)
        elif parent.tag in _CAPTURING or parent.tag in _EMPTY:
            raise SsmlError(f"<{parent.tag}> cannot contain elements", where, tag)
        if tag not in _ATTRIBUTES:
            raise SsmlError("unsupported element", where, tag)
        self._check_attributes(tag, attributes, where)
        prosody = parent.prosody if parent else Prosody()
        if tag == "prosody":
            prosody = self._prosody(prosody, attributes, where)
        elif tag == EFFECT:
            if attributes["name"].strip() != "drc":
                raise SsmlError("the only supported effect is drc", where, tag)
            prosody = replace(prosody, drc=True)
        elif tag in ("s", "p"):
            self.segments.append(SentenceEnd(0.0, Source(where.char, where.char)))
        elif tag == "say-as":
            self._check_say_as(attributes, where)
        self.stack.append(_Frame(tag, attributes, prosody, where))
        if tag == "break":
            self.segments.append(self._break(attributes, where))
        elif tag == "mark":
            self.segments.append(Mark(attributes["name"], self._tag_source(where)))

    def characters(self, content: str, where: Position) -> None:
        frame = self.stack[-1] if self.stack else None
        if frame is not None and frame.tag in _CAPTURING:
            if frame.content_start is None:
                frame.content_start = where.char
            frame.captured.append(content)
            return
        if frame is not None and frame.tag in _EMPTY:
            if content.strip():
                raise SsmlError(f"<{frame.tag}> cannot contain text", where, frame.tag)
            return
        if not self.run:
            self.run_start = where.char
        self.run.append(content)

    def end(self, tag: str, where: Position) -> None:
        self._flush(where.char)
        frame = self.stack.pop()
        if tag in _CAPTURING:
            start = frame.content_start if frame.content_start is not None else where.char
            source = Source(start, max(start, where.char), verbatim=False)
            self._captured(frame, "".join(frame.captured), source)
        elif tag == "s":
            self.segments.append(SentenceEnd(0.0, Source(where.char, where.char)))
        elif tag == "p":
            pause = values.PARAGRAPH_PAUSE_S
            self.segments.append(SentenceEnd(pause, Source(where.char, where.char)))

    def document(self) -> SpeechDocument:
        return SpeechDocument(tuple(self.segments), self.original)

    # elements

    def _captured(self, frame: _Frame, text: str, source: Source) -> None:
        attributes, prosody = frame.attributes, frame.prosody
        if frame.tag == "sub":
            alias = attributes["alias"].strip()
            if not alias:
                raise SsmlError("alias is empty", frame.where, "sub")
            self.segments.append(Text(alias, source, prosody))
        elif frame.tag == "phoneme":
            self.segments.append(Phonemes(self._ipa(attributes, frame.where), source, prosody))
        else:
            self.segments.append(self._say_as(frame, text, source))

    def _say_as(self, frame: _Frame, text: str, source: Source) -> Segment:
        attributes, prosody, where = frame.attributes, frame.prosody, frame.where
        interpret_as = attributes["interpret-as"].strip()
        if not text.strip():
            raise SsmlError("say-as has no text", where, "say-as")
        if interpret_as == say_as.EXPLETIVE:
            low, high = _BLEEP_LIMITS_S
            seconds = min(high, max(low, len(text.strip()) * _BLEEP_S_PER_CHAR))
            return Bleep(seconds, source)
        fmt = attributes.get("format")
        words = say_as.spoken(interpret_as, text, fmt.strip() if fmt else None)
        if not words:
            raise SsmlError(f"the text does not read as {interpret_as}", where, "say-as")
        return Text(words, source, prosody, spoken=True)

    def _ipa(self, attributes: dict[str, str], where: Position) -> str:
        alphabet = attributes.get("alphabet", "ipa").strip()
        ph = attributes["ph"].strip()
        if not ph:
            raise SsmlError("ph is empty", where, "phoneme")
        if alphabet == "ipa":
            return ph
        if alphabet == "x-sampa":
            ipa = xsampa_to_ipa(ph)
            if ipa is None:
                raise SsmlError("ph holds a symbol outside X-SAMPA", where, "phoneme")
            return ipa
        raise SsmlError("alphabet must be ipa or x-sampa", where, "phoneme")

    def _break(self, attributes: dict[str, str], where: Position) -> Break:
        seconds = values.break_seconds(attributes.get("strength"), attributes.get("time"))
        if seconds is None:
            raise SsmlError("break time or strength is out of range (up to 10 s)", where, "break")
        return Break(seconds, self._tag_source(where))

    def _prosody(self, outer: Prosody, attributes: dict[str, str], where: Position) -> Prosody:
        if not attributes:
            raise SsmlError("prosody needs rate or volume", where, "prosody")
        rate, volume = outer.rate, outer.volume_db
        if "rate" in attributes:
            parsed = _value(values.prosody_rate, attributes["rate"], "rate", where)
            # Nested rates multiply; the product stays within what the voice can do.
            low, high = RATE_LIMITS
            rate = min(high, max(low, rate * parsed))
        if "volume" in attributes:
            decibels = _value(values.prosody_volume, attributes["volume"], "volume", where)
            silent = decibels <= SILENT_DB or volume <= SILENT_DB
            volume = SILENT_DB if silent else min(values.MAX_VOLUME_DB, volume + decibels)
            volume = max(SILENT_DB, volume)
        try:
            return replace(outer, rate=rate, volume_db=volume)
        except InvalidInput:
            raise SsmlError("prosody is out of range", where, "prosody") from None

    def _check_attributes(self, tag: str, attributes: dict[str, str], where: Position) -> None:
        allowed = _ATTRIBUTES[tag]
        for name in attributes:
            if name not in allowed and not (tag == "speak" and name.split(":")[0] == "xmlns"):
                raise SsmlError(f"attribute {name!r} is not supported", where, tag)
        for name in _REQUIRED.get(tag, ()):
            if name not in attributes:
                raise SsmlError(f"attribute {name!r} is required", where, tag)

    def _check_say_as(self, attributes: dict[str, str], where: Position) -> None:
        interpret_as = attributes["interpret-as"].strip()
        if interpret_as not in say_as.INTERPRETATIONS:
            raise SsmlError("unsupported interpret-as", where, "say-as")
        fmt = attributes.get("format")
        if fmt is not None and (interpret_as != "date" or fmt.strip() not in say_as.DATE_FORMATS):
            raise SsmlError("format is not a supported date format", where, "say-as")

    def _tag_source(self, where: Position) -> Source:
        end = self.original.find(">", where.char)
        return Source(where.char, end + 1 if end >= 0 else where.char, verbatim=False)

    def _flush(self, end: int) -> None:
        if not self.run:
            return
        text = "".join(self.run)
        self.run = []
        if not text.strip():
            return
        start = self.run_start
        verbatim = self.original[start:end] == text
        prosody = self.stack[-1].prosody if self.stack else Prosody()
        self.segments.append(Text(text, Source(start, end, verbatim), prosody))


def _value(read: Callable[[str], float | None], raw: str, name: str, where: Position) -> float:
    value = read(raw)
    if value is None:
        raise SsmlError(f"{name} is not a supported value or is out of range", where, "prosody")
    return value
