"""Reply targets end to end: template.yaml deployed into moto server over HTTP, the real
handlers in runner processes, the real voice, and requests put with plain boto3, as a
careless or hostile app would.

The service's bus is the record: each request ends there exactly once, within seconds,
whatever its reply target does; a target the rules refuse gets nothing.
"""

import json
import time
import uuid
from typing import Any

import pytest
from bus_tap import TERMINAL
from conftest import StartStack

from voxflow.client import StackTarget
from voxflow_local.stack import LocalStack

pytestmark = pytest.mark.slow
# Every queue the stack dead-letters into; each must stay empty.
DLQS = ("RequestsDLQ", "RequestsRuleDLQ", "ChunksDLQ", "LongChunksDLQ")
TERMINAL_WAIT_S = 90  # the first request also waits for a runner to load the voice
SETTLE_S = 6  # after the terminal events: time for a duplicate or a dead letter to show


@pytest.fixture(scope="module")
def stack(local_stack: StartStack) -> LocalStack:
    # The queues' own visibility timeouts, as on AWS: a failed attempt is retried only
    # after 190 s (a request) or 730 s (a chunk task), long after the test's wait.
    return local_stack()


@pytest.fixture(scope="module")
def bus(stack: LocalStack) -> str:
    return StackTarget.from_resources(stack.stack.resources).bus_name


def publish(stack: LocalStack, bus: str, request_id: str, text: str, reply_to: Any) -> None:
    detail = {"request_id": request_id, "text": text, "format": "wav", "reply_to": reply_to}
    entry = {
        "Source": "voxflow.client",
        "DetailType": "SynthesisRequested",
        "Detail": json.dumps(detail),
        "EventBusName": bus,
    }
    response = stack.client("events").put_events(Entries=[entry])
    assert response["FailedEntryCount"] == 0, response


def bus_events(
    stack: LocalStack, bus_tap: str, request_ids: set[str]
) -> tuple[dict[str, list[Any]], float]:
    """Each request's events on the service's bus, read until all have a terminal event
    (at most TERMINAL_WAIT_S), then SETTLE_S more; and the seconds until the last
    terminal event came."""
    sqs = stack.client("sqs")
    seen: dict[str, list[Any]] = {request_id: [] for request_id in request_ids}
    started = time.monotonic()
    deadline = started + TERMINAL_WAIT_S
    settled: float | None = None
    terminal_s = float("inf")
    while time.monotonic() < (settled or deadline):
        for message in sqs.receive_message(
            QueueUrl=bus_tap, MaxNumberOfMessages=10, WaitTimeSeconds=1
        ).get("Messages", []):
            event = json.loads(message["Body"])
            if event["detail"].get("request_id") in seen:
                seen[event["detail"]["request_id"]].append(event)
            sqs.delete_message(QueueUrl=bus_tap, ReceiptHandle=message["ReceiptHandle"])
        done = all(any(e["detail-type"] in TERMINAL for e in found) for found in seen.values())
        if done and settled is None:
            terminal_s = time.monotonic() - started
            settled = time.monotonic() + SETTLE_S
    return seen, terminal_s


def terminals(events: list[Any]) -> list[Any]:
    return [event for event in events if event["detail-type"] in TERMINAL]


def queue_depth(stack: LocalStack, url: str) -> int:
    attributes = stack.client("sqs").get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return sum(int(value) for value in attributes.values())


def dead_letters(stack: LocalStack) -> dict[str, int]:
    depths = {dlq: queue_depth(stack, stack.stack.resources[dlq]) for dlq in DLQS}
    return {dlq: depth for dlq, depth in depths.items() if depth}


def test_a_valid_request_ends_once_on_the_bus_when_its_reply_target_is_gone(
    stack: LocalStack, bus: str, bus_tap: str
) -> None:
    """A client that closed (its queue deleted) or named a bus that does not exist:
    the request still completes at once, once, and nothing is retried or dead-lettered."""
    sqs = stack.client("sqs")
    tag = uuid.uuid4().hex[:8]
    gone = sqs.create_queue(QueueName=f"voxflow-replies-gone-{tag}")["QueueUrl"]
    sqs.delete_queue(QueueUrl=gone)
    requests = {
        f"gone-queue-{tag}": ("The reply queue is gone.", {"queue_url": gone}),
        f"no-bus-{tag}": ("No such reply bus.", {"event_bus": f"voxflow-replies-none-{tag}"}),
    }
    for request_id, (text, reply_to) in requests.items():
        publish(stack, bus, request_id, text, reply_to)
    seen, terminal_s = bus_events(stack, bus_tap, set(requests))
    for request_id, events in seen.items():
        assert [e["detail-type"] for e in terminals(events)] == ["SynthesisCompleted"], request_id
        # Its chunk events came too, though none reached the reply target.
        assert "ChunkSynthesized" in {e["detail-type"] for e in events}, request_id
    assert terminal_s < TERMINAL_WAIT_S  # without a retry, which would wait 730 s
    print(f"terminal events after {terminal_s:.1f} s")
    assert dead_letters(stack) == {}


def test_refused_targets_fail_invalid_request_on_the_service_bus_only(
    stack: LocalStack, bus: str, bus_tap: str
) -> None:
    """reply_to naming the stack's own ChunksQueue, its own bus, or a queue outside the
    prefix: one SynthesisFailed INVALID_REQUEST each on the bus, nothing at the target."""
    sqs = stack.client("sqs")
    tag = uuid.uuid4().hex[:8]
    chunks = stack.stack.resources["ChunksQueue"]
    outside = sqs.create_queue(QueueName=f"someone-elses-{tag}")["QueueUrl"]
    requests = {
        f"to-chunks-{tag}": {"queue_url": chunks},
        f"to-service-bus-{tag}": {"event_bus": bus},
        f"outside-prefix-{tag}": {"queue_url": outside},
    }
    for request_id, reply_to in requests.items():
        publish(stack, bus, request_id, "Where should this go?", reply_to)
    seen, terminal_s = bus_events(stack, bus_tap, set(requests))
    print(f"terminal events after {terminal_s:.1f} s")
    rules = {
        f"to-chunks-{tag}": "reply_to.queue_url: the service's own queues are not reply targets",
        f"to-service-bus-{tag}": "reply_to.event_bus: the service's own bus is not a reply target",
        f"outside-prefix-{tag}": (
            "reply_to.queue_url: the queue's name must start with 'voxflow-replies-'"
        ),
    }
    for request_id, events in seen.items():
        # Once: a copy sent to the service's bus as a reply target would show twice.
        (failed,) = terminals(events)
        assert failed["detail-type"] == "SynthesisFailed", request_id
        assert failed["detail"]["code"] == "INVALID_REQUEST"
        assert failed["detail"]["message"] == rules[request_id]
        assert [e["detail-type"] for e in events] == ["SynthesisFailed"]  # nothing planned
    assert sqs.receive_message(QueueUrl=outside, WaitTimeSeconds=1).get("Messages") is None
    # An envelope on ChunksQueue would be dead-lettered as a malformed chunk task.
    assert queue_depth(stack, chunks) == 0
    assert dead_letters(stack) == {}
