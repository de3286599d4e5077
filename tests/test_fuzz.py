"""Bad input, fuzzed: the event parser, the plan path, and the plan function's handler.

Every body either becomes a request or fails with a stable code; every planned
item ends in exactly one outcome (a SynthesisFailed, or chunk tasks queued); one
bad record never takes the rest of its batch down. Derandomized, so CI sees the
same cases every run; the example counts add up to over 10,000.

The plan path runs on in-process moto for DynamoDB (the real pynamodb stores,
conditional writes included) and recording fakes for SQS, EventBridge and S3.
"""

import importlib.util
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pydantic_core
import pytest
from conftest import examples as scaled
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws
from test_ssml import hostile as hostile_ssml

from voxflow.aws import AwsSettings
from voxflow.errors import (
    EmptyText,
    InvalidInput,
    InvalidParameter,
    InvalidSsml,
    TenantMismatch,
    TextTooLong,
    UnknownVoice,
    UnsupportedFormat,
)
from voxflow.events import (
    MAX_BATCH_ITEMS,
    ChunkTask,
    InvalidRequest,
    SynthesisFailed,
    SynthesisRequested,
    parse_request,
    parse_request_items,
)
from voxflow.pipeline.context import ChunkQueue, Pipeline
from voxflow.pipeline.controls import Controls
from voxflow.pipeline.publisher import EventPublisher
from voxflow.pipeline.requests import handle_request_message
from voxflow.service_settings import ServiceSettings
from voxflow.settings import EngineSettings
from voxflow.store import AudioStore, CacheEntry, CacheIndex, Job, JobStore
from voxflow.store.models import bind
from voxflow.voices import VoiceRegistry

# The codes parsing may end in (a text over the wire limit is TEXT_TOO_LONG); the plan
# path adds the engine's input codes.
PARSE_CODES = {InvalidRequest.code, TextTooLong.code}
PLAN_CODES = PARSE_CODES | {
    InvalidInput.code,
    EmptyText.code,
    TextTooLong.code,
    UnknownVoice.code,
    UnsupportedFormat.code,
    InvalidParameter.code,
    TenantMismatch.code,  # a fuzzed tenant other than the sender's (FUZZ_SENDER's)
    InvalidSsml.code,
}
REGION = "us-east-1"
# The SQS sender of the plan path's messages, bound to VALID_SINGLE's tenant.
FUZZ_SENDER = "AIDAFUZZSENDER"


def fuzz(examples: int) -> settings:
    return settings(
        max_examples=scaled(examples),
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


# ---- strategies ----

# Every code point, lone surrogates (Cs) and controls (Cc) included.
any_text = st.text(st.characters(codec=None, categories=None), max_size=40)
controls = st.text(st.characters(categories=["Cc", "Cf", "Cs", "Zl", "Zp"]), min_size=1)
ssml = st.sampled_from(
    [
        '<speak><prosody rate="x-fast">Hi</prosody></speak>',
        '<break time="99999s"/>',
        "<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a 'aaaa'>]><x>&a;&a;</x>",
        "&lt;speak&gt;",
        "<audio src='file:///etc/passwd'/>",
        "]]><![CDATA[",
    ]
)
huge_text = st.builds(
    lambda piece, times: piece * times,
    st.sampled_from(["a", "word ", "é", "語", "\U0001f600", " ", "."]),
    st.sampled_from([100_000, 100_001]),
)
numbers = st.one_of(
    st.integers(),
    st.integers(min_value=-(10**400), max_value=10**400),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0, -1, -0.0, 1e-320, 1e308, 2**63, -(2**63) - 1, 0.25, 4.0, 4.0000001]),
)
scalars = st.one_of(st.none(), st.booleans(), numbers, any_text, controls, ssml)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(any_text, inner, max_size=4)
    ),
    max_leaves=12,
)
# Huge values are costly to build and parse: a few go a long way.
bad_values = st.one_of(json_values, json_values, json_values, json_values, huge_text)

