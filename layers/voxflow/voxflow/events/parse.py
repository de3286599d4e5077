"""Raw queue bodies to request models, and event models to EventBridge entries.

A request reaches RequestsQueue either as its own JSON (sent straight to SQS) or
wrapped in the envelope an EventBridge rule delivers; both parse to the same model.
Whatever the body holds, parsing fails only with InvalidRequest, so the handler can
answer every bad message with a SynthesisFailed instead of retrying it into the DLQ.
"""

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypedDict, TypeGuard, Unpack

import pydantic_core
from pydantic import BaseModel, TypeAdapter, ValidationError

from voxflow.errors import InvalidInput, TextTooLong
from voxflow.events.models import (
    DEFAULT_TENANT,
    SOURCE_SERVICE,
    ChunkTask,
    ItemId,
    Metadata,
    MetadataValue,
    ReplyTo,
    RequestId,
    SynthesisFailed,
    SynthesisRequested,
    Tenant,
    UtcDatetime,
    detail_type,
    request_source,
)

_SHOWN_ERRORS = 3
_MAX_PROBLEM_CHARS = 300
_ENVELOPE_KEYS = frozenset({"detail-type", "detail"})


class _Address(TypedDict, total=False):
    request_id: str | None
    tenant: str | None
    metadata: dict[str, MetadataValue] | None
    reply_to: ReplyTo | None


class InvalidRequest(InvalidInput):
    """A request body that is not a valid SynthesisRequested.

    Carries whatever addressing could be read from the body, each None when absent
    or itself invalid, so the failure can still reach the client that sent it.
    """

    code = "INVALID_REQUEST"

    def __init__(self, message: str, code: str | None = None, **address: Unpack[_Address]) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code  # a more precise code than INVALID_REQUEST (TEXT_TOO_LONG)
        self.request_id = address.get("request_id")
        self.tenant = address.get("tenant")
        self.metadata = address.get("metadata")
        self.reply_to = address.get("reply_to")

    def to_failure(self, fallback_request_id: str) -> SynthesisFailed:
        """The SynthesisFailed answering this body; the fallback id (say, the SQS
        message id) stands in when the body named no usable request_id."""
        return SynthesisFailed(
            request_id=self.request_id or fallback_request_id,
            code=self.code,
            message=str(self),
            tenant=self.tenant or DEFAULT_TENANT,
            metadata=self.metadata or {},
            retryable=False,
        )


def parse_request(
    body: str | bytes | bytearray | Mapping[str, Any], default_request_id: str | None = None
) -> SynthesisRequested:
    """The request in a RequestsQueue message body: direct JSON or an EventBridge envelope.

    A body without a request_id takes the EventBridge event's id (``evt-<id>``, the
    EventId that PutEvents returned), else ``default_request_id`` (say, derived from the
    SQS message id): either is the same on every delivery, so a redelivery is
    recognized as one. Only without both is a random id made up.
    """
    detail = _detail(body, default_request_id)
    try:
        return SynthesisRequested.model_validate(detail)
    except ValidationError as error:
        raise InvalidRequest(_describe(error), _code(error), **_salvage(detail)) from error


@dataclass(frozen=True)
class ParsedBatch:
    """A request with the items that are valid, and one InvalidRequest per item that is not.

    Each rejected item carries its own result id (``request_id:item_id`` or
    ``request_id:index``), so a client waiting for that item hears about it.
    """

    request: SynthesisRequested | None
    rejected: list[InvalidRequest]
    batch_id: str | None = None


def parse_request_items(
    body: str | bytes | bytearray | Mapping[str, Any], default_request_id: str | None = None
) -> ParsedBatch:
    """parse_request, except that a batch whose only problems are in some of its items
    keeps the others: one bad item does not take the rest of the batch down.

    Items keep their result ids (an item left without an item_id is given its index),
    so dropping a bad item never renames the ones after it.
    """
    detail = _detail(body, default_request_id)
    try:
        return ParsedBatch(SynthesisRequested.model_validate(detail), [])
    except ValidationError as error:
        whole = InvalidRequest(_describe(error), _code(error), **_salvage(detail))
        whole.__cause__ = error
        bad = _bad_items(error, detail)
    address = _salvage(detail)
    request_id = address.get("request_id")
    # Only a batch with a valid id can address its items' failures.
    if bad is None or request_id is None:
        raise whole
    items: list[Any] = detail["items"]
    rejected = [
        InvalidRequest(message, code, **_addressed(address, f"{request_id}:{name}"))
        for index, (name, message, code) in sorted(bad.items())
    ]
    kept = [
        item if item.get("item_id") is not None else {**item, "item_id": str(index)}
        for index, item in enumerate(items)
        if index not in bad
    ]
    if {str(item["item_id"]) for item in kept} & {name for name, _, _ in bad.values()}:
        raise whole  # a kept item would share its result id with a rejected one
    if not kept:
        return ParsedBatch(None, rejected, request_id)
    try:
        request = SynthesisRequested.model_validate({**detail, "items": kept})
    except ValidationError:
        raise whole from None
    return ParsedBatch(request, rejected, request_id)


