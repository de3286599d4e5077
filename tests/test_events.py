"""The event contract: models, parsing of raw queue bodies, EventBridge entries, schemas."""

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from conftest import examples
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from voxflow.audio.formats import AudioFormat
from voxflow.engine.params import PARAM_LIMITS, ResolvedParams, SynthesisParams
from voxflow.errors import InvalidInput
from voxflow.events import (
    DETAIL_TYPES,
    SOURCE_CLIENT,
    SOURCE_SERVICE,
    ChunkSynthesized,
    ChunkTask,
    InvalidRequest,
    SynthesisCompleted,
    SynthesisFailed,
    SynthesisItem,
    SynthesisParamsModel,
    SynthesisRequested,
    detail_type,
    parse_request,
    to_event_entry,
)
from voxflow.events.schemas.__main__ import SCHEMA_DIR, render_schemas

EXPIRES = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)


def envelope(detail: object, kind: str = "SynthesisRequested") -> dict[str, Any]:
    """What an EventBridge rule delivers to SQS."""
    return {
        "version": "0",
        "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": kind,
        "source": SOURCE_CLIENT,
        "account": "111122223333",
        "time": "2030-01-01T00:00:00Z",
        "region": "eu-west-1",
        "resources": [],
        "detail": detail,
    }


def invalid(body: str | bytes | dict[str, Any]) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as caught:
        parse_request(body)
    return caught.value


def completed(**changes: Any) -> SynthesisCompleted:
    fields: dict[str, Any] = {
        "request_id": "r1",
        "url": "https://bucket.s3.amazonaws.com/audio/ab.wav?X-Amz-Signature=1",
        "expires_at": EXPIRES,
        "key": "audio/ab.wav",
        "duration_s": 1.5,
        "bytes": 66_194,
        "format": "wav",
        "sample_rate": 22050,
        "cache": "miss",
        "region": "eu-west-1",
        "timings": {"plan": 0.01, "synthesize": 0.4},
        "metadata": {"order": 7},
    }
    return SynthesisCompleted.model_validate(fields | changes)


# Requests: shape and defaults


def test_single_request_round_trips_through_json() -> None:
    request = parse_request(
        {
            "request_id": "order-7",
            "tenant": "acme",
            "text": "Hello there.",
            "voice": "joe",
            "format": "mp3",
            "params": {"rate": 1.25, "noise_scale": 0.5},
            "metadata": {"order": 7, "rush": True, "note": None, "ratio": 0.5, "who": "ann"},
            "reply_to": {"queue_url": "https://sqs.eu-west-1.amazonaws.com/1/replies"},
        }
    )
    assert parse_request(request.model_dump_json()) == request
    assert SynthesisRequested.model_validate_json(request.model_dump_json()) == request


def test_batch_request_round_trips_through_json() -> None:
    request = parse_request({"items": [{"text": "One."}, {"text": "Two.", "item_id": "b"}]})
    assert parse_request(request.model_dump_json()) == request


def test_defaults_fill_in_and_request_ids_are_unique() -> None:
    first = parse_request('{"text": "Hi."}')
    second = parse_request('{"text": "Hi."}')
    assert first.request_id != second.request_id
    assert len(first.request_id) == 32
    int(first.request_id, 16)
    assert first.tenant == "default"
    assert first.reply_to is None
    [item] = first.expand()
    assert item.request_id == first.request_id
    assert item.batch_id is None
    assert item.voice == "joe"
    assert item.format is AudioFormat.WAV
    assert item.params == SynthesisParamsModel()
    assert item.params.to_params() == SynthesisParams()
    assert item.metadata == {}


