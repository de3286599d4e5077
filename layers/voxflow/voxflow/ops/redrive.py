"""Dead letters back to where they came from.

RequestsDLQ, ChunksDLQ and LongChunksDLQ hold SQS messages their queue gave up on:
they go back to RequestsQueue, ChunksQueue and LongChunksQueue as they are. StandbyQueue
gives up to RequestsDLQ and RecoveryChunksQueue to LongChunksDLQ: a redriven standby
copy is looked at again as a first delivery, a redriven recovery task is long-lane work.
RequestsRuleDLQ holds EventBridge events the rule could not deliver: they are put on
the bus again, so the rule routes them once more. A message leaves its DLQ only
after its send succeeded.
"""

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from voxflow.errors import SettingsError

_BATCH = 10
# Long enough to send a batch and delete it; a message not deleted shows again after it.
_HOLD_S = 60


@dataclass(frozen=True)
class Route:
    """One DLQ and where its messages go: a queue, or (``to_bus``) an event bus."""

    name: str
    dlq: str  # logical ids in template.yaml
    target: str
    to_bus: bool = False


ROUTES = {
    route.name: route
    for route in (
        Route("requests", "RequestsDLQ", "RequestsQueue"),
        Route("chunks", "ChunksDLQ", "ChunksQueue"),
        Route("long-chunks", "LongChunksDLQ", "LongChunksQueue"),
        Route("rule", "RequestsRuleDLQ", "EventBus", to_bus=True),
    )
}


@dataclass
class RedriveCount:
    route: str
    waiting: int = 0  # in the DLQ before the move (approximate, as SQS counts)
    moved: int = 0
    failed: int = 0  # left in the DLQ: their send failed or they are not events


def resolve(route: Route, resources: Mapping[str, str]) -> tuple[str, str]:
    """The DLQ's URL and the target's URL or bus name, from logical → physical ids."""
    try:
        dlq, target = resources[route.dlq], resources[route.target]
    except KeyError as error:
        raise SettingsError(f"the stack has no {error.args[0]} resource") from None
    return dlq, target.rsplit("/", 1)[-1] if route.to_bus else target


def redrive(
    route: Route,
    resources: Mapping[str, str],
    sqs: Any,
    events: Any,
    *,
    max_messages: int | None = None,
    dry_run: bool = False,
) -> RedriveCount:
    """Move up to ``max_messages`` (all by default) from the route's DLQ to its target."""
    dlq, target = resolve(route, resources)
    attributes = sqs.get_queue_attributes(
        QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    count = RedriveCount(route.name, waiting=int(attributes["ApproximateNumberOfMessages"]))
    if dry_run:
        return count
    seen: set[str] = set()
    while max_messages is None or count.moved + count.failed < max_messages:
        wanted = (
            _BATCH
            if max_messages is None
            else min(_BATCH, max_messages - count.moved - count.failed)
        )
        messages = sqs.receive_message(
            QueueUrl=dlq,
            MaxNumberOfMessages=wanted,
            WaitTimeSeconds=1,
            VisibilityTimeout=_HOLD_S,
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        fresh = [message for message in messages if message["MessageId"] not in seen]
        # Ones that failed before stay in the DLQ, visible at once.
        _release(sqs, dlq, [message for message in messages if message not in fresh])
        if not fresh:
            break
        seen.update(message["MessageId"] for message in fresh)
        sent, failed = (
            _put_events(events, target, fresh) if route.to_bus else _send(sqs, target, fresh)
        )
        if sent:
            sqs.delete_message_batch(
                QueueUrl=dlq,
                Entries=[
                    {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(sent)
                ],
            )
        _release(sqs, dlq, failed)
        count.moved += len(sent)
        count.failed += len(failed)
    return count


Message = dict[str, Any]


def _send(sqs: Any, queue_url: str, messages: list[Message]) -> tuple[list[Message], list[Message]]:
    entries = []
    for number, message in enumerate(messages):
        entry: dict[str, Any] = {"Id": str(number), "MessageBody": message["Body"]}
        if message.get("MessageAttributes"):
            entry["MessageAttributes"] = {
                name: {k: v for k, v in value.items() if not k.endswith("ListValues")}
                for name, value in message["MessageAttributes"].items()
            }
        entries.append(entry)
    response = sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
    ok = {item["Id"] for item in response.get("Successful", [])}
    return _split(messages, ok)


def _put_events(
    events: Any, bus_name: str, messages: list[Message]
) -> tuple[list[Message], list[Message]]:
    entries: list[tuple[Message, dict[str, str]]] = []
    broken: list[Message] = []
    for message in messages:
        entry = _event_entry(message["Body"], bus_name)
        if entry is None:
            broken.append(message)
        else:
            entries.append((message, entry))
    if not entries:
        return [], broken
    response = events.put_events(Entries=[entry for _, entry in entries])
    results = response.get("Entries", [])
    sent = [
        message
        for number, (message, _) in enumerate(entries)
        if number < len(results) and "EventId" in results[number]
    ]
    return sent, broken + [message for message, _ in entries if message not in sent]


def _event_entry(body: str, bus_name: str) -> dict[str, str] | None:
    """The PutEvents entry that puts a dead-lettered event on the bus again."""
    try:
        event = json.loads(body)
    except ValueError:
        return None
    if not isinstance(event, dict) or not {"source", "detail-type", "detail"} <= set(event):
        return None
    return {
        "Source": str(event["source"]),
        "DetailType": str(event["detail-type"]),
        "Detail": json.dumps(event["detail"]),
        "EventBusName": bus_name,
    }


def _split(messages: list[Message], ok: set[str]) -> tuple[list[Message], list[Message]]:
    sent = [message for number, message in enumerate(messages) if str(number) in ok]
    return sent, [message for number, message in enumerate(messages) if str(number) not in ok]


def _release(sqs: Any, queue_url: str, messages: list[Message]) -> None:
    """Make messages that stay in the DLQ visible again at once."""
    if messages:
        sqs.change_message_visibility_batch(
            QueueUrl=queue_url,
            Entries=[
                {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
                for n, m in enumerate(messages)
            ],
        )