VALID_ITEM: dict[str, Any] = {
    "text": "Hello there. How are you?",
    "voice": "joe",
    "format": "mp3",
    "params": {"noise_scale": 0.5, "noise_w": 0.6, "sentence_pause_s": 0.1, "rate": 1.2},
    "metadata": {"app": "fuzz", "n": 1},
}
VALID_SINGLE: dict[str, Any] = {
    "request_id": "req-1",
    "tenant": "acme",
    "reply_to": {"queue_url": "https://sqs.us-east-1.amazonaws.com/1/voxflow-replies-x"},
    **VALID_ITEM,
}
VALID_BATCH: dict[str, Any] = {
    "request_id": "batch-1",
    "items": [VALID_ITEM, {"text": "Second.", "item_id": "two"}, {"text": "Third."}],
}
FIELD_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "request_id": st.one_of(st.from_regex(r"[A-Za-z0-9_.:-]{0,140}", fullmatch=True), any_text),
    "tenant": st.one_of(st.from_regex(r"[A-Za-z0-9_.:-]{0,70}", fullmatch=True), any_text),
    "text": st.one_of(any_text, controls, ssml, huge_text, st.just(""), st.just("   ")),
    "text_type": st.one_of(st.sampled_from(["text", "ssml", "SSML", ""]), any_text),
    "voice": st.one_of(st.sampled_from(["joe", "JOE", "nobody", "joe ", ""]), any_text),
    "format": st.one_of(
        st.sampled_from(["mp3", "MP3", ".wav", " ogg ", "aiff", "opus", "", "mp3\x00"]), any_text
    ),
    "item_id": st.one_of(st.from_regex(r"[A-Za-z0-9_.:-]{0,70}", fullmatch=True), any_text),
    "length_scale": numbers,
    "noise_scale": numbers,
    "noise_w": numbers,
    "sentence_pause_s": numbers,
    "rate": numbers,
    "schema_version": st.one_of(st.sampled_from([1, 2, 0, "1", 1.0, True]), numbers),
    "metadata": st.one_of(
        st.dictionaries(any_text, scalars, max_size=25),
        st.dictionaries(st.just("k"), huge_text, max_size=1),
    ),
    "reply_to": st.one_of(
        st.fixed_dictionaries({"queue_url": any_text}),
        st.fixed_dictionaries({"event_bus": any_text}),
        st.just({"queue_url": "https://example.com/q", "event_bus": "voxflow-replies-b"}),
    ),
    "items": st.one_of(
        st.lists(st.fixed_dictionaries({"text": st.just("Hi.")}), max_size=MAX_BATCH_ITEMS + 5),
        st.lists(json_values, max_size=4),
    ),
}
PARAM_NAMES = ("length_scale", "noise_scale", "noise_w", "sentence_pause_s", "rate")


@st.composite
def mutated_bodies(draw: st.DrawFn) -> dict[str, Any]:
    """A valid request, one to three of its fields (at any level) replaced or removed."""
    body: dict[str, Any] = json.loads(
        json.dumps(draw(st.sampled_from([VALID_SINGLE, VALID_BATCH])))
    )
    for _ in range(draw(st.integers(1, 3))):
        name = draw(st.sampled_from([*FIELD_VALUES, "unknown_field"]))
        items = body.get("items")
        if isinstance(items, list) and items and draw(st.booleans()):
            target = items[draw(st.integers(0, len(items) - 1))]
        else:
            target = body
        if not isinstance(target, dict):
            continue
        if name in PARAM_NAMES:
            target = target.setdefault("params", {})
            if not isinstance(target, dict):
                continue
        action = draw(st.sampled_from(["replace", "replace", "wild", "remove"]))
        if action == "remove":
            target.pop(name, None)
        elif action == "wild" or name == "unknown_field":
            target[name] = draw(bad_values)
        else:
            target[name] = draw(FIELD_VALUES[name])
    return body


def envelope(detail: object, kind: object = "SynthesisRequested") -> dict[str, Any]:
    return {"version": "0", "source": "voxflow.client", "detail-type": kind, "detail": detail}


