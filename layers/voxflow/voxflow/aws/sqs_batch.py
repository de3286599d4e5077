"""SQS batches as Lambda sees them: the event it sends and the partial-failure reply.

Shared by the local stack's event source mapping (voxflow_local.poller) and the
container worker (voxflow.worker), so a handler gets the same event from both.
"""

import base64
from collections.abc import Iterator, Sequence
from typing import Any

# The most entries ReceiveMessage, DeleteMessageBatch and ChangeMessageVisibilityBatch take.
SQS_BATCH_LIMIT = 10


def batch_item_failures(result: Any, message_ids: set[str]) -> set[str] | None:
    """The failed message ids of a ReportBatchItemFailures response; None if it is invalid.

    Lambda's rules: no response, an empty one or an empty/null list means complete
    success; a malformed response or an unknown/empty itemIdentifier means complete
    failure.
    """
    if result is None:
        return set()
    if not isinstance(result, dict):
        return None
    failures = result.get("batchItemFailures")
    if not failures:
        return set() if failures is None or isinstance(failures, list) else None
    if not isinstance(failures, list):
        return None
    failed = set()
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not isinstance(identifier, str) or identifier not in message_ids:
            return None
        failed.add(identifier)
    return failed


def lambda_event(messages: Sequence[dict[str, Any]], queue_arn: str, region: str) -> dict[str, Any]:
    """The event Lambda sends for a batch of SQS messages, field for field."""
    return {"Records": [_record(message, queue_arn, region) for message in messages]}


def in_batches(items: Sequence[dict[str, Any]]) -> Iterator[Sequence[dict[str, Any]]]:
    """``items`` in slices that one SQS batch call accepts."""
    for start in range(0, len(items), SQS_BATCH_LIMIT):
        yield items[start : start + SQS_BATCH_LIMIT]


def _record(message: dict[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    record: dict[str, Any] = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": dict(message.get("Attributes", {})),
        "messageAttributes": {
            name: _message_attribute(value)
            for name, value in message.get("MessageAttributes", {}).items()
        },
        "md5OfBody": message["MD5OfBody"],
    }
    if "MD5OfMessageAttributes" in message:
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    record.update(eventSource="aws:sqs", eventSourceARN=queue_arn, awsRegion=region)
    return record


def _message_attribute(value: dict[str, Any]) -> dict[str, Any]:
    # Lambda spells these in camelCase and sends binary values base64-encoded.
    converted: dict[str, Any] = {}
    if "StringValue" in value:
        converted["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        converted["binaryValue"] = _base64(value["BinaryValue"])
    converted["stringListValues"] = list(value.get("StringListValues", []))
    converted["binaryListValues"] = [_base64(v) for v in value.get("BinaryListValues", [])]
    converted["dataType"] = value["DataType"]
    return converted


def _base64(value: bytes | str) -> str:
    raw = value.encode() if isinstance(value, str) else value
    return base64.b64encode(raw).decode("ascii")
