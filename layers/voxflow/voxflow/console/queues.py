"""The stack's queues and dead-letter queues as the console shows them: how many
messages wait, are in flight and are delayed, from SQS GetQueueAttributes.

The age of the oldest message is not among a queue's attributes (it is a CloudWatch
metric only): voxflow.console.metrics adds it to these rows. A queue that cannot be
read is shown with the error's code, never as empty.
"""

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

_COUNTS = {
    "ApproximateNumberOfMessages": "waiting",
    "ApproximateNumberOfMessagesNotVisible": "in_flight",
    "ApproximateNumberOfMessagesDelayed": "delayed",
}
DLQ_SUFFIX = "-dlq"  # a label ending so names a dead-letter queue


def parse_watched(raw: str) -> dict[str, str]:
    """``label=url`` pairs, comma-separated, in order; ValueError names a bad pair."""
    watched: dict[str, str] = {}
    for pair in (part.strip() for part in raw.split(",")):
        if not pair:
            continue
        label, sep, url = pair.partition("=")
        if not sep or not label.strip() or not url.strip().startswith(("https://", "http://")):
            raise ValueError(f"a watched queue is label=url, not {pair!r}")
        watched[label.strip()] = url.strip()
    return watched


@dataclass
class QueueDepths:
    sqs: Any  # a boto3 SQS client, injected
    queues: dict[str, str]  # label -> queue URL

    def read(self) -> list[dict[str, Any]]:
        return [self._one(label, url) for label, url in self.queues.items()]

    def _one(self, label: str, url: str) -> dict[str, Any]:
        queue: dict[str, Any] = {"queue": label, "dead_letter": label.endswith(DLQ_SUFFIX)}
        try:
            attributes = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=list(_COUNTS))[
                "Attributes"
            ]
        except ClientError as error:
            return {**queue, "error": error.response.get("Error", {}).get("Code", "error")}
        except BotoCoreError as error:
            return {**queue, "error": type(error).__name__}
        return {**queue, **{name: int(attributes.get(key, 0)) for key, name in _COUNTS.items()}}
