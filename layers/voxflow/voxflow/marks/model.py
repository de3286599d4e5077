"""Speech marks in Amazon Polly's format: JSON lines of time, type, byte offsets, value."""

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, get_args

from voxflow.errors import InvalidParameter

MarkType = Literal["sentence", "word", "ssml", "viseme"]
MARK_TYPES: tuple[MarkType, ...] = get_args(MarkType)
CONTENT_TYPE = "application/x-json-stream"  # what Polly answers OutputFormat=json with


@dataclass(frozen=True)
class SpeechMark:
    """``time``: ms from the start of the audio; ``start``/``end``: UTF-8 byte offsets
    into the request's original text (None for visemes, which Polly gives neither)."""

    time: int
    type: MarkType
    value: str
    start: int | None = None
    end: int | None = None

    def as_dict(self) -> dict[str, object]:
        document: dict[str, object] = {"time": self.time, "type": self.type}
        if self.start is not None and self.end is not None:
            document["start"] = self.start
            document["end"] = self.end
        document["value"] = self.value
        return document


def parse_mark_types(values: Iterable[str]) -> tuple[MarkType, ...]:
    """Requested types, deduplicated in Polly's order; a typed error for an unknown one."""
    wanted = {value.strip().lower() for value in values if value.strip()}
    unknown = sorted(wanted - set(MARK_TYPES))
    if unknown:
        raise InvalidParameter(
            f"unknown speech mark type {unknown[0]!r}: use {', '.join(MARK_TYPES)}"
        )
    return tuple(kind for kind in MARK_TYPES if kind in wanted)


def to_json_lines(marks: Iterable[SpeechMark]) -> bytes:
    lines = [
        json.dumps(mark.as_dict(), ensure_ascii=False, separators=(",", ":")) for mark in marks
    ]
    return "".join(line + "\n" for line in lines).encode("utf-8")


def from_json_lines(data: bytes) -> list[SpeechMark]:
    marks = []
    for line in data.decode("utf-8").splitlines():
        if not line.strip():
            continue
        item = json.loads(line)
        marks.append(
            SpeechMark(
                time=int(item["time"]),
                type=item["type"],
                value=str(item["value"]),
                start=item.get("start"),
                end=item.get("end"),
            )
        )
    return marks