def test_every_model_carries_schema_version_1() -> None:
    assert parse_request('{"text": "Hi."}').model_dump()["schema_version"] == 1
    assert json.loads(completed().model_dump_json())["schema_version"] == 1
    assert invalid('{"text": "Hi.", "schema_version": 2}').request_id is None


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"tenant": "acme"},
        {"voice": "joe", "metadata": {"a": 1}},
        {"text": "Hi.", "items": [{"text": "Hi."}]},
        {"items": [{"text": "Hi."}], "voice": "joe"},
        {"items": [{"text": "Hi."}], "metadata": {"a": 1}},
        {"items": []},
        {"items": [{"text": "x"}] * 51},
    ],
)
def test_exactly_one_of_single_item_and_batch(body: dict[str, Any]) -> None:
    invalid(body)


def test_batch_expands_to_one_request_per_item_with_derived_ids() -> None:
    request = parse_request(
        {
            "request_id": "batch-1",
            "tenant": "acme",
            "reply_to": {"event_bus": "client-bus"},
            "items": [
                {"text": "One.", "metadata": {"n": 1}},
                {"text": "Two.", "item_id": "second", "format": "OGG", "voice": "amy"},
                {"text": "Three.", "params": {"length_scale": 2}},
            ],
        }
    )
    items = request.expand()
    assert [item.request_id for item in items] == ["batch-1:0", "batch-1:second", "batch-1:2"]
    assert {item.batch_id for item in items} == {"batch-1"}
    assert {item.tenant for item in items} == {"acme"}
    assert all(item.reply_to == request.reply_to for item in items)
    assert [item.text for item in items] == ["One.", "Two.", "Three."]
    assert [item.metadata for item in items] == [{"n": 1}, {}, {}]
    assert items[1].format is AudioFormat.OGG
    assert items[1].voice == "amy"
    assert items[2].params.to_params().length_scale == 2.0


def test_batch_rejects_items_whose_result_ids_collide() -> None:
    error = invalid({"request_id": "b", "items": [{"text": "x", "item_id": "1"}, {"text": "y"}]})
    assert "b:1" in str(error)
    invalid({"items": [{"text": "x", "item_id": "a"}, {"text": "y", "item_id": "a"}]})


@pytest.mark.parametrize("name", ["wav", "WAV", "Mp3", "FLAC", " ogg ", ".opus"])
def test_format_ignores_case(name: str) -> None:
    [item] = parse_request({"text": "Hi.", "format": name}).expand()
    assert item.format is AudioFormat.parse(name)


@pytest.mark.parametrize("name", ["wave", "", "m p3", 3, None, ["wav"]])
def test_unknown_formats_are_invalid(name: object) -> None:
    # null only means "the default" at the top level; an item must name a real format.
    invalid({"items": [{"text": "Hi.", "format": name}]})


@pytest.mark.parametrize("text", ["", "x" * 100_001])
def test_text_length_is_bounded(text: str) -> None:
    invalid({"text": text})
    assert parse_request({"text": "x" * 100_000}).text == "x" * 100_000


@pytest.mark.parametrize("voice", ["", "a b", "joe/../x", "x" * 65, "jöe"])
def test_voice_ids_are_checked(voice: str) -> None:
    invalid({"text": "Hi.", "voice": voice})


@pytest.mark.parametrize("request_id", ["", "a b", "x" * 129, "a/b"])
def test_request_ids_are_checked(request_id: str) -> None:
    invalid({"text": "Hi.", "request_id": request_id})


def test_unknown_fields_are_rejected_at_every_level() -> None:
    assert "lenght_scale" in str(invalid({"text": "Hi.", "params": {"lenght_scale": 1}}))
    invalid({"text": "Hi.", "txet": "typo"})
    invalid({"items": [{"text": "Hi.", "voise": "joe"}]})
    invalid({"text": "Hi.", "reply_to": {"queue": "https://q"}})


# Parameters


@pytest.mark.parametrize("name", sorted(PARAM_LIMITS))
def test_param_bounds_are_the_engines(name: str) -> None:
    low, high = PARAM_LIMITS[name]
    for value in (low, high, (low + high) / 2):
        params = SynthesisParamsModel.model_validate({name: value})
        assert getattr(params.to_params(), name) == value
    for value in (low - 0.01, high + 0.01):
        with pytest.raises(ValidationError):
            SynthesisParamsModel.model_validate({name: value})
        invalid({"text": "Hi.", "params": {name: value}})