@st.composite
def wire_bodies(draw: st.DrawFn) -> str | bytes:
    """A mutated body as an SQS message would carry it: JSON text or bytes, maybe in an
    EventBridge envelope, maybe with invalid UTF-8 or a lone surrogate spliced in."""
    body: object = draw(mutated_bodies())
    if draw(st.booleans()):
        body = envelope(body, draw(st.sampled_from(["SynthesisRequested"] * 4 + ["Other", 1])))
    text = json.dumps(body, ensure_ascii=draw(st.booleans()))
    damage = draw(st.sampled_from(["none", "none", "none", "bytes", "surrogate", "truncate"]))
    if damage == "bytes":
        at = draw(st.integers(0, len(text)))
        junk = draw(
            st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x00", b"\xf4\x90\x80\x80"])
        )
        data = text.encode("utf-8", "surrogatepass")
        return data[:at] + junk + data[at:]
    if damage == "surrogate":
        at = draw(st.integers(0, len(text)))
        return text[:at] + "\ud800" + text[at:]
    if damage == "truncate":
        return text[: draw(st.integers(0, max(0, len(text) - 1)))]
    return text if draw(st.booleans()) else text.encode("utf-8", "surrogatepass")


def parses_or_invalid(body: Any) -> SynthesisRequested | None:
    """The parser's whole contract for one body; returns the request if there is one."""
    try:
        request = parse_request(body, default_request_id="fallback-id")
    except InvalidRequest as caught:
        error = caught
        items_parsed(body, None)
    else:
        items_parsed(body, request)
        # An accepted request expands and survives its own wire format unchanged.
        assert request.expand()
        assert parse_request(request.model_dump_json()) == request
        return request
    assert error.code in PARSE_CODES
    message = str(error)
    assert message
    assert "\n" not in message
    # The answer the pipeline sends must itself be a valid event.
    failure = error.to_failure("sqs-00000000-0000-0000-0000-000000000000")
    assert SynthesisFailed.model_validate_json(failure.model_dump_json()) == failure
    return None


def items_parsed(body: Any, strict: SynthesisRequested | None) -> None:
    """The lenient batch parse: the same request where the strict one accepts; else only
    InvalidRequest, or a batch whose rejected items each have their own result id."""
    try:
        parsed = parse_request_items(body, default_request_id="fallback-id")
    except InvalidRequest as caught:
        code: str | None = caught.code
    else:
        code = None
    if code is not None:
        assert code in PARSE_CODES
        assert strict is None
        return
    if strict is not None:
        assert parsed.request == strict
        assert parsed.rejected == []
        return
    assert parsed.rejected
    ids = [rejected.request_id for rejected in parsed.rejected]
    if parsed.request is not None:
        ids += [item.request_id for item in parsed.request.expand()]
    assert len(ids) == len(set(ids))
    assert all(str(item_id).startswith(f"{parsed.batch_id}:") for item_id in ids)


# ---- the parser: 10,000 cases ----


@fuzz(2500)
@given(body=mutated_bodies(), as_text=st.booleans())
def test_mutated_requests_parse_or_fail_with_the_stable_code(
    body: dict[str, Any], as_text: bool
) -> None:
    # As the SQS body, or as a mapping: the in-process form.
    parses_or_invalid(json.dumps(body) if as_text else body)


@fuzz(2500)
@given(body=wire_bodies())
def test_damaged_wire_bodies_parse_or_fail_with_the_stable_code(body: str | bytes) -> None:
    parses_or_invalid(body)


@fuzz(3000)
@given(body=st.one_of(st.binary(max_size=200), any_text, controls))
def test_raw_bytes_and_text_never_escape(body: str | bytes) -> None:
    parses_or_invalid(body)


@fuzz(2000)
@given(document=json_values, wrap=st.booleans())
def test_json_of_any_shape_never_escapes(document: object, wrap: bool) -> None:
    body = envelope(document) if wrap else document
    try:
        text = json.dumps(body)
    except ValueError:  # a float json.dumps itself refuses
        return
    parses_or_invalid(text)
    if isinstance(body, dict):
        parses_or_invalid(body)


