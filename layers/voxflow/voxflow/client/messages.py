"""Building requests and reading replies: shared by the sync and async clients."""

import json
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from voxflow.events import (
    ChunkSynthesized,
    ReplyTo,
    SynthesisCompleted,
    SynthesisFailed,
    SynthesisRequested,
    to_event_entry,
)

Terminal = SynthesisCompleted | SynthesisFailed


@dataclass
class Outcome:
    """A request's terminal event and the chunk events that came before it."""

    request_id: str
    terminal: Terminal | None = None
    chunks: list[ChunkSynthesized] = field(default_factory=list)
    # time.monotonic() when each chunk event and the terminal event arrived.
    chunk_arrivals: list[float] = field(default_factory=list)
    terminal_arrival: float | None = None
    # Across regions (GlobalVoxflowClient): who answered first, and every terminal event
    # that came (more than one means both regions finished the request).
    region: str | None = None
    terminal_regions: list[str] = field(default_factory=list)
    terminal_at: float | None = None  # time.time() of the first terminal event

    @property
    def completed(self) -> SynthesisCompleted | None:
        return self.terminal if isinstance(self.terminal, SynthesisCompleted) else None


def request_entry(
    bus_name: str, reply_queue_url: str | None, **fields: Any
) -> tuple[SynthesisRequested, dict[str, Any]]:
    if reply_queue_url:
        fields["reply_to"] = ReplyTo(queue_url=reply_queue_url)
    # The publish time travels with the request, however it reaches a region (a direct
    # send has no event time): a late copy is checked against the other region first.
    fields.setdefault("requested_at", datetime.now(UTC))
    request = SynthesisRequested.model_validate(fields)
    # The source names the tenant (voxflow.client for the default one): IAM may hold
    # a publisher to it, and plan checks the request's tenant against it.
    return request, to_event_entry(request, bus_name)


def delete_entries(messages: list[dict[str, Any]]) -> list[dict[str, str]]:
    """DeleteMessageBatch entries for received messages (at most 10, as received)."""
    return [{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(messages)]


class SeenMessages:
    """The SQS message ids of replies already read from one queue.

    SQS delivers a message at least once: one whose delete failed, or came after its
    visibility timeout (a slow or loaded client), is received again. Its message id says
    it is the same reply, not a second answer; a bounded memory is enough, as a message
    comes back within its queue's retention, long after a client would still wait.
    """

    def __init__(self, remember: int = 10_000) -> None:
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._remember = remember

    def first_time(self, message: dict[str, Any]) -> bool:
        message_id = message.get("MessageId")
        if message_id is None:
            return True
        if message_id in self._ids:
            return False
        self._ids[message_id] = None
        if len(self._ids) > self._remember:
            self._ids.popitem(last=False)
        return True


def fresh_replies(
    messages: list[dict[str, Any]], seen: SeenMessages
) -> list[ChunkSynthesized | Terminal]:
    """The replies in received ``messages`` that were not read before."""
    replies = []
    for message in messages:
        if not seen.first_time(message):
            continue
        reply = parse_reply(message["Body"])
        if reply is not None:
            replies.append(reply)
    return replies


def parse_reply(body: str) -> ChunkSynthesized | Terminal | None:
    envelope = json.loads(body)
    detail = envelope.get("detail", {})
    kind = envelope.get("detail-type")
    if kind == "SynthesisCompleted":
        return SynthesisCompleted.model_validate(detail)
    if kind == "SynthesisFailed":
        return SynthesisFailed.model_validate(detail)
    if kind == "ChunkSynthesized":
        return ChunkSynthesized.model_validate(detail)
    return None


def record_reply(
    outcomes: dict[str, Outcome], reply: ChunkSynthesized | Terminal, region: str | None = None
) -> None:
    outcome = outcomes.get(reply.request_id)
    if outcome is None:
        return  # a reply for a request this client is not waiting on
    if isinstance(reply, ChunkSynthesized):
        outcome.chunks.append(reply)
        outcome.chunk_arrivals.append(time.monotonic())
        return
    if region is not None:
        outcome.terminal_regions.append(region)
    if outcome.terminal is None:
        outcome.terminal = reply
        outcome.terminal_arrival = time.monotonic()
        outcome.terminal_at = time.time()
        outcome.region = region


class ReplyBook:
    """Outcomes by request id, across waits.

    A reply queue is read and emptied by whichever wait runs: a reply for a request
    that wait does not ask for (one whose own wait timed out, or one not waited on
    yet) is kept here for the wait that does, never dropped.
    """

    def __init__(self) -> None:
        self._unclaimed: dict[str, Outcome] = {}

    def claim(self, request_ids: list[str]) -> dict[str, Outcome]:
        """The outcomes a wait watches, with whatever came for them already."""
        return {
            request_id: (
                self._unclaimed.pop(request_id)
                if request_id in self._unclaimed
                else Outcome(request_id)
            )
            for request_id in request_ids
        }

    def record(self, outcomes: dict[str, Outcome], reply: ChunkSynthesized | Terminal) -> None:
        target = outcomes if reply.request_id in outcomes else self._unclaimed
        target.setdefault(reply.request_id, Outcome(reply.request_id))
        record_reply(target, reply)

    def release(self, outcomes: dict[str, Outcome]) -> None:
        """A wait gave up: keep what it gathered for the next one."""
        self._unclaimed.update(outcomes)