@pytest.mark.parametrize("value", [True, "1.0", None, [1.0], {"v": 1}])
def test_params_must_be_json_numbers(value: object) -> None:
    invalid({"text": "Hi.", "params": {"sentence_pause_s": value}})
    if value is not None:
        invalid({"text": "Hi.", "params": {"length_scale": value}})


def test_integers_are_accepted_as_params() -> None:
    assert parse_request('{"text": "Hi.", "params": {"length_scale": 2}}').params == (
        SynthesisParamsModel(length_scale=2.0)
    )


@pytest.mark.parametrize(("rate", "length_scale"), [(1.0, 1.0), (2.0, 0.5), (0.25, 4.0), (4, 0.25)])
def test_rate_becomes_length_scale(rate: float, length_scale: float) -> None:
    params = SynthesisParamsModel.model_validate({"rate": rate, "noise_w": 0.3})
    assert params.to_params() == SynthesisParams(length_scale=length_scale, noise_w=0.3)


@pytest.mark.parametrize("rate", [0, -1, 0.2, 4.5, float("inf")])
def test_rate_is_bounded(rate: float) -> None:
    with pytest.raises(ValidationError):
        SynthesisParamsModel(rate=rate)


def test_rate_and_length_scale_exclude_each_other() -> None:
    error = invalid({"text": "Hi.", "params": {"rate": 2, "length_scale": 0.5}})
    assert "not both" in str(error)


# Raw bodies: direct, enveloped, malformed


def test_envelope_and_direct_body_give_equal_models() -> None:
    detail = {"request_id": "r-1", "text": "Hi.", "format": "FLAC", "metadata": {"k": "v"}}
    direct = parse_request(json.dumps(detail))
    assert parse_request(detail) == direct
    # The envelope adds only the event's time.
    direct = direct.model_copy(update={"requested_at": datetime(2030, 1, 1, tzinfo=UTC)})
    assert parse_request(json.dumps(envelope(detail))) == direct
    assert parse_request(json.dumps(envelope(detail)).encode()) == direct
    assert parse_request(envelope(detail)) == direct


def test_the_request_time_comes_from_the_detail_else_the_event_time() -> None:
    detail = {"request_id": "r-1", "text": "Hi."}
    assert parse_request(detail).requested_at is None  # old requests stay valid
    timed = {**envelope(detail), "time": "2026-12-03T10:00:00Z"}
    assert parse_request(timed).requested_at == datetime(2026, 12, 3, 10, tzinfo=UTC)
    own = {**detail, "requested_at": "2026-12-03T11:00:00+01:00"}
    assert parse_request({**envelope(own), "time": "2026-12-03T12:00:00Z"}).requested_at == (
        datetime(2026, 12, 3, 10, tzinfo=UTC)
    )
    # An event time that does not parse is not the request's fault.
    assert parse_request({**envelope(detail), "time": "soon"}).requested_at is None
    # It travels to each item, and is not part of what the request asked for.
    batch = parse_request(
        {
            **envelope({"request_id": "b-1", "items": [{"text": "A."}]}),
            "time": "2026-12-03T10:00:00Z",
        }
    )
    assert [item.requested_at for item in batch.expand()] == [datetime(2026, 12, 3, 10, tzinfo=UTC)]
    with pytest.raises(ValidationError):
        SynthesisRequested.model_validate({**detail, "requested_at": "2026-12-03T10:00:00"})


def test_envelope_of_another_detail_type_is_invalid() -> None:
    error = invalid(envelope({"request_id": "r-1", "text": "Hi."}, kind="SynthesisCompleted"))
    assert "SynthesisCompleted" in str(error)
    assert error.request_id == "r-1"
    invalid(envelope([{"text": "Hi."}]))
    invalid({"detail-type": "SynthesisRequested"})


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"\xff\xfe{}",
        b'{"text": "caf\xe9"}',
        "",
        "{",
        '{"text": "Hi."',
        "[]",
        "null",
        '"text"',
        "3",
        '{"text": NaN}',
        '{"text": "\\ud800"}',
        '{"text": "\ud800"}',
        "[" * 5_000 + "]" * 5_000,
    ],
)
def test_malformed_bodies_are_invalid_requests(body: str | bytes) -> None:
    error = invalid(body)
    assert error.code == "INVALID_REQUEST"
    assert isinstance(error, InvalidInput)
    assert error.request_id is None


