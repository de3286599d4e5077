"""Reply targets: the rules a request's reply_to is held to, and best-effort delivery.

Unit tests here: the rules on AWS-shaped and local URLs, the check at parse time, the
settings, and the publisher over real boto3 against moto in-process (a deleted queue,
a missing bus) or a client that refuses (AccessDenied, no connection). The local stack
end to end is in test_reply_targets_e2e.py.
"""

import json
import logging
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from moto import mock_aws

from voxflow.config import Config
from voxflow.errors import SettingsError
from voxflow.events import (
    InvalidRequest,
    ParsedBatch,
    ReplyTo,
    SynthesisFailed,
    parse_request_items,
)
from voxflow.pipeline.publisher import EventPublisher, PublishFailed, ReplyQueues
from voxflow.pipeline.reply_targets import (
    InvalidReplyTarget,
    ReplyTargetRules,
    parse_checked,
)
from voxflow.regions import RegionConfig, Role
from voxflow.service_settings import ServiceSettings

ACCOUNT = "111122223333"
EAST = f"https://sqs.us-east-1.amazonaws.com/{ACCOUNT}"
WEST = f"https://sqs.us-west-2.amazonaws.com/{ACCOUNT}"
SERVICE = ServiceSettings(
    bus_name="voxflow-bus",
    chunks_queue_url=f"{EAST}/voxflow-ChunksQueue-AAAA",
    long_chunks_queue_url=f"{EAST}/voxflow-LongChunksQueue-BBBB",
    bucket="b",
    cache_table="c",
    jobs_table="j",
    region_name="us-east-1",
    own_queues=frozenset({"voxflow-ChunksDLQ-CCCC", "voxflow-RequestsDLQ-DDDD"}),
)
STANDALONE = RegionConfig(region="us-east-1", requests_queue_url=f"{EAST}/voxflow-Requests-EEEE")
TWO_REGIONS = RegionConfig(
    role=Role.PRIMARY,
    region="us-east-1",
    health_alarm="voxflow-primary-health",
    requests_queue_url=f"{EAST}/voxflow-Requests-EEEE",
)


@pytest.fixture
def rules() -> ReplyTargetRules:
    return ReplyTargetRules.from_settings(SERVICE, STANDALONE)


def refusal(rules: ReplyTargetRules, **target: str) -> str | None:
    return rules.refusal(ReplyTo.model_validate(target))


# ---------------------------------------------------------------------------------
# The rules
# ---------------------------------------------------------------------------------


def test_queues_and_buses_with_the_prefix_in_this_account_and_region_are_accepted(
    rules: ReplyTargetRules,
) -> None:
    assert refusal(rules, queue_url=f"{EAST}/voxflow-replies-0a1b") is None
    legacy = f"https://us-east-1.queue.amazonaws.com/{ACCOUNT}/voxflow-replies-0a1b"
    assert refusal(rules, queue_url=legacy) is None
    assert refusal(rules, event_bus="voxflow-replies-bus") is None
    arn = f"arn:aws:events:us-east-1:{ACCOUNT}:event-bus/voxflow-replies-bus"
    assert refusal(rules, event_bus=arn, queue_url=f"{EAST}/voxflow-replies-q") is None


def test_names_outside_the_prefix_are_refused(rules: ReplyTargetRules) -> None:
    assert refusal(rules, queue_url=f"{EAST}/my-replies") == (
        "reply_to.queue_url: the queue's name must start with 'voxflow-replies-'"
    )
    assert refusal(rules, event_bus="default") == (
        "reply_to.event_bus: the bus's name must start with 'voxflow-replies-'"
    )
    # One bad target of two fails the request.
    problem = refusal(rules, queue_url=f"{EAST}/voxflow-replies-q", event_bus="other")
    assert problem is not None
    assert problem.startswith("reply_to.event_bus:")
    custom = ServiceSettings(**{**vars(SERVICE), "reply_queue_prefix": "acme-"})
    acme = ReplyTargetRules.from_settings(custom, STANDALONE)
    assert refusal(acme, queue_url=f"{EAST}/acme-1") is None
    assert refusal(acme, queue_url=f"{EAST}/voxflow-replies-1") is not None


