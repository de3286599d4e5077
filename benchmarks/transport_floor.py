"""The fewest hops any event-driven answer takes on the local stack, with no work done.

A request published to a bus reaches a queue through a rule; a relay long-polls that
queue and answers on the client's reply queue; the client long-polls the reply queue.
That is four AWS calls on the way (PutEvents, ReceiveMessage, SendMessage,
ReceiveMessage), against the same moto server the service uses. A cache hit takes
these plus the plan function's own calls, so no hit can be answered faster than this.

The resources are the benchmark's own (``voxflow-floor-*``) and are deleted after.
"""

import json
import threading
import time
import uuid
from typing import Any

from voxflow.aws import AwsClients

_PREFIX = "voxflow-floor"


class TransportFloor:
    def __init__(self, clients: AwsClients) -> None:
        self._events = clients.events
        self._sqs = clients.sqs
        suffix = uuid.uuid4().hex[:8]
        self.bus = f"{_PREFIX}-{suffix}"
        self.rule = f"{_PREFIX}-rule-{suffix}"
        self._stop = threading.Event()
        self._relay: threading.Thread | None = None
        self.inbox = ""
        self.replies = ""

    def __enter__(self) -> "TransportFloor":
        self._events.create_event_bus(Name=self.bus)
        self.inbox = self._sqs.create_queue(QueueName=f"{self.bus}-in")["QueueUrl"]
        self.replies = self._sqs.create_queue(QueueName=f"{self.bus}-out")["QueueUrl"]
        inbox_arn = self._sqs.get_queue_attributes(
            QueueUrl=self.inbox, AttributeNames=["QueueArn"]
        )["Attributes"]["QueueArn"]
        self._events.put_rule(
            Name=self.rule, EventBusName=self.bus, EventPattern=json.dumps({"source": ["floor"]})
        )
        self._events.put_targets(
            Rule=self.rule, EventBusName=self.bus, Targets=[{"Id": "inbox", "Arn": inbox_arn}]
        )
        self._relay = threading.Thread(target=self._run_relay, name="floor-relay", daemon=True)
        self._relay.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        if self._relay is not None:
            self._relay.join(timeout=5)
        self._events.remove_targets(Rule=self.rule, EventBusName=self.bus, Ids=["inbox"])
        self._events.delete_rule(Name=self.rule, EventBusName=self.bus)
        self._events.delete_event_bus(Name=self.bus)
        for queue in (self.inbox, self.replies):
            self._sqs.delete_queue(QueueUrl=queue)

    def _run_relay(self) -> None:
        while not self._stop.is_set():
            for message in self._receive(self.inbox):
                self._sqs.send_message(QueueUrl=self.replies, MessageBody=message["Body"])
                self._sqs.delete_message(
                    QueueUrl=self.inbox, ReceiptHandle=message["ReceiptHandle"]
                )

    def _receive(self, queue_url: str) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = self._sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
        ).get("Messages", [])
        return messages

    def round_trip_s(self) -> float:
        """Publish one event and wait for its answer; seconds."""
        marker = uuid.uuid4().hex
        started = time.monotonic()
        self._events.put_events(
            Entries=[
                {
                    "EventBusName": self.bus,
                    "Source": "floor",
                    "DetailType": "Floor",
                    "Detail": json.dumps({"marker": marker}),
                }
            ]
        )
        while True:
            for message in self._receive(self.replies):
                self._sqs.delete_message(
                    QueueUrl=self.replies, ReceiptHandle=message["ReceiptHandle"]
                )
                if json.loads(message["Body"]).get("detail", {}).get("marker") == marker:
                    return time.monotonic() - started