def test_oversized_and_nested_bodies_are_invalid_requests() -> None:
    batch = {"items": [{"text": "Hi."}] * (MAX_BATCH_ITEMS + 1)}
    assert parses_or_invalid(batch) is None
    deep = "[" * 100_000 + "]" * 100_000
    assert parses_or_invalid(deep) is None
    deep_mapping: dict[str, Any] = {"text": "x"}
    for _ in range(5000):
        deep_mapping = {"metadata": deep_mapping}
    assert parses_or_invalid(deep_mapping) is None


# ---- the plan path: handle_request_message on real stores, recording fakes ----


@dataclass
class Recorder:
    """SQS, EventBridge and S3 clients that record what the pipeline sends."""

    events: list[dict[str, Any]] = field(default_factory=list)
    tasks: list[ChunkTask] = field(default_factory=list)
    replies: list[dict[str, Any]] = field(default_factory=list)
    objects: dict[str, bytes] = field(default_factory=dict)  # S3 (a long job's texts)

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:  # noqa: N803
        self.events.extend(Entries)
        return {"FailedEntryCount": 0, "Entries": [{"EventId": "e"} for _ in Entries]}

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:  # noqa: N803
        assert QueueUrl == "chunks"
        self.tasks.extend(ChunkTask.model_validate_json(e["MessageBody"]) for e in Entries)
        return {"Successful": [{"Id": e["Id"]} for e in Entries], "Failed": []}

    def send_message(self, QueueUrl: str, MessageBody: str, **_: Any) -> dict[str, Any]:  # noqa: N803
        self.replies.append({"queue_url": QueueUrl, **json.loads(MessageBody)})
        return {"MessageId": "m"}

    def generate_presigned_url(self, *_: Any, **__: Any) -> str:
        return "https://bucket.example/audio"

    def put_object(self, Key: str, Body: bytes, **_: Any) -> dict[str, Any]:  # noqa: N803
        self.objects[Key] = Body
        return {}

    def failures(self) -> dict[str, list[dict[str, Any]]]:
        found: dict[str, list[dict[str, Any]]] = {}
        # The service's own bus: a reply_to.event_bus gets a copy of the same outcome.
        for entry in self.events:
            if entry["DetailType"] == "SynthesisFailed" and entry["EventBusName"] == "bus":
                detail = json.loads(entry["Detail"])
                found.setdefault(detail["request_id"], []).append(detail)
        return found

    def kinds(self) -> set[str]:
        return {entry["DetailType"] for entry in self.events}


@pytest.fixture(scope="module")
def aws() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
            patch.setenv(name, "testing")
        patch.setenv("AWS_DEFAULT_REGION", REGION)
        with mock_aws():
            yield


class Bindings(dict[str, str]):
    """The tenant directory: principal -> tenant."""

    def tenant_of(self, principal: str) -> str | None:
        return self.get(principal)


@dataclass
class Stores:
    registry: VoiceRegistry
    cache_model: type[CacheEntry]
    jobs_model: type[Job]

    def pipeline(self, recorder: Recorder) -> Pipeline:
        """A pipeline over an empty jobs table, so each case starts from no jobs."""
        for job in self.jobs_model.scan():
            job.delete()
        service = ServiceSettings(
            bus_name="bus",
            chunks_queue_url="chunks",
            bucket="bucket",
            cache_table="cache",
            jobs_table="jobs",
            region_name=REGION,
        )
        return Pipeline(
            settings=service,
            engine_settings=EngineSettings(),
            registry=self.registry,
            audio=AudioStore(recorder, "bucket", 3600),
            cache=CacheIndex(self.cache_model, service.cache_ttl_s, service.chunk_ttl_s),
            jobs=JobStore(self.jobs_model, service.job_ttl_s),
            publisher=EventPublisher(recorder, recorder, "bus"),
            chunk_queue=ChunkQueue(recorder, "chunks"),
            controls=Controls(tenants=Bindings({FUZZ_SENDER: "acme"})),
        )


