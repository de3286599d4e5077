"""Building requests and reading replies: shared by the sync and async clients."""

import json
import time
from dataclasses import dataclass, field
from typing import Any

from voxflow.events import (
    SOURCE_CLIENT,
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
    request = SynthesisRequested.model_validate(fields)
    return request, to_event_entry(request, bus_name, SOURCE_CLIENT)


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