def test_mappings_are_held_to_json_rules() -> None:
    invalid({"text": float("nan")})
    invalid({"text": "\udc80"})
    invalid({"text": b"bytes"})
    nested: dict[str, Any] = {}
    for _ in range(5_000):
        nested = {"n": nested}
    invalid(nested)


def test_invalid_request_keeps_the_address_it_could_read() -> None:
    body = {
        "request_id": "order-9",
        "tenant": "acme",
        "metadata": {"order": 9},
        "reply_to": {"queue_url": "https://sqs.local/1/replies"},
        "text": "",
        "params": {"rate": 99},
    }
    for raw in (body, json.dumps(body), json.dumps(envelope(body)).encode()):
        error = invalid(raw)
        assert (error.request_id, error.tenant, error.metadata) == ("order-9", "acme", {"order": 9})
        assert error.reply_to is not None
        assert error.reply_to.queue_url == "https://sqs.local/1/replies"
        assert "text" in str(error)
        assert "params.rate" in str(error)
    failure = invalid(body).to_failure("sqs-message-id")
    assert failure.request_id == "order-9"
    assert failure.code == "INVALID_REQUEST"
    assert failure.retryable is False
    assert (failure.tenant, failure.metadata) == ("acme", {"order": 9})


def test_invalid_request_drops_address_fields_that_are_themselves_invalid() -> None:
    error = invalid({"request_id": "bad id", "tenant": 7, "metadata": {"k": [1]}})
    assert (error.request_id, error.tenant, error.metadata, error.reply_to) == (None,) * 4
    failure = error.to_failure("sqs-message-id")
    assert (failure.request_id, failure.tenant, failure.metadata) == (
        "sqs-message-id",
        "default",
        {},
    )


def test_invalid_request_message_is_one_line_with_the_first_three_problems() -> None:
    error = invalid(
        {"text": "", "voice": "a b", "format": "x\ny", "params": {"rate": 0}, "extra": 1}
    )
    message = str(error)
    assert "\n" not in message
    assert message.startswith("text: ")
    assert "voice: " in message
    assert "format: " in message
    assert message.endswith("and 2 more")


# Metadata


def test_metadata_is_echoed_unchanged() -> None:
    metadata = {"order": 7, "rush": True, "note": None, "ratio": 0.5, "who": "ann", "n": 0}
    [item] = parse_request({"text": "Hi.", "metadata": metadata}).expand()
    assert item.metadata == metadata
    assert [type(value) for value in item.metadata.values()] == [
        type(value) for value in metadata.values()
    ]
    result = completed(metadata=item.metadata)
    assert json.loads(result.model_dump_json())["metadata"] == metadata


@pytest.mark.parametrize(
    "metadata",
    [
        {f"k{number}": number for number in range(21)},
        {"k": [1]},
        {"k": {"nested": 1}},
        {"k": "x" * 1025},
        {"": 1},
        {"k" * 129: 1},
        [["k", 1]],
    ],
)
def test_metadata_is_bounded(metadata: object) -> None:
    invalid({"text": "Hi.", "metadata": metadata})


# Internal and outbound models


def test_item_requests_and_chunk_tasks_round_trip() -> None:
    [item] = parse_request({"text": "Hi.", "params": {"rate": 2}}).expand()
    assert type(item).model_validate_json(item.model_dump_json()) == item
    resolved = ResolvedParams(
        length_scale=0.5, noise_scale=0.667, noise_w=0.8, sentence_pause_s=0.2
    )
    task = ChunkTask(
        request_id=item.request_id,
        index=0,
        count=2,
        text="hi.",
        chunk_key="ab" * 32,
        voice="joe",
        model_version="cd" * 32,
        params=resolved.as_dict(),
        sample_rate=22050,
    )
    assert ChunkTask.model_validate_json(task.model_dump_json()) == task
    assert task.resolved_params() == resolved