@pytest.fixture(scope="module")
def stores(aws: None, registry: VoiceRegistry) -> Stores:
    cache_model = bind(CacheEntry, "cache", AwsSettings(region=REGION))
    cache_model.create_table(billing_mode="PAY_PER_REQUEST", wait=False)
    jobs_model = bind(Job, "jobs", AwsSettings(region=REGION))
    jobs_model.create_table(billing_mode="PAY_PER_REQUEST", wait=False)
    assert registry.get("joe").model_version  # hashed once, not inside the first case
    return Stores(registry, cache_model, jobs_model)


def plan_outcomes(body: str | bytes, stores: Stores) -> Recorder:
    """Handles one message; asserts each result id ends in exactly one outcome."""
    recorder = Recorder()
    message_id = str(uuid.uuid4())
    pipeline = stores.pipeline(recorder)
    handle_request_message(body, message_id, 1, pipeline, sender_id=FUZZ_SENDER)  # type: ignore[arg-type]
    failures = recorder.failures()
    queued = {task.request_id for task in recorder.tasks}
    assert recorder.kinds() <= {"SynthesisFailed"}  # nothing was cached: no hit
    try:
        parsed = parse_request_items(body, default_request_id=f"sqs-{message_id}")
    except InvalidRequest as error:
        whole_id: str | None = error.request_id or f"sqs-{message_id}"
    else:
        whole_id = None
    if whole_id is not None:
        assert not queued
        (failed,) = [detail for details in failures.values() for detail in details]
        assert failed["code"] in PARSE_CODES
        assert failed["request_id"] == whole_id
        return recorder
    expected = {str(rejected.request_id) for rejected in parsed.rejected}
    if parsed.request is not None:
        expected |= {item.request_id for item in parsed.request.expand()}
    assert set(failures) | queued == expected  # nothing for anyone else
    for result_id in expected:
        outcomes = len(failures.get(result_id, [])) + (result_id in queued)
        assert outcomes == 1, (result_id, failures.get(result_id), result_id in queued)
    for details in failures.values():
        assert details[0]["code"] in PLAN_CODES
        assert details[0]["retryable"] is False
    # Every queued job's tasks can be made again by the sweeper: its chunk texts are in
    # its item or beside it (voxflow.store.job_texts), all of them.
    for request_id in queued:
        job = stores.jobs_model.get(request_id, consistent_read=True)
        beside = recorder.objects.get(AudioStore.job_texts_object(request_id))
        texts = job.chunk_texts if beside is None else json.loads(beside)["chunk_texts"]
        assert texts is not None
        assert len(texts) == int(job.chunk_count)
    # A failure also reaches the reply queue the request named.
    reply_to = parsed.rejected[0].reply_to if parsed.rejected else None
    if parsed.request is not None:
        reply_to = parsed.request.reply_to
    if reply_to is not None and reply_to.queue_url:
        assert len(recorder.replies) == len(failures)
    return recorder


@fuzz(400)
@given(body=wire_bodies())
def test_every_message_ends_in_one_outcome_per_item(body: str | bytes, stores: Stores) -> None:
    plan_outcomes(body, stores)


@fuzz(200)
@given(text=st.one_of(hostile_ssml, hostile_ssml.map(lambda text: f"<speak>{text}</speak>")))
def test_hostile_ssml_requests_end_in_invalid_ssml_or_chunk_tasks(
    text: str, stores: Stores
) -> None:
    body = {**VALID_SINGLE, "request_id": f"ssml-{uuid.uuid4().hex[:12]}", "text_type": "ssml"}
    recorder = plan_outcomes(json.dumps({**body, "text": text}), stores)
    codes = {detail["code"] for details in recorder.failures().values() for detail in details}
    assert codes <= {InvalidSsml.code, EmptyText.code, TextTooLong.code, InvalidRequest.code}


BAD_ITEMS = st.one_of(
    st.fixed_dictionaries({"text": st.one_of(controls, st.just("   "), st.just("\u200b"))}),
    st.fixed_dictionaries({"text": st.just("Hi."), "voice": st.sampled_from(["nobody", "x_y"])}),
    st.fixed_dictionaries({"text": st.just("Hi."), "format": st.sampled_from(["aiff", "", "mp4"])}),
    st.fixed_dictionaries({"text": st.just("Hi."), "params": st.just({"rate": -1})}),
    st.fixed_dictionaries({"text": json_values}),
    st.fixed_dictionaries({"text": st.just("Hi."), "surprise": json_values}),
    json_values,
)


