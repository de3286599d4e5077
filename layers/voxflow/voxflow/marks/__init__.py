"""Speech marks (Amazon Polly's format): when each sentence, word, SSML mark and
viseme of a request is spoken, with byte offsets into the text the user sent."""

from voxflow.marks.compose import compose
from voxflow.marks.model import (
    CONTENT_TYPE,
    MARK_TYPES,
    MarkType,
    SpeechMark,
    from_json_lines,
    parse_mark_types,
    to_json_lines,
)
from voxflow.marks.plan import MarksPlan, Origin, SourceMap, plan_marks
from voxflow.marks.timing import ChunkTiming, chunk_timing

__all__ = [
    "CONTENT_TYPE",
    "MARK_TYPES",
    "ChunkTiming",
    "MarkType",
    "MarksPlan",
    "Origin",
    "SourceMap",
    "SpeechMark",
    "chunk_timing",
    "compose",
    "from_json_lines",
    "parse_mark_types",
    "plan_marks",
    "to_json_lines",
]