@pytest.mark.parametrize(
    "changes",
    [{"index": 2}, {"index": -1}, {"count": 0}, {"params": {"length_scale": 1.0}}, {"text": ""}],
)
def test_chunk_tasks_are_checked(changes: dict[str, Any]) -> None:
    fields: dict[str, Any] = {
        "request_id": "r",
        "index": 0,
        "count": 2,
        "text": "hi.",
        "chunk_key": "k",
        "voice": "joe",
        "model_version": "m",
        "params": {"length_scale": 1, "noise_scale": 0.6, "noise_w": 0.8, "sentence_pause_s": 0},
        "sample_rate": 22050,
    }
    ChunkTask.model_validate(fields)
    with pytest.raises(ValidationError):
        ChunkTask.model_validate(fields | changes)


def test_outbound_events_round_trip() -> None:
    events: list[BaseModel] = [
        completed(batch_id="b", request_id="b:0", cache="hit", format="MP3"),
        ChunkSynthesized(
            request_id="r1", index=0, count=3, url="https://x", expires_at=EXPIRES, duration_s=0.5
        ),
        SynthesisFailed(request_id="r1", code="EMPTY_TEXT", message="no words", retryable=False),
    ]
    for event in events:
        assert type(event).model_validate_json(event.model_dump_json()) == event


def test_expiry_is_serialized_in_utc() -> None:
    local = EXPIRES.astimezone(timezone(timedelta(hours=2)))
    result = completed(expires_at=local)
    assert result.expires_at == EXPIRES
    assert result.expires_at.utcoffset() == timedelta(0)
    assert json.loads(result.model_dump_json())["expires_at"] == "2030-01-02T03:04:05Z"
    with pytest.raises(ValidationError):
        completed(expires_at=datetime(2030, 1, 1))  # naive: no zone


def test_outbound_events_tolerate_fields_added_later() -> None:
    document = json.loads(completed().model_dump_json()) | {"new_field": 1}
    assert SynthesisCompleted.model_validate(document) == completed()


def test_failure_message_is_truncated() -> None:
    failure = SynthesisFailed(request_id="r", code="INTERNAL", message="x" * 5_000)
    assert len(failure.message) == 1000
    assert failure.message.endswith("…")
    with pytest.raises(ValidationError):
        SynthesisFailed(request_id="r", code="not a code", message="m")


# EventBridge entries


def test_detail_types_name_the_models() -> None:
    for name, model in DETAIL_TYPES.items():
        assert detail_type(model) == name == model.__name__
    assert detail_type(completed()) == "SynthesisCompleted"
    with pytest.raises(ValueError, match="not an event model"):
        detail_type(SynthesisItem)


def test_event_entries_carry_source_type_detail_and_bus() -> None:
    request = parse_request({"text": "Hi."})
    entry = to_event_entry(request, "voxflow-bus")
    assert entry == {
        "Source": SOURCE_CLIENT,
        "DetailType": "SynthesisRequested",
        "Detail": request.model_dump_json(),
        "EventBusName": "voxflow-bus",
    }
    assert parse_request(json.loads(entry["Detail"])) == request
    result = to_event_entry(completed(), "voxflow-bus")
    assert result["Source"] == SOURCE_SERVICE
    assert result["DetailType"] == "SynthesisCompleted"
    assert to_event_entry(completed(), "b", source="custom")["Source"] == "custom"
    with pytest.raises(ValueError, match="not an event model"):
        to_event_entry(SynthesisParamsModel(), "voxflow-bus")


# JSON Schemas


