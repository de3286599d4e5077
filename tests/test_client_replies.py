"""Reading replies: SQS delivers a reply at least once, and a client counts it once.

A reply whose delete failed (or came after the visibility timeout, on a loaded client)
is received again; that is the same answer, not a second terminal event. The drill
counts a request's terminal events per region, so a redelivery read as a second answer
would report a double answer the service never sent.
"""

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from moto import mock_aws

from voxflow.aws import AwsClients, AwsSettings
from voxflow.client import GlobalTarget, GlobalVoxflowClient, RegionalStack, StackTarget
from voxflow.client.messages import SeenMessages, fresh_replies

PRIMARY, SECONDARY = "us-east-1", "us-west-2"


def reply_body(request_id: str) -> str:
    detail = {
        "request_id": request_id,
        "code": "INVALID_PARAMETER",
        "message": "no such voice",
        "retryable": False,
    }
    return json.dumps({"source": "voxflow", "detail-type": "SynthesisFailed", "detail": detail})


def test_a_message_received_again_is_not_a_second_reply() -> None:
    seen = SeenMessages()
    message = {"MessageId": "m-1", "Body": reply_body("r-1")}
    other = {"MessageId": "m-2", "Body": reply_body("r-1")}  # sent twice: two answers
    assert [r.request_id for r in fresh_replies([message], seen)] == ["r-1"]
    assert fresh_replies([message], seen) == []
    assert [r.request_id for r in fresh_replies([other, message], seen)] == ["r-1"]


def test_the_memory_of_message_ids_is_bounded() -> None:
    seen = SeenMessages(remember=2)
    for message_id in ("a", "b", "c"):
        assert seen.first_time({"MessageId": message_id})
    assert not seen.first_time({"MessageId": "c"})
    assert seen.first_time({"MessageId": "a"})  # forgotten: the oldest goes first


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws():
        yield


@pytest.mark.usefixtures("aws")
def test_a_reply_whose_delete_failed_is_counted_once() -> None:
    primary = AwsClients(AwsSettings(region=PRIMARY))
    secondary = AwsClients(AwsSettings(region=SECONDARY))
    target = GlobalTarget(
        RegionalStack(primary, StackTarget("bus", "jobs")),
        RegionalStack(secondary, StackTarget("bus", "jobs")),
        "voxflow-primary-health",
    )
    failed_deletes = 0
    timed_out = AwsClients(AwsSettings(region=PRIMARY)).sqs  # not the client's own

    def deletes_fail(params: dict[str, Any], **_: Any) -> None:
        # The delete comes too late (the client was slow): SQS no longer honours the
        # receipt handle, answers with a per-entry failure, not an error, and the message
        # is visible again (here at once, as if its visibility timeout had run out).
        nonlocal failed_deletes
        failed_deletes += 1
        for entry in params["Entries"]:
            timed_out.change_message_visibility(
                QueueUrl=params["QueueUrl"],
                ReceiptHandle=entry["ReceiptHandle"],
                VisibilityTimeout=0,
            )
            entry["ReceiptHandle"] = "expired-" + entry["ReceiptHandle"]

    with GlobalVoxflowClient(target, health_cache_s=0) as client:
        url = client._reply_urls[PRIMARY]
        sqs = primary.sqs
        sqs.meta.events.register("before-parameter-build.sqs.DeleteMessageBatch", deletes_fail)
        client.outcome("r-1")
        sqs.send_message(QueueUrl=url, MessageBody=reply_body("r-1"))
        outcome = client.wait(["r-1"], timeout_s=10)["r-1"]
        deadline = time.monotonic() + 2
        while failed_deletes < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
    assert failed_deletes >= 3  # the reply was received (and not deleted) again and again
    assert outcome.terminal is not None
    assert outcome.terminal_regions == [PRIMARY]
