"""The blocking client: publish to the bus, wait on a private reply queue."""

import time
import uuid
from typing import Any

from voxflow.aws import AwsClients
from voxflow.client.endpoint import checked_endpoint_id, put_events_arguments
from voxflow.client.messages import (
    Outcome,
    ReplyBook,
    SeenMessages,
    delete_entries,
    fresh_replies,
    request_entry,
)
from voxflow.client.status import job_status
from voxflow.client.target import StackTarget
from voxflow.errors import VoxflowError


class WaitTimedOut(VoxflowError):
    code = "TIMEOUT"


class VoxflowClient:
    """Requests go to the service's bus; replies come to a queue this client owns.

    With ``endpoint_id`` (the stack's GlobalEndpointId output) requests go through the
    EventBridge global endpoint instead of this region's bus (voxflow.client.endpoint);
    replies still come to this client's queue in its own region (docs/regions.md).
    """

    def __init__(
        self, clients: AwsClients, target: StackTarget, *, endpoint_id: str | None = None
    ) -> None:
        self.endpoint_id = checked_endpoint_id(endpoint_id)
        self._clients = clients
        self.target = target
        self._reply_queue_url: str | None = None
        self._replies = ReplyBook()
        self._seen = SeenMessages()

    def __enter__(self) -> "VoxflowClient":
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    @property
    def reply_queue_url(self) -> str:
        if self._reply_queue_url is None:
            name = f"voxflow-replies-{uuid.uuid4().hex[:16]}"
            self._reply_queue_url = self._clients.sqs.create_queue(QueueName=name)["QueueUrl"]
        return self._reply_queue_url

    def publish(self, text: str | None = None, **fields: Any) -> str:
        """Publish one request (or a batch: ``items=[...]``); returns its request id."""
        if text is not None:
            fields["text"] = text
        request, entry = request_entry(self.target.bus_name, self.reply_queue_url, **fields)
        response = self._clients.events.put_events(**put_events_arguments(entry, self.endpoint_id))
        if response.get("FailedEntryCount"):
            raise VoxflowError(f"put_events rejected the request: {response['Entries']}")
        return request.request_id

    def wait(self, request_ids: list[str], timeout_s: float = 300.0) -> dict[str, Outcome]:
        outcomes = self._replies.claim(request_ids)
        deadline = time.monotonic() + timeout_s
        while any(outcome.terminal is None for outcome in outcomes.values()):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                pending = [r for r, o in outcomes.items() if o.terminal is None]
                self._replies.release(outcomes)
                raise WaitTimedOut(f"no terminal event within {timeout_s:.0f} s for {pending}")
            response = self._clients.sqs.receive_message(
                QueueUrl=self.reply_queue_url,
                MaxNumberOfMessages=10,
                WaitTimeSeconds=max(1, min(20, int(remaining))),
            )
            messages = response.get("Messages", [])
            for reply in fresh_replies(messages, self._seen):
                self._replies.record(outcomes, reply)
            if messages:
                self._clients.sqs.delete_message_batch(
                    QueueUrl=self.reply_queue_url, Entries=delete_entries(messages)
                )
        return outcomes

    def synthesize(self, text: str, timeout_s: float = 300.0, **fields: Any) -> Outcome:
        request_id = self.publish(text, **fields)
        return self.wait([request_id], timeout_s)[request_id]

    def status(self, request_id: str) -> dict[str, Any] | None:
        """The job record, for `voxflow status`."""
        return job_status(self._clients.dynamodb, self.target.jobs_table, request_id)

    def close(self) -> None:
        if self._reply_queue_url is not None:
            self._clients.sqs.delete_queue(QueueUrl=self._reply_queue_url)
            self._reply_queue_url = None