def test_committed_schemas_match_the_models() -> None:
    rendered = render_schemas()
    assert sorted(rendered) == sorted(f"{name}.json" for name in DETAIL_TYPES)
    for filename, text in rendered.items():
        committed = (SCHEMA_DIR / filename).read_text(encoding="utf-8")
        assert committed == text, f"{filename} is stale: run python -m voxflow.events.schemas"


def _schema_validator(name: str) -> Any:
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((SCHEMA_DIR / f"{name}.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_example_requests_validate_against_the_schema() -> None:
    validator = _schema_validator("SynthesisRequested")
    good: list[dict[str, Any]] = [
        {"text": "Hi."},
        {"text": "Hi.", "format": "mp3", "params": {"rate": 2}, "metadata": {"k": 1}},
        {"items": [{"text": "One."}, {"text": "Two.", "item_id": "b", "voice": "joe"}]},
        json.loads(parse_request({"items": [{"text": "One."}]}).model_dump_json()),
        json.loads(parse_request({"text": "Hi.", "tenant": "acme"}).model_dump_json()),
    ]
    for document in good:
        assert list(validator.iter_errors(document)) == [], document
        parse_request(document)
    bad: list[dict[str, Any]] = [
        {},
        {"text": "Hi.", "items": [{"text": "Hi."}]},
        {"items": [{"text": "Hi."}], "voice": "joe"},
        {"text": "Hi.", "extra": 1},
        {"text": "Hi.", "params": {"length_scale": 9}},
        {"text": ""},
    ]
    for document in bad:
        assert not validator.is_valid(document), document
        invalid(document)


@pytest.mark.parametrize(
    ("name", "event"),
    [
        ("SynthesisCompleted", completed()),
        (
            "ChunkSynthesized",
            ChunkSynthesized(
                request_id="r:1",
                index=1,
                count=2,
                url="https://x",
                expires_at=EXPIRES,
                duration_s=1,
            ),
        ),
        ("SynthesisFailed", SynthesisFailed(request_id="r", code="THROTTLED", message="slow down")),
    ],
)
def test_example_results_validate_against_their_schema(name: str, event: BaseModel) -> None:
    validator = _schema_validator(name)
    assert list(validator.iter_errors(json.loads(event.model_dump_json()))) == []


# Fuzz: whatever arrives, parsing succeeds or raises InvalidRequest.
# Request-shaped documents are mostly valid, field by field, so that the fuzz reaches
# deep validation and the success path, not only the JSON parser.


def _mostly[T](valid: st.SearchStrategy[T], bad: st.SearchStrategy[object]) -> Any:
    return st.integers(0, 7).flatmap(lambda roll: bad if roll == 0 else valid)


_SURROGATES = st.sampled_from(["\ud800", "\udbff", "\udc00", "\udfff"])
_CLEAN_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=()), max_size=30)
_DIRTY_TEXT = st.text(st.one_of(st.characters(codec=None, exclude_categories=()), _SURROGATES))
_TEXT = _mostly(_CLEAN_TEXT, _DIRTY_TEXT)
_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), _TEXT)
_JSON_LIKE = st.recursive(
    _SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(_TEXT, children, max_size=4)
    ),
    max_leaves=12,
)
_IDS = st.from_regex(r"[A-Za-z0-9_.:-]{1,20}", fullmatch=True)


def _number(low: float, high: float) -> Any:
    return _mostly(st.one_of(st.floats(low, high), st.integers(int(low), int(high))), _JSON_LIKE)