def test_other_accounts_are_refused_and_the_message_never_quotes_the_target(
    rules: ReplyTargetRules,
) -> None:
    other = "https://sqs.us-east-1.amazonaws.com/444455556666/voxflow-replies-x"
    problem = refusal(rules, queue_url=other)
    assert problem == "reply_to.queue_url: the queue must be in the service's own account"
    arn = "arn:aws:events:us-east-1:444455556666:event-bus/voxflow-replies-x"
    problem = refusal(rules, event_bus=arn)
    assert problem == "reply_to.event_bus: the bus must be in the service's own account"
    assert "444455556666" not in problem
    assert "voxflow-replies-x" not in problem


def test_only_this_region_standalone_and_both_regions_of_a_pair(
    rules: ReplyTargetRules,
) -> None:
    west_queue = f"{WEST}/voxflow-replies-x"
    west_bus = f"arn:aws:events:us-west-2:{ACCOUNT}:event-bus/voxflow-replies-b"
    assert refusal(rules, queue_url=west_queue) == (
        "reply_to.queue_url: the queue must be in us-east-1"
    )
    assert refusal(rules, event_bus=west_bus) == "reply_to.event_bus: the bus must be in us-east-1"
    # Two regions: a request may name the other region's queue, which ReplyQueues
    # resolves to the queue of the same name here; a third region is refused by both.
    pair = ReplyTargetRules.from_settings(SERVICE, TWO_REGIONS)
    assert refusal(pair, queue_url=west_queue) is None
    assert refusal(pair, event_bus=west_bus) is None
    ireland = f"https://sqs.eu-west-1.amazonaws.com/{ACCOUNT}/voxflow-replies-x"
    assert refusal(pair, queue_url=ireland) == (
        "reply_to.queue_url: the queue must be in us-east-1 or us-west-2"
    )
    west = RegionConfig(
        role=Role.SECONDARY,
        region="us-west-2",
        health_alarm="voxflow-primary-health",
        requests_queue_url=f"{WEST}/voxflow-Requests-FFFF",
    )
    west_service = ServiceSettings(**{**vars(SERVICE), "region_name": "us-west-2"})
    secondary = ReplyTargetRules.from_settings(west_service, west)
    assert refusal(secondary, queue_url=f"{EAST}/voxflow-replies-x") is None


def test_the_stacks_own_queues_and_bus_are_refused(rules: ReplyTargetRules) -> None:
    own = "reply_to.queue_url: the service's own queues are not reply targets"
    for name in (
        "voxflow-ChunksQueue-AAAA",
        "voxflow-LongChunksQueue-BBBB",
        "voxflow-ChunksDLQ-CCCC",
        "voxflow-RequestsDLQ-DDDD",
        "voxflow-Requests-EEEE",
    ):
        assert refusal(rules, queue_url=f"{EAST}/{name}") == own, name
    # Even where the prefix would let them through.
    loose = ServiceSettings(**{**vars(SERVICE), "reply_queue_prefix": "voxflow-"})
    loose_rules = ReplyTargetRules.from_settings(loose, STANDALONE)
    assert refusal(loose_rules, queue_url=f"{EAST}/voxflow-ChunksDLQ-CCCC") == own
    bus = "reply_to.event_bus: the service's own bus is not a reply target"
    loose_bus = ServiceSettings(**{**vars(SERVICE), "reply_bus_prefix": "voxflow-"})
    for rule_set in (rules, ReplyTargetRules.from_settings(loose_bus, STANDALONE)):
        assert refusal(rule_set, event_bus="voxflow-bus") == bus
        arn = f"arn:aws:events:us-east-1:{ACCOUNT}:event-bus/voxflow-bus"
        assert refusal(rule_set, event_bus=arn) == bus


