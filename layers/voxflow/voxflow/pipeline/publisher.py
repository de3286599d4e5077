"""Result events: to the service's bus, and to the request's own reply target.

The service's bus is the record: a failed put there raises, and the message is retried.
The reply target is a convenience of the client's, best effort: see ``deliver``.
"""

import json
import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel

from voxflow.errors import VoxflowError
from voxflow.events import SOURCE_SERVICE, ReplyTo, detail_type, to_event_entry
from voxflow.pipeline.observe import Meter, NullMeter
from voxflow.pipeline.reply_targets import aws_queue_region, queue_account_and_name, reply_bus_here

logger = logging.getLogger(__name__)
_NO_SUCH_QUEUE = {"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"}
ENTRIES_PER_CALL = 10  # PutEvents' and SendMessageBatch's limit


class PublishFailed(VoxflowError):
    code = "PUBLISH_FAILED"


class ReplyQueues:
    """Reply queues are regional: a reply goes to the queue with the same name and
    account in this region, whichever region's URL the request named.

    Resolved once per URL with GetQueueUrl; a URL that already names this region
    (or this client's own endpoint) is used as it is, without a call.
    """

    def __init__(self, sqs: Any, region: str) -> None:
        self._sqs = sqs
        self.region = region
        self._own_host = urlsplit(str(getattr(sqs.meta, "endpoint_url", "") or "")).netloc
        self._resolved: dict[str, str] = {}
        self._lock = threading.Lock()

    def resolve(self, queue_url: str) -> str:
        with self._lock:
            known = self._resolved.get(queue_url)
        if known is not None:
            return known
        named = queue_account_and_name(queue_url)
        if named is None or self._is_here(urlsplit(queue_url).netloc):
            return queue_url
        account, name = named
        try:
            resolved = str(
                self._sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") not in _NO_SUCH_QUEUE:
                raise
            # No such queue here: the named one is the best there is (not cached, so
            # a queue the client creates later is found).
            return queue_url
        with self._lock:
            self._resolved[queue_url] = resolved
        return resolved

    def _is_here(self, host: str) -> bool:
        region = aws_queue_region(host)
        return region == self.region if region else host == self._own_host


class EventPublisher:
    def __init__(
        self,
        events: Any,
        sqs: Any,
        bus_name: str,
        *,
        replies: ReplyQueues | None = None,
        meter: Meter | None = None,
    ) -> None:
        """``replies``: resolve reply targets to this region's (two regions); None sends
        to them as given (standalone). ``meter`` counts ReplyDeliveryFailed."""
        self._events = events
        self._sqs = sqs
        self.bus_name = bus_name
        self.replies = replies
        self._meter = meter or NullMeter()

    def publish(
        self,
        event: BaseModel,
        reply_to: ReplyTo | None = None,
        *,
        reply_first: bool = False,
        on_replied: Callable[[], None] | None = None,
    ) -> None:
        """To the service's bus (raises if that fails), then to ``reply_to``, best effort.

        ``reply_first``: the reply target first, then the bus, for progress events
        (ChunkSynthesized) whose sender waits on the reply: one call sooner. Not for
        terminal events: a bus failure retries the message, and a terminal reply sent
        before it would be sent again. ``on_replied``: called once the reply is sent
        first, before the bus put (work that should not delay the reply)."""
        if reply_first and reply_to is not None:
            self.deliver(event, reply_to)
            if on_replied is not None:
                on_replied()
        self._put_many([to_event_entry(event, self.bus_name, SOURCE_SERVICE)])
        if not reply_first and reply_to is not None:
            self.deliver(event, reply_to)

    def publish_many(self, events: Sequence[BaseModel], reply_to: ReplyTo | None = None) -> None:
        """Progress events together (plan's cached chunks): the reply target first, best
        effort, then the service's bus (raises if that fails), ten to a call, PutEvents'
        and SendMessageBatch's limit: a few calls where one each made a cached 32-chunk
        request cost ~100 (issue 17)."""
        for start in range(0, len(events), ENTRIES_PER_CALL):
            group = events[start : start + ENTRIES_PER_CALL]
            if reply_to is not None:
                self._deliver_many(group, reply_to)
            self._put_many(
                [to_event_entry(event, self.bus_name, SOURCE_SERVICE) for event in group]
            )

    def deliver(self, event: BaseModel, reply_to: ReplyTo) -> None:
        """Send ``event`` to the reply target only, not to the service's bus.

        Best effort, never raised, never retried: the service's bus has the event, and a
        target that is gone or refuses (a client that closed and deleted its queue, a bus
        that does not exist, IAM's AccessDenied) refuses a retry just the same, and the
        retries would hold back or repeat the request's events. Each failure is logged
        with its error code and target, never the event, and counted (ReplyDeliveryFailed).
        """
        self._deliver_many([event], reply_to)

    def _put_many(self, entries: list[dict[str, Any]]) -> None:
        response = self._events.put_events(Entries=entries)
        if response.get("FailedEntryCount"):
            raise PublishFailed(f"put_events failed: {response['Entries']}")

    def _deliver_many(self, events: Sequence[BaseModel], reply_to: ReplyTo) -> None:
        """``deliver`` for one to ten events: one call per target."""
        if reply_to.event_bus:
            bus = reply_to.event_bus
            if self.replies is not None:
                bus = reply_bus_here(bus, self.replies.region)
            self._best_effort("event bus", bus, lambda: self._put_replies(events, bus))
        if reply_to.queue_url:
            url = reply_to.queue_url
            self._best_effort("queue", url, lambda: self._send_replies(events, url))

    def _put_replies(self, events: Sequence[BaseModel], bus: str) -> str | None:
        entries = [to_event_entry(event, bus, SOURCE_SERVICE) for event in events]
        response = self._events.put_events(Entries=entries)
        if not response.get("FailedEntryCount"):
            return None
        failed = [entry for entry in response.get("Entries") or [] if entry.get("ErrorCode")]
        return str((failed or [{}])[0].get("ErrorCode") or "FailedEntry")

    def _send_replies(self, events: Sequence[BaseModel], queue_url: str) -> str | None:
        if self.replies is not None:
            queue_url = self.replies.resolve(queue_url)
        if len(events) == 1:
            self._sqs.send_message(
                QueueUrl=queue_url, MessageBody=json.dumps(_reply_body(events[0]))
            )
            return None
        response = self._sqs.send_message_batch(
            QueueUrl=queue_url,
            Entries=[
                {"Id": str(number), "MessageBody": json.dumps(_reply_body(event))}
                for number, event in enumerate(events)
            ],
        )
        failed = response.get("Failed") or []
        return str(failed[0].get("Code") or "BatchEntryFailed") if failed else None

    def _best_effort(self, kind: str, target: str, send: Callable[[], str | None]) -> None:
        """Runs ``send`` (which returns an error code, or None once delivered)."""
        try:
            code = send()
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code") or "ClientError")
        except BotoCoreError as error:  # no connection, a timeout, a bad parameter
            code = type(error).__name__
        if code is None:
            return
        # The target and the code only: an event's metadata is the client's own.
        logger.warning("reply not delivered to %s %s: %s", kind, target, code)
        self._meter.count("ReplyDeliveryFailed")


def _reply_body(event: BaseModel) -> dict[str, Any]:
    """The same envelope an EventBridge rule would deliver, so one parser reads both."""
    return {
        "source": SOURCE_SERVICE,
        "detail-type": detail_type(event),
        "detail": json.loads(event.model_dump_json()),
    }