def single_request_id(body: str) -> str | None:
    """The id of the one request ``body`` holds (its own or its event's), without
    validating the rest; None for a batch of items, an id that would be the message's,
    or a body that does not parse (plan's full parse answers those)."""
    try:
        detail = _detail(body, None)
    except InvalidRequest:
        return None
    request_id = detail.get("request_id")
    if "items" in detail or not isinstance(request_id, str):
        return None
    return request_id if _valid(_REQUEST_ID, request_id) is not None else None


def _detail(body: object, default_request_id: str | None) -> dict[str, Any]:
    document = _load(body)
    detail = _unwrap(document, detail_type(SynthesisRequested))
    if detail is not document and isinstance(document, dict):
        detail = _with_event_time(detail, document.get("time"))
    if "request_id" in detail:
        return detail
    event_id = document.get("id") if isinstance(document, dict) and detail is not document else None
    # The event's id first: the publisher knows it (PutEvents returns it) and every
    # delivery of the event carries it, while each delivery is a new SQS message.
    fallback = (f"evt-{event_id}" if isinstance(event_id, str) else None) or default_request_id
    if _valid(_REQUEST_ID, fallback) is None:
        return detail
    return {**detail, "request_id": fallback}


def _addressed(address: _Address, request_id: str) -> _Address:
    item = address.copy()
    item["request_id"] = request_id
    return item


def _bad_items(
    error: ValidationError, detail: dict[str, Any]
) -> dict[int, tuple[str, str, str | None]] | None:
    """Each invalid item's result name, problems and code, by index, if every problem
    lies inside an item that can be named."""
    items = detail.get("items")
    if not isinstance(items, list):
        return None
    problems: dict[int, list[str]] = {}
    names: dict[int, str] = {}
    kinds: dict[int, list[tuple[str, tuple[int | str, ...]]]] = {}
    for problem in error.errors(include_url=False, include_input=False, include_context=False):
        loc = problem["loc"]
        if len(loc) < 2 or loc[0] != "items" or not isinstance(loc[1], int):
            return None
        index = loc[1]
        name = _item_name(items[index], index) if isinstance(items[index], dict) else str(index)
        if name is None:
            return None
        names[index] = name
        kinds.setdefault(index, []).append((problem["type"], problem["loc"]))
        path = ".".join(str(part) for part in loc[2:])
        message = problem["msg"].removeprefix("Value error, ")
        problems.setdefault(index, []).append(_clip(f"{path}: {message}" if path else message))
    if not problems:
        return None
    return {
        index: (names[index], _join_problems(found), _code_of(kinds[index]))
        for index, found in problems.items()
    }


def _code(error: ValidationError) -> str | None:
    problems = error.errors(include_url=False, include_input=False, include_context=False)
    return _code_of([(problem["type"], problem["loc"]) for problem in problems])


def _code_of(problems: list[tuple[str, tuple[int | str, ...]]]) -> str | None:
    """TEXT_TOO_LONG when the text's length is the only problem (as the engine says for
    a text over the deployment's limit); None leaves INVALID_REQUEST."""
    if problems and all(
        kind == "string_too_long" and loc and loc[-1] == "text" for kind, loc in problems
    ):
        return TextTooLong.code
    return None


def _join_problems(parts: list[str]) -> str:
    shown = parts[:_SHOWN_ERRORS]
    if len(parts) > _SHOWN_ERRORS:
        shown.append(f"and {len(parts) - _SHOWN_ERRORS} more")
    return "; ".join(shown)


def _item_name(item: dict[str, Any], index: int) -> str | None:
    """What names the item's result: its item_id if that is valid, else its index."""
    if "item_id" not in item or item["item_id"] is None:
        return str(index)
    return _valid(_ITEM_ID, item["item_id"])


class MalformedChunkTask(InvalidInput):
    """A chunk queue message that is not a ChunkTask. Says where and why, never the
    values: pydantic's own error quotes the input it refused, which can be the text."""


def parse_chunk_task(body: str) -> ChunkTask:
    try:
        return ChunkTask.model_validate_json(body)
    except ValidationError as error:
        # from None: Lambda logs an uncaught error's causes too, and this one quotes input.
        raise MalformedChunkTask(f"malformed chunk task: {_describe(error)}") from None