@pytest.mark.parametrize(
    "url",
    [
        f"http://sqs.us-east-1.amazonaws.com/{ACCOUNT}/voxflow-replies-x",  # not https
        f"https://example.com/{ACCOUNT}/voxflow-replies-x",
        f"https://sqs.us-east-1.amazonaws.com.example.com/{ACCOUNT}/voxflow-replies-x",
        f"{EAST}/voxflow-replies-x.fifo",
        f"{EAST}/voxflow-replies-x?Action=SendMessage",
        f"{EAST}/extra/voxflow-replies-x",
        f"https://user@sqs.us-east-1.amazonaws.com/{ACCOUNT}/voxflow-replies-x",
        f"http://127.0.0.1:5000/{ACCOUNT}/voxflow-replies-x",  # local hosts only locally
    ],
)
def test_urls_that_are_not_standard_queues_of_sqs_are_refused(
    rules: ReplyTargetRules, url: str
) -> None:
    assert refusal(rules, queue_url=url) is not None


def test_a_local_stack_takes_its_own_host_at_any_port() -> None:
    local = ServiceSettings(
        **{**vars(SERVICE), "chunks_queue_url": "http://127.0.0.1:5000/123456789012/voxflow-Chunks"}
    )
    rules = ReplyTargetRules.from_settings(local, RegionConfig())
    # Each local region is a moto server on this machine: the other one is on 5001.
    for host in ("127.0.0.1:5000", "127.0.0.1:5001", "localhost:5000"):
        assert refusal(rules, queue_url=f"http://{host}/123456789012/voxflow-replies-x") is None
    assert refusal(rules, queue_url="http://10.1.2.3:5000/123456789012/voxflow-replies-x")
    assert refusal(rules, queue_url="http://127.0.0.1:5000/123456789012/voxflow-Chunks")
    assert refusal(rules, queue_url="http://127.0.0.1:5000/123456789012/other")


def test_rules_need_a_queue_url_that_names_the_account() -> None:
    with pytest.raises(SettingsError, match="VOXFLOW_CHUNKS_QUEUE_URL"):
        ReplyTargetRules.from_settings(
            ServiceSettings(**{**vars(SERVICE), "chunks_queue_url": "chunks"}), STANDALONE
        )


def test_settings_read_the_prefixes_and_own_queues_once() -> None:
    env = {
        "VOXFLOW_BUS_NAME": "bus",
        "VOXFLOW_CHUNKS_QUEUE_URL": f"{EAST}/q",
        "VOXFLOW_BUCKET": "b",
        "VOXFLOW_CACHE_TABLE": "c",
        "VOXFLOW_JOBS_TABLE": "j",
    }
    defaults = ServiceSettings.of(Config.load(env))
    assert defaults.reply_queue_prefix == defaults.reply_bus_prefix == "voxflow-replies-"
    assert defaults.own_queues == frozenset()
    read = ServiceSettings.of(
        Config.load(
            {
                **env,
                "VOXFLOW_REPLY_QUEUE_PREFIX": "acme-q-",
                "VOXFLOW_REPLY_BUS_PREFIX": "acme.b-",
                "VOXFLOW_OWN_QUEUES": "s-RequestsQueue-1,s-ChunksDLQ-2",
            }
        )
    )
    assert (read.reply_queue_prefix, read.reply_bus_prefix) == ("acme-q-", "acme.b-")
    assert read.own_queues == {"s-RequestsQueue-1", "s-ChunksDLQ-2"}
    for name, bad in (("VOXFLOW_REPLY_QUEUE_PREFIX", "a.b"), ("VOXFLOW_REPLY_BUS_PREFIX", "a/b")):
        with pytest.raises(SettingsError, match=name):
            ServiceSettings.of(Config.load({**env, name: bad}))