@fuzz(120)
@given(
    good=st.lists(
        st.sampled_from(["One.", "Two words.", "A third, longer item."]), min_size=1, max_size=4
    ),
    bad=BAD_ITEMS,
    at=st.integers(0, 6),
)
def test_one_bad_item_never_takes_its_batch_down(
    good: list[str], bad: Any, at: int, stores: Stores
) -> None:
    items: list[Any] = [{"text": text} for text in good]
    at = min(at, len(items))
    items.insert(at, bad)
    body = json.dumps({"request_id": "batch", "items": items})
    recorder = plan_outcomes(body, stores)
    try:
        pydantic_core.from_json(body)
    except ValueError:
        return  # not JSON at all (a lone surrogate): the whole message failed, once
    queued = {task.request_id for task in recorder.tasks}
    good_ids = {f"batch:{index}" for index in range(len(items)) if index != at}
    assert good_ids <= queued
    # The odd item had its own outcome (plan_outcomes counted it): most fail, and a
    # failure names its batch; a few are valid after all (a surrogate pair is a letter).
    for failure in recorder.failures().get(f"batch:{at}", []):
        assert failure["batch_id"] == "batch"
    assert f"batch:{at}" in set(recorder.failures()) | queued


# ---- the plan function's handler: one SQS batch, garbage among good records ----

PLAN_APP = Path(__file__).resolve().parent.parent / "functions" / "plan" / "app.py"


@dataclass(frozen=True)
class LambdaContextStub:
    function_name: str = "plan"
    memory_limit_in_mb: int = 1024
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:plan"
    aws_request_id: str = "fuzz"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


@pytest.fixture(scope="module")
def plan_app(stores: Stores) -> Any:
    """functions/plan/app.py, imported as Lambda would, its pipeline then swapped for ours."""
    env = {
        "VOXFLOW_BUS_NAME": "bus",
        # An SQS URL: the cold start reads the stack's account from it (reply targets).
        "VOXFLOW_CHUNKS_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/chunks",
        "VOXFLOW_BUCKET": "bucket",
        "VOXFLOW_CACHE_TABLE": "cache",
        "VOXFLOW_JOBS_TABLE": "jobs",
        "POWERTOOLS_METRICS_NAMESPACE": "voxflow",
        "POWERTOOLS_SERVICE_NAME": "voxflow",
    }
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        spec = importlib.util.spec_from_file_location("fuzz_plan_app", PLAN_APP)
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return module


def sqs_record(number: int, body: str) -> dict[str, Any]:
    return {
        "messageId": f"m-{number}",
        "receiptHandle": f"r-{number}",
        "body": body,
        "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:requests",
        "awsRegion": REGION,
    }


@pytest.mark.filterwarnings("ignore:No application metrics")
@fuzz(60)
@given(bodies=st.lists(wire_bodies(), min_size=1, max_size=9), at=st.integers(0, 9))
def test_the_plan_handler_fails_no_record_for_a_bad_neighbour(
    bodies: list[str | bytes], at: int, plan_app: Any, stores: Stores
) -> None:
    # SQS carries text: bytes arrive decoded, whatever they were.
    texts = [b.decode("utf-8", "replace") if isinstance(b, bytes) else b for b in bodies]
    good_id = f"good-{uuid.uuid4().hex[:8]}"
    texts.insert(min(at, len(texts)), json.dumps({"request_id": good_id, "text": "Fine."}))
    recorder = Recorder()
    plan_app.pipeline = stores.pipeline(recorder)
    event = {"Records": [sqs_record(n, text) for n, text in enumerate(texts)]}
    response = plan_app.handler(event, LambdaContextStub())
    assert response["batchItemFailures"] == []  # bad input is answered, not retried
    assert good_id in {task.request_id for task in recorder.tasks}