def to_event_entry(model: BaseModel, bus_name: str, source: str | None = None) -> dict[str, str]:
    """A PutEvents entry; the source defaults to the request's tenant's for requests
    (voxflow.client for the default tenant), else the service's."""
    if source is None:
        if isinstance(model, SynthesisRequested):
            source = request_source(model.tenant)
        else:
            source = SOURCE_SERVICE
    return {
        "Source": source,
        "DetailType": detail_type(model),
        "Detail": model.model_dump_json(),
        "EventBusName": bus_name,
    }


def _with_event_time(detail: dict[str, Any], event_time: object) -> dict[str, Any]:
    """An EventBridge event's ``time`` as the request's ``requested_at`` when the detail
    has none; a time that does not parse is left out (the request is not at fault)."""
    if "requested_at" in detail or not isinstance(event_time, str):
        return detail
    if _valid(_EVENT_TIME, event_time) is None:
        return detail
    return {**detail, "requested_at": event_time}


def _load(body: object) -> object:
    # Everything goes through bytes and one JSON parser, so a mapping is held to the
    # same rules as text: no NaN, no lone surrogates, nothing JSON cannot carry.
    if isinstance(body, Mapping):
        try:
            data = json.dumps(dict(body), ensure_ascii=False, allow_nan=False).encode()
        except (TypeError, ValueError, RecursionError) as error:
            raise InvalidRequest(f"request is not JSON data: {_clip(str(error))}") from error
    elif isinstance(body, str):
        try:
            data = body.encode()
        except UnicodeEncodeError as error:
            raise InvalidRequest("request text is not valid Unicode") from error
    elif isinstance(body, bytes | bytearray | memoryview):
        data = bytes(body)
    else:
        raise InvalidRequest(f"request body must be JSON text, not {type(body).__name__}")
    try:
        return pydantic_core.from_json(data, allow_inf_nan=False)
    except ValueError as error:
        raise InvalidRequest(f"request is not valid JSON: {_clip(str(error))}") from error


def is_envelope(document: object) -> TypeGuard[dict[str, Any]]:
    """Whether a parsed body is an EventBridge envelope (its request is the detail)."""
    return isinstance(document, dict) and not _ENVELOPE_KEYS.isdisjoint(document)


def _unwrap(document: object, expected: str) -> dict[str, Any]:
    if not isinstance(document, dict):
        raise InvalidRequest(f"request must be a JSON object, not {_json_type(document)}")
    if not is_envelope(document):
        return document
    detail = document.get("detail")
    kind = document.get("detail-type")
    if kind != expected:
        message = f"detail-type {_clip(repr(kind), 80)} is not {expected}"
        raise InvalidRequest(message, **_salvage(detail))
    if not isinstance(detail, dict):
        raise InvalidRequest(f"the event's detail must be a JSON object, not {_json_type(detail)}")
    return detail


def _json_type(value: object) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    return names.get(type(value), "a number")


_REQUEST_ID: TypeAdapter[str] = TypeAdapter(RequestId)
_ITEM_ID: TypeAdapter[str] = TypeAdapter(ItemId)
_TENANT: TypeAdapter[str] = TypeAdapter(Tenant)
_METADATA: TypeAdapter[dict[str, MetadataValue]] = TypeAdapter(Metadata)
_REPLY_TO: TypeAdapter[ReplyTo] = TypeAdapter(ReplyTo)
_EVENT_TIME: TypeAdapter[datetime] = TypeAdapter(UtcDatetime)


def _salvage(detail: object) -> _Address:
    if not isinstance(detail, dict):
        return {}
    return {
        "request_id": _valid(_REQUEST_ID, detail.get("request_id")),
        "tenant": _valid(_TENANT, detail.get("tenant", DEFAULT_TENANT)),
        "metadata": _valid(_METADATA, detail.get("metadata")),
        "reply_to": _valid(_REPLY_TO, detail.get("reply_to")),
    }


def _valid[T](adapter: TypeAdapter[T], value: object) -> T | None:
    if value is None:
        return None
    try:
        return adapter.validate_python(value)
    except ValidationError:
        return None


def _describe(error: ValidationError) -> str:
    problems = error.errors(include_url=False, include_input=False, include_context=False)
    parts = []
    for problem in problems[:_SHOWN_ERRORS]:
        path = ".".join(str(part) for part in problem["loc"])
        message = problem["msg"].removeprefix("Value error, ")
        parts.append(_clip(f"{path}: {message}" if path else message))
    if len(problems) > _SHOWN_ERRORS:
        parts.append(f"and {len(problems) - _SHOWN_ERRORS} more")
    return "; ".join(parts)


def _clip(text: str, limit: int = _MAX_PROBLEM_CHARS) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"