# ---------------------------------------------------------------------------------
# The check at parse time
# ---------------------------------------------------------------------------------


def body(**fields: Any) -> str:
    return json.dumps({"request_id": "r-1", "tenant": "acme", "text": "Hello.", **fields})


def parse(message: str, rules: ReplyTargetRules | None) -> ParsedBatch:
    return parse_checked(lambda: parse_request_items(message, "sqs-m"), rules)


def test_a_refused_target_fails_the_request_without_the_target(rules: ReplyTargetRules) -> None:
    chunks = {"queue_url": SERVICE.chunks_queue_url}
    with pytest.raises(InvalidReplyTarget) as raised:
        parse(body(reply_to=chunks, metadata={"app": "x"}), rules)
    error = raised.value
    assert error.code == "INVALID_REQUEST"
    assert str(error) == "reply_to.queue_url: the service's own queues are not reply targets"
    assert (error.request_id, error.tenant, error.metadata) == ("r-1", "acme", {"app": "x"})
    assert error.reply_to is None  # so the answer goes to the service's bus only


def test_a_batch_with_a_refused_target_fails_whole(rules: ReplyTargetRules) -> None:
    items = [{"text": "One."}, {"text": "Two.", "voice": "nobody!"}]
    batch = json.dumps(
        {"request_id": "b-1", "items": items, "reply_to": {"event_bus": "voxflow-bus"}}
    )
    with pytest.raises(InvalidReplyTarget) as raised:
        parse(batch, rules)
    assert (raised.value.request_id, raised.value.reply_to) == ("b-1", None)


def test_failures_answered_anyway_keep_their_code_and_only_an_accepted_target(
    rules: ReplyTargetRules,
) -> None:
    good = {"queue_url": f"{EAST}/voxflow-replies-q"}
    with pytest.raises(InvalidRequest) as raised:
        parse(body(reply_to=good, format="aiff"), rules)
    assert raised.value.reply_to == ReplyTo.model_validate(good)
    with pytest.raises(InvalidRequest) as raised:
        parse(body(reply_to={"event_bus": "voxflow-bus"}, format="aiff"), rules)
    assert raised.value.code == "INVALID_REQUEST"
    assert raised.value.reply_to is None
    assert not isinstance(raised.value, InvalidReplyTarget)  # the body's own problem is told
    # A batch with no valid item: each item is answered, on the service's bus only.
    bad_items = [{"text": "One.", "voice": "nobody!"}, {"text": "Two.", "format": "aiff"}]
    for reply_to, kept in (({"event_bus": "voxflow-bus"}, None), (good, good)):
        parsed = parse(
            json.dumps({"request_id": "b-2", "items": bad_items, "reply_to": reply_to}), rules
        )
        assert parsed.request is None
        assert [rejected.request_id for rejected in parsed.rejected] == ["b-2:0", "b-2:1"]
        expected = None if kept is None else ReplyTo.model_validate(kept)
        assert [rejected.reply_to for rejected in parsed.rejected] == [expected, expected]


def test_accepted_targets_parse_as_before(rules: ReplyTargetRules) -> None:
    target = {"queue_url": f"{EAST}/voxflow-replies-q", "event_bus": "voxflow-replies-b"}
    parsed = parse(body(reply_to=target), rules)
    assert parsed.request is not None
    assert parsed.request.reply_to == ReplyTo.model_validate(target)
    unchecked = parse(body(reply_to={"event_bus": "voxflow-bus"}), None)
    assert unchecked.request is not None


# ---------------------------------------------------------------------------------
# Best-effort delivery
# ---------------------------------------------------------------------------------


class CountingMeter:
    def __init__(self) -> None:
        self.counts: dict[str, float] = {}

    def count(self, name: str, value: float = 1) -> None:
        self.counts[name] = self.counts.get(name, 0) + value

    def seconds(self, name: str, value: float) -> None:
        pass

    def ratio(self, name: str, value: float) -> None:
        pass

    def count_by(self, name: str, dimension: str, value: str) -> None:
        self.counts[f"{name}:{dimension}={value}"] += 1