_PARAMS = st.fixed_dictionaries(
    {},
    optional={
        "length_scale": _number(0.25, 4),
        "noise_scale": _number(0, 2),
        "noise_w": _number(0, 2),
        "sentence_pause_s": _number(0, 5),
        "rate": _number(0.25, 4),
    },
)
_METADATA = st.dictionaries(
    st.text(min_size=1, max_size=8),
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), _CLEAN_TEXT),
    max_size=6,
)
_FORMATS = st.sampled_from(list(AudioFormat)).flatmap(
    lambda fmt: st.sampled_from([fmt.value, fmt.value.upper(), fmt.value.title()])
)
_ITEM_FIELDS = {
    "text": _mostly(_CLEAN_TEXT.filter(bool), _JSON_LIKE),
    "voice": _mostly(st.sampled_from(["joe", "amy", "en_US-lessac"]), _JSON_LIKE),
    "format": _mostly(_FORMATS, _JSON_LIKE),
    "params": _mostly(_PARAMS, _JSON_LIKE),
    "metadata": _mostly(_METADATA, _JSON_LIKE),
    "lexicons": _mostly(
        st.lists(st.sampled_from(["W3C", "a1", "x-y", ""]), max_size=6), _JSON_LIKE
    ),
}
_SINGLE_FIELDS = {name: field for name, field in _ITEM_FIELDS.items() if name != "text"}
_ITEMS = st.fixed_dictionaries(
    {"text": _ITEM_FIELDS["text"]},
    optional=_SINGLE_FIELDS | {"item_id": _mostly(st.sampled_from(["a", "b", "0", "1"]), _TEXT)},
)
_ENVELOPE_FIELDS = {
    "request_id": _mostly(_IDS, _JSON_LIKE),
    "tenant": _mostly(_IDS, _JSON_LIKE),
    "reply_to": _mostly(
        st.fixed_dictionaries(
            {}, optional={"queue_url": st.just("https://sqs.local/q"), "event_bus": _IDS}
        ),
        _JSON_LIKE,
    ),
    "schema_version": _mostly(st.just(1), _JSON_LIKE),
}
_BATCH = _mostly(st.lists(_ITEMS, min_size=1, max_size=4), _JSON_LIKE)
_REQUESTS = st.one_of(
    st.fixed_dictionaries(
        {"text": _ITEM_FIELDS["text"]}, optional=_SINGLE_FIELDS | _ENVELOPE_FIELDS
    ),
    st.fixed_dictionaries({"items": _BATCH}, optional=_ENVELOPE_FIELDS),
    # Either shape, both or neither.
    st.fixed_dictionaries({}, optional=_ITEM_FIELDS | _ENVELOPE_FIELDS | {"items": _BATCH}),
)
_DOCUMENTS = st.one_of(
    _REQUESTS,
    _REQUESTS.map(envelope),
    st.builds(envelope, _JSON_LIKE, _mostly(st.sampled_from(list(DETAIL_TYPES)), _TEXT)),
    _JSON_LIKE,
)


@st.composite
def _bodies(draw: st.DrawFn) -> object:
    kind = draw(st.sampled_from(["bytes", "text", "json", "json", "json-bytes", "mapping"]))
    if kind == "bytes":
        return draw(st.binary(max_size=200))
    if kind == "text":
        return draw(_DIRTY_TEXT)
    document = draw(_DOCUMENTS)
    if kind == "mapping" and isinstance(document, dict):
        return document
    # ensure_ascii=True writes lone surrogates as \\udXXX escapes; False leaves them raw.
    text = json.dumps(document, ensure_ascii=draw(st.booleans()))
    return text.encode("utf-8", "surrogatepass") if kind == "json-bytes" else text


@settings(max_examples=examples(2000), deadline=None)
@given(_bodies())
def test_parsing_fails_only_with_invalid_request(body: object) -> None:
    outcome: SynthesisRequested | InvalidRequest
    try:
        outcome = parse_request(body)  # type: ignore[arg-type]
    except InvalidRequest as error:
        outcome = error
    if isinstance(outcome, InvalidRequest):
        message = str(outcome)
        assert message
        assert "\n" not in message
        outcome.to_failure("sqs-message-id").model_dump_json()
    else:
        assert parse_request(outcome.model_dump_json()) == outcome
        assert outcome.expand()


def test_a_client_request_carries_its_publish_time() -> None:
    from voxflow.client.messages import request_entry

    before = datetime.now(UTC)
    request, entry = request_entry("bus", None, text="Hi.")
    assert request.requested_at is not None
    assert before <= request.requested_at <= datetime.now(UTC)
    assert parse_request(entry["Detail"]).requested_at == request.requested_at
