"""The local stack's backlog runners wait for new work (voxflow_local.priority): the gate
reads the foreground queues' messages waiting or in flight from the local moto, and a
poller it defers takes nothing until they are gone."""

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from voxflow_local._clients import _client
from voxflow_local.model import LocalFunction, SqsEventSource
from voxflow_local.moto_server import MotoServer
from voxflow_local.poller import SqsPoller
from voxflow_local.priority import ForegroundGate, foreground_queue_names

pytestmark = pytest.mark.integration  # starts moto servers

REGION = "us-east-1"


@pytest.fixture(scope="module")
def moto() -> Iterator[MotoServer]:
    with MotoServer(None, REGION) as server:
        yield server


def _queue(sqs: Any, name: str) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    return url, arn["Attributes"]["QueueArn"]


def test_the_gate_is_busy_while_new_work_waits_or_is_in_flight(moto: MotoServer) -> None:
    sqs = _client("sqs", moto.url, REGION)
    url, _ = _queue(sqs, "requests-gate")
    gate = ForegroundGate(moto.url, REGION, ["requests-gate", "no-such-queue"], quiet_s=0)
    assert not gate.busy()
    sqs.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=30)
    assert not gate.busy()  # a delayed message is nobody's work yet
    sqs.send_message(QueueUrl=url, MessageBody="new")
    assert gate.busy()
    taken = sqs.receive_message(QueueUrl=url, VisibilityTimeout=30)["Messages"][0]
    assert gate.busy()  # in flight: a runner is working on it
    sqs.delete_message(QueueUrl=url, ReceiptHandle=taken["ReceiptHandle"])
    assert not gate.busy()


def test_the_gate_stays_busy_until_new_work_has_been_gone_a_while(moto: MotoServer) -> None:
    sqs = _client("sqs", moto.url, REGION)
    url, _ = _queue(sqs, "requests-quiet")
    now = [100.0]
    gate = ForegroundGate(moto.url, REGION, ["requests-quiet"], quiet_s=1.0, clock=lambda: now[0])
    assert not gate.busy()  # never busy yet: nothing to wait out
    sqs.send_message(QueueUrl=url, MessageBody="new")
    assert gate.busy()
    taken = sqs.receive_message(QueueUrl=url)["Messages"][0]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=taken["ReceiptHandle"])
    now[0] += 0.5
    assert gate.busy()  # gone half a second: the next request may be on its way
    now[0] += 0.6
    assert not gate.busy()


def test_a_gate_whose_moto_does_not_answer_defers_nothing() -> None:
    assert not ForegroundGate("http://127.0.0.1:9", REGION, ["requests"]).busy()


def test_a_deferred_poller_takes_its_batch_only_once_new_work_is_done(
    moto: MotoServer,
) -> None:
    sqs = _client("sqs", moto.url, REGION)
    new_url, _ = _queue(sqs, "requests-poll")
    backlog_url, backlog_arn = _queue(sqs, "standby-poll")
    sqs.send_message(QueueUrl=new_url, MessageBody="new request")
    sqs.send_message(QueueUrl=backlog_url, MessageBody="takeover")
    gate = ForegroundGate(moto.url, REGION, ["requests-poll"], quiet_s=0)
    seen: list[str] = []

    def invoke(event: dict[str, Any]) -> None:
        seen.extend(record["body"] for record in event["Records"])

    source = SqsEventSource("Standby", "StandbyQueue", backlog_url, backlog_arn)
    poller = SqsPoller(source, invoke, sqs, REGION, defer=gate.busy, defer_recheck_s=0.05)
    started = time.monotonic()
    assert poller.poll_once() is None
    assert seen == []
    assert time.monotonic() - started >= 0.05
    waiting = sqs.get_queue_attributes(QueueUrl=backlog_url, AttributeNames=["All"])
    assert waiting["Attributes"]["ApproximateNumberOfMessages"] == "1"  # not even received
    taken = sqs.receive_message(QueueUrl=new_url)["Messages"][0]
    sqs.delete_message(QueueUrl=new_url, ReceiptHandle=taken["ReceiptHandle"])
    outcome = poller.poll_once()
    assert outcome is not None
    assert outcome.succeeded == 1
    assert seen == ["takeover"]


def test_the_foreground_is_every_queue_a_runner_polls_but_the_backlog_s() -> None:
    def source(queue: str) -> SqsEventSource:
        url = f"http://127.0.0.1:5000/123456789012/voxflow-{queue}-X1"
        return SqsEventSource(f"{queue}Mapping", queue, url, f"arn:aws:sqs:::{queue}")

    def function(name: str, *queues: str) -> LocalFunction:
        return LocalFunction(
            name,
            name,
            f"arn:{name}",
            Path("."),
            "app.handler",
            "python3.12",
            30,
            1024,
            event_sources=tuple(source(q) for q in queues),
        )

    functions = (
        function("Plan", "RequestsQueue", "StandbyQueue"),
        function("Synthesize", "ChunksQueue", "LongChunksQueue", "RecoveryChunksQueue"),
    )
    assert foreground_queue_names(functions) == (
        "voxflow-ChunksQueue-X1",
        "voxflow-LongChunksQueue-X1",
        "voxflow-RequestsQueue-X1",
    )
