"""The asyncio client over aioboto3: same contract as VoxflowClient."""

import asyncio
import uuid
from contextlib import AsyncExitStack
from typing import Any

from voxflow.aws import AwsSettings
from voxflow.aws.clients import async_session
from voxflow.client.endpoint import checked_endpoint_id, put_events_arguments
from voxflow.client.messages import (
    Outcome,
    ReplyBook,
    SeenMessages,
    delete_entries,
    fresh_replies,
    request_entry,
)
from voxflow.client.target import StackTarget
from voxflow.errors import VoxflowError


class AsyncVoxflowClient:
    """With ``endpoint_id``, requests go through the global endpoint (as VoxflowClient)."""

    def __init__(
        self, settings: AwsSettings, target: StackTarget, *, endpoint_id: str | None = None
    ) -> None:
        self.endpoint_id = checked_endpoint_id(endpoint_id)
        self.settings = settings
        self.target = target
        self._stack = AsyncExitStack()
        self._events: Any = None
        self._sqs: Any = None
        self._reply_queue_url: str | None = None
        self._replies = ReplyBook()
        self._seen = SeenMessages()

    async def __aenter__(self) -> "AsyncVoxflowClient":
        session = async_session(self.settings)
        endpoint = self.settings.endpoint_url
        self._events = await self._stack.enter_async_context(
            session.client("events", endpoint_url=endpoint)
        )
        self._sqs = await self._stack.enter_async_context(
            session.client("sqs", endpoint_url=endpoint)
        )
        name = f"voxflow-replies-{uuid.uuid4().hex[:16]}"
        self._reply_queue_url = (await self._sqs.create_queue(QueueName=name))["QueueUrl"]
        return self

    async def __aexit__(self, *_: object) -> None:
        if self._reply_queue_url is not None:
            await self._sqs.delete_queue(QueueUrl=self._reply_queue_url)
            self._reply_queue_url = None
        await self._stack.aclose()

    async def publish(self, text: str | None = None, **fields: Any) -> str:
        if text is not None:
            fields["text"] = text
        request, entry = request_entry(self.target.bus_name, self._reply_queue_url, **fields)
        response = await self._events.put_events(**put_events_arguments(entry, self.endpoint_id))
        if response.get("FailedEntryCount"):
            raise VoxflowError(f"put_events rejected the request: {response['Entries']}")
        return request.request_id

    async def wait(self, request_ids: list[str], timeout_s: float = 300.0) -> dict[str, Outcome]:
        outcomes = self._replies.claim(request_ids)
        try:
            async with asyncio.timeout(timeout_s):
                while any(outcome.terminal is None for outcome in outcomes.values()):
                    response = await self._sqs.receive_message(
                        QueueUrl=self._reply_queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
                    )
                    messages = response.get("Messages", [])
                    for reply in fresh_replies(messages, self._seen):
                        self._replies.record(outcomes, reply)
                    if messages:
                        await self._sqs.delete_message_batch(
                            QueueUrl=self._reply_queue_url, Entries=delete_entries(messages)
                        )
        except TimeoutError:
            self._replies.release(outcomes)  # what came so far, for the next wait
            raise
        return outcomes

    async def synthesize(self, text: str, timeout_s: float = 300.0, **fields: Any) -> Outcome:
        request_id = await self.publish(text, **fields)
        return (await self.wait([request_id], timeout_s))[request_id]
