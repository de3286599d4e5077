"""Standby: a request another region works on is sent again, later, to this region's queue.

The original message then succeeds: a redelivery would count towards the queue's
maxReceiveCount and end in the DLQ. The first time this region saw the request
travels with it, so VOXFLOW_STANDBY_MAX_S can end the wait.
"""

from collections.abc import Mapping
from typing import Any

FIRST_SEEN_ATTRIBUTE = "voxflow-first-seen"  # epoch seconds, an SQS Number attribute


class StandbyQueue:
    def __init__(self, sqs: Any, queue_url: str, delay_s: int) -> None:
        self._sqs = sqs
        self.queue_url = queue_url
        self.delay_s = delay_s

    def send_again(self, body: str, first_seen: float) -> None:
        self._sqs.send_message(
            QueueUrl=self.queue_url,
            MessageBody=body,
            DelaySeconds=self.delay_s,
            MessageAttributes={
                FIRST_SEEN_ATTRIBUTE: {"DataType": "Number", "StringValue": f"{first_seen:.3f}"}
            },
        )


def first_seen_of(message_attributes: Mapping[str, Any]) -> float | None:
    """The first-seen time from a Lambda SQS record's ``messageAttributes`` (None: never seen)."""
    attribute = message_attributes.get(FIRST_SEEN_ATTRIBUTE)
    if not isinstance(attribute, Mapping):
        return None
    value = attribute.get("stringValue", attribute.get("StringValue"))
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
