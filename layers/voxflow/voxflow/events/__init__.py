"""The event contract of the voxflow pipeline: models, parsing, EventBridge entries.

docs/pipeline.md names the events; schemas/ holds their generated JSON Schemas.
"""

from voxflow.events.models import (
    DEFAULT_TENANT,
    DEFAULT_VOICE,
    DETAIL_TYPES,
    MAX_BATCH_ITEMS,
    MAX_TEXT_CHARS,
    SOURCE_CLIENT,
    SOURCE_SERVICE,
    ChunkSynthesized,
    ChunkTask,
    EventModel,
    ItemRequest,
    ReplyTo,
    SynthesisCompleted,
    SynthesisFailed,
    SynthesisItem,
    SynthesisParamsModel,
    SynthesisRequested,
    detail_type,
)
from voxflow.events.parse import (
    InvalidRequest,
    MalformedChunkTask,
    ParsedBatch,
    parse_chunk_task,
    parse_request,
    parse_request_items,
    to_event_entry,
)

__all__ = [
    "DEFAULT_TENANT",
    "DEFAULT_VOICE",
    "DETAIL_TYPES",
    "MAX_BATCH_ITEMS",
    "MAX_TEXT_CHARS",
    "SOURCE_CLIENT",
    "SOURCE_SERVICE",
    "ChunkSynthesized",
    "ChunkTask",
    "EventModel",
    "InvalidRequest",
    "ItemRequest",
    "MalformedChunkTask",
    "ParsedBatch",
    "ReplyTo",
    "SynthesisCompleted",
    "SynthesisFailed",
    "SynthesisItem",
    "SynthesisParamsModel",
    "SynthesisRequested",
    "detail_type",
    "parse_chunk_task",
    "parse_request",
    "parse_request_items",
    "to_event_entry",
]
