"""A queue that sees every event the service puts on its bus, as a subscriber would."""

import json
import time
from typing import Any

from voxflow_local.stack import LocalStack


def tap_bus(stack: LocalStack, bus: str, queue_name: str) -> str:
    """The URL of a new queue that a rule on ``bus`` feeds with every voxflow event."""
    sqs, events = stack.client("sqs"), stack.client("events")
    url = sqs.create_queue(QueueName=queue_name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    events.put_rule(Name="tap", EventBusName=bus, EventPattern=json.dumps({"source": ["voxflow"]}))
    events.put_targets(
        Rule="tap", EventBusName=bus, Targets=[{"Id": "tap", "Arn": arn["QueueArn"]}]
    )
    return str(url)


TERMINAL = ("SynthesisCompleted", "SynthesisFailed")


def tapped(
    stack: LocalStack,
    tap_url: str,
    request_id: str,
    wait_s: float,
    *,
    until_terminal: bool = False,
) -> list[dict[str, Any]]:
    """Every bus event for ``request_id`` seen within ``wait_s`` seconds (or, with
    ``until_terminal``, until its terminal event)."""
    sqs = stack.client("sqs")
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        for message in sqs.receive_message(
            QueueUrl=tap_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
        ).get("Messages", []):
            event = json.loads(message["Body"])
            if event["detail"].get("request_id") == request_id:
                seen.append(event)
            sqs.delete_message(QueueUrl=tap_url, ReceiptHandle=message["ReceiptHandle"])
        if until_terminal and any(event["detail-type"] in TERMINAL for event in seen):
            break
    return seen