class Refusing:
    """A client whose every call fails as ``error`` (IAM's AccessDenied, no connection)."""

    def __init__(self, real: Any, error: Exception) -> None:
        self.meta = real.meta
        self._error = error

    def __getattr__(self, name: str) -> Any:
        def fail(**_: Any) -> Any:
            raise self._error

        return fail


@pytest.fixture
def aws() -> Iterator[tuple[Any, Any, str]]:
    """Real boto3 against moto in-process: the service's bus with a tap queue on it."""
    with pytest.MonkeyPatch.context() as patch:
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            patch.setenv(name, "testing")
        patch.delenv("AWS_SESSION_TOKEN", raising=False)
        patch.delenv("AWS_ENDPOINT_URL", raising=False)
        with mock_aws():
            events = boto3.client("events", region_name="us-east-1")
            sqs = boto3.client("sqs", region_name="us-east-1")
            events.create_event_bus(Name="voxflow-bus")
            tap = sqs.create_queue(QueueName="tap")["QueueUrl"]
            arn = sqs.get_queue_attributes(QueueUrl=tap, AttributeNames=["QueueArn"])
            events.put_rule(
                Name="tap", EventBusName="voxflow-bus", EventPattern='{"source": ["voxflow"]}'
            )
            events.put_targets(
                Rule="tap",
                EventBusName="voxflow-bus",
                Targets=[{"Id": "t", "Arn": arn["Attributes"]["QueueArn"]}],
            )
            yield events, sqs, tap


def failed(request_id: str = "r-1") -> SynthesisFailed:
    return SynthesisFailed(
        request_id=request_id,
        code="INTERNAL",
        message="m",
        tenant="acme",
        metadata={"secret": "do-not-log-me"},
        retryable=False,
    )


def drain(sqs: Any, url: str) -> list[dict[str, Any]]:
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(message["Body"]) for message in messages]


def test_a_deleted_queue_or_missing_bus_is_logged_and_counted_not_raised(
    aws: tuple[Any, Any, str], caplog: pytest.LogCaptureFixture
) -> None:
    events, sqs, tap = aws
    gone = sqs.create_queue(QueueName="voxflow-replies-gone")["QueueUrl"]
    sqs.delete_queue(QueueUrl=gone)
    meter = CountingMeter()
    publisher = EventPublisher(events, sqs, "voxflow-bus", meter=meter)
    with caplog.at_level(logging.WARNING, logger="voxflow.pipeline.publisher"):
        publisher.publish(failed(), ReplyTo(queue_url=gone, event_bus="voxflow-replies-none"))
    # The service's bus has the event, once; the two targets failed once each.
    assert [event["detail"]["request_id"] for event in drain(sqs, tap)] == ["r-1"]
    assert meter.counts == {"ReplyDeliveryFailed": 2}
    assert "AWS.SimpleQueueService.NonExistentQueue" in caplog.text
    assert gone in caplog.text
    assert "ResourceNotFoundException" in caplog.text
    assert "voxflow-replies-none" in caplog.text
    assert "do-not-log-me" not in caplog.text


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (
            ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "SendMessage"),
            "AccessDenied",
        ),
        (
            EndpointConnectionError(endpoint_url="https://sqs.us-east-1.amazonaws.com"),
            "EndpointConnectionError",
        ),
    ],
    ids=["AccessDenied", "no connection"],
)
def test_a_refusing_or_unreachable_target_is_not_raised(
    aws: tuple[Any, Any, str], error: Exception, code: str, caplog: pytest.LogCaptureFixture
) -> None:
    events, sqs, tap = aws
    meter = CountingMeter()
    # The service's own bus works; every call to the reply targets fails.
    publisher = EventPublisher(events, Refusing(sqs, error), "voxflow-bus", meter=meter)
    target = ReplyTo(queue_url=f"{EAST}/voxflow-replies-x")
    with caplog.at_level(logging.WARNING, logger="voxflow.pipeline.publisher"):
        publisher.publish(failed(), target)
        publisher.deliver(failed(), target)
    assert len(drain(sqs, tap)) == 1
    assert meter.counts == {"ReplyDeliveryFailed": 2}
    assert caplog.text.count(f"voxflow-replies-x: {code}") == 2


