"""Standby: a request another region works on is sent again, later, to this region's queue.

The original message then succeeds: a redelivery would count towards the queue's
maxReceiveCount and end in the DLQ. The first time this region saw the request
travels with it, so VOXFLOW_STANDBY_MAX_S can end the wait, and so that the wait
between looks grows with it: half the time waited so far, from VOXFLOW_STANDBY_RETRY_S
up to VOXFLOW_STANDBY_RETRY_MAX_S. Every look is a plan invocation and a few table
reads in the standby region; at a fixed period a long job costs a look every few
seconds for as long as it runs, and in the drill those looks took the secondary's
CPU from replication. A request that has waited long is taken over up to
VOXFLOW_STANDBY_RETRY_MAX_S after its owner is lost.
"""

import time
from collections.abc import Mapping
from typing import Any

FIRST_SEEN_ATTRIBUTE = "voxflow-first-seen"  # epoch seconds, an SQS Number attribute
_SQS_BATCH = 10


class StandbySendFailed(RuntimeError):
    """SQS refused some of a batch of standby copies: the originals are retried."""


def standby_delay_s(waited_s: float, retry_s: int, retry_max_s: int) -> int:
    """Seconds until a request that has waited ``waited_s`` is looked at again."""
    return max(retry_s, min(retry_max_s, int(waited_s / 2)))


class StandbyQueue:
    def __init__(
        self,
        sqs: Any,
        queue_url: str,
        delay_s: int,
        max_delay_s: int | None = None,
        clock: Any = time.time,
    ) -> None:
        self._sqs = sqs
        self.queue_url = queue_url
        self.delay_s = delay_s
        self.max_delay_s = delay_s if max_delay_s is None else max(delay_s, max_delay_s)
        self._clock = clock

    def send_again(self, body: str, first_seen: float, *, delay_s: int | None = None) -> None:
        """``delay_s``: this delay instead of the standby delay (0: plan had no time left
        for it in this invocation, voxflow.pipeline.standby_looks)."""
        self._sqs.send_message(QueueUrl=self.queue_url, **self._entry(body, first_seen, delay_s))

    def send_again_many(
        self, copies: list[tuple[str, float | None]], *, delay_s: int | None = None
    ) -> None:
        """``send_again`` for (body, first seen) pairs, ten to a call; a first seen of
        None sends a first delivery back as one (no attribute: it was never on standby)."""
        for start in range(0, len(copies), _SQS_BATCH):
            batch = copies[start : start + _SQS_BATCH]
            response = self._sqs.send_message_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(number), **self._entry(body, first_seen, delay_s)}
                    for number, (body, first_seen) in enumerate(batch)
                ],
            )
            if response.get("Failed"):
                raise StandbySendFailed(f"{len(response['Failed'])} standby copies not sent")

    def _entry(self, body: str, first_seen: float | None, delay_s: int | None) -> dict[str, Any]:
        if first_seen is None:
            return {"MessageBody": body, "DelaySeconds": delay_s or 0}
        waited = max(0.0, self._clock() - first_seen)
        delay = standby_delay_s(waited, self.delay_s, self.max_delay_s)
        return {
            "MessageBody": body,
            "DelaySeconds": delay if delay_s is None else delay_s,
            "MessageAttributes": {
                FIRST_SEEN_ATTRIBUTE: {"DataType": "Number", "StringValue": f"{first_seen:.3f}"}
            },
        }


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
