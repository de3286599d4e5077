"""Raw queue bodies to request models, and event models to EventBridge entries.

A request reaches RequestsQueue either as its own JSON (sent straight to SQS) or
wrapped in the envelope an EventBridge rule delivers; both parse to the same model.
Whatever the body holds, parsing fails only with InvalidRequest, so the handler can
answer every bad message with a SynthesisFailed instead of retrying it into the DLQ.
"""

import json
from collections.abc import Mapping
from typing import Any, TypedDict, Unpack

import pydantic_core
from pydantic import BaseModel, TypeAdapter, ValidationError

from voxflow.errors import InvalidInput
from voxflow.events.models import (
    DEFAULT_TENANT,
    SOURCE_CLIENT,
    SOURCE_SERVICE,
    Metadata,
    MetadataValue,
    ReplyTo,
    RequestId,
    SynthesisFailed,
    SynthesisRequested,
    Tenant,
    detail_type,
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

    def __init__(self, message: str, **address: Unpack[_Address]) -> None:
        super().__init__(message)
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


def parse_request(body: str | bytes | bytearray | Mapping[str, Any]) -> SynthesisRequested:
    """The request in a RequestsQueue message body: direct JSON or an EventBridge envelope."""
    detail = _unwrap(_load(body), detail_type(SynthesisRequested))
    try:
        return SynthesisRequested.model_validate(detail)
    except ValidationError as error:
        raise InvalidRequest(_describe(error), **_salvage(detail)) from error


def to_event_entry(model: BaseModel, bus_name: str, source: str | None = None) -> dict[str, str]:
    """A PutEvents entry; the source defaults to the client's for requests, else the service's."""
    if source is None:
        source = SOURCE_CLIENT if isinstance(model, SynthesisRequested) else SOURCE_SERVICE
    return {
        "Source": source,
        "DetailType": detail_type(model),
        "Detail": model.model_dump_json(),
        "EventBusName": bus_name,
    }


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


def _unwrap(document: object, expected: str) -> dict[str, Any]:
    if not isinstance(document, dict):
        raise InvalidRequest(f"request must be a JSON object, not {_json_type(document)}")
    if _ENVELOPE_KEYS.isdisjoint(document):
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
_TENANT: TypeAdapter[str] = TypeAdapter(Tenant)
_METADATA: TypeAdapter[dict[str, MetadataValue]] = TypeAdapter(Metadata)
_REPLY_TO: TypeAdapter[ReplyTo] = TypeAdapter(ReplyTo)


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