def test_a_failed_entry_on_a_reply_bus_is_counted(aws: tuple[Any, Any, str]) -> None:
    events, sqs, _ = aws

    class FailingEntries:
        def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:  # noqa: N803
            if Entries[0]["EventBusName"] == "voxflow-bus":
                return dict(events.put_events(Entries=Entries))
            return {"FailedEntryCount": 1, "Entries": [{"ErrorCode": "ThrottlingException"}]}

    meter = CountingMeter()
    publisher = EventPublisher(FailingEntries(), sqs, "voxflow-bus", meter=meter)
    publisher.publish(failed(), ReplyTo(event_bus="voxflow-replies-b"))
    assert meter.counts == {"ReplyDeliveryFailed": 1}


def test_the_service_bus_failing_still_raises_before_any_reply(aws: tuple[Any, Any, str]) -> None:
    events, sqs, _ = aws
    reply = sqs.create_queue(QueueName="voxflow-replies-r")["QueueUrl"]
    publisher = EventPublisher(events, sqs, "no-such-service-bus", meter=CountingMeter())
    with pytest.raises(ClientError):
        publisher.publish(failed(), ReplyTo(queue_url=reply))
    assert drain(sqs, reply) == []  # a retry will send it

    class FailedEntry:
        def put_events(self, **_: Any) -> dict[str, Any]:
            return {"FailedEntryCount": 1, "Entries": [{"ErrorCode": "InternalFailure"}]}

    with pytest.raises(PublishFailed):
        EventPublisher(FailedEntry(), sqs, "voxflow-bus").publish(failed(), ReplyTo())


def test_deliver_sends_to_the_reply_target_only(aws: tuple[Any, Any, str]) -> None:
    events, sqs, tap = aws
    events.create_event_bus(Name="voxflow-replies-b")
    reply = sqs.create_queue(QueueName="voxflow-replies-r")["QueueUrl"]
    meter = CountingMeter()
    publisher = EventPublisher(events, sqs, "voxflow-bus", meter=meter)
    publisher.deliver(failed("r-9"), ReplyTo(queue_url=reply, event_bus="voxflow-replies-b"))
    (envelope,) = drain(sqs, reply)
    assert (envelope["detail-type"], envelope["detail"]["request_id"]) == ("SynthesisFailed", "r-9")
    assert drain(sqs, tap) == []  # not on the service's bus
    assert meter.counts == {}


def test_two_regions_deliver_to_the_reply_bus_of_the_same_name_here() -> None:
    """As reply queues are: the request may have named the other region's bus."""

    class Recording:
        meta = boto3.client("sqs", region_name="us-east-1").meta

        def __init__(self) -> None:
            self.buses: list[str] = []

        def put_events(self, Entries: list[dict[str, str]]) -> dict[str, Any]:  # noqa: N803
            self.buses.append(Entries[0]["EventBusName"])
            return {"FailedEntryCount": 0, "Entries": [{"EventId": "e"}]}

    events = Recording()
    regional = EventPublisher(events, None, "voxflow-bus", replies=ReplyQueues(events, "us-east-1"))
    west = "arn:aws:events:us-west-2:123456789012:event-bus/voxflow-replies-b"
    east = "arn:aws:events:us-east-1:123456789012:event-bus/voxflow-replies-b"
    regional.deliver(failed(), ReplyTo(event_bus=west))
    regional.deliver(failed(), ReplyTo(event_bus=east))
    assert events.buses == ["voxflow-replies-b", east]
