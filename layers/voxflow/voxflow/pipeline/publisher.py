"""Result events: to the service's bus, and to the request's own reply target."""

import json
import re
import threading
from typing import Any
from urllib.parse import urlsplit

from botocore.exceptions import ClientError
from pydantic import BaseModel

from voxflow.errors import VoxflowError
from voxflow.events import SOURCE_SERVICE, ReplyTo, detail_type, to_event_entry

# sqs.REGION.amazonaws.com (and .com.cn), or the legacy REGION.queue.amazonaws.com
_AWS_QUEUE_HOST = re.compile(
    r"^(?:sqs\.([a-z0-9-]+)|([a-z0-9-]+)\.queue)\.amazonaws\.com(?:\.cn)?$"
)
_NO_SUCH_QUEUE = {"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"}


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
        parts = urlsplit(queue_url)
        path = parts.path.strip("/").split("/")
        if self._is_here(parts.netloc) or len(path) != 2:
            return queue_url
        account, name = path
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
        named = _AWS_QUEUE_HOST.match(host)
        if named:
            return (named.group(1) or named.group(2)) == self.region
        return host == self._own_host


class EventPublisher:
    def __init__(
        self, events: Any, sqs: Any, bus_name: str, *, replies: ReplyQueues | None = None
    ) -> None:
        """``replies``: resolve reply queues to this region's (two regions); None sends
        to the URL as given (standalone)."""
        self._events = events
        self._sqs = sqs
        self.bus_name = bus_name
        self.replies = replies

    def publish(self, event: BaseModel, reply_to: ReplyTo | None = None) -> None:
        self._put(to_event_entry(event, self.bus_name, SOURCE_SERVICE))
        if reply_to is not None:
            self.deliver(event, reply_to)

    def deliver(self, event: BaseModel, reply_to: ReplyTo) -> None:
        """Send ``event`` to a reply target only (the service's bus has it already)."""
        if reply_to.event_bus:
            self._put(to_event_entry(event, reply_to.event_bus, SOURCE_SERVICE))
        if reply_to.queue_url:
            queue_url = (
                self.replies.resolve(reply_to.queue_url) if self.replies else reply_to.queue_url
            )
            # The same envelope an EventBridge rule would deliver, so one parser reads both.
            body = {
                "source": SOURCE_SERVICE,
                "detail-type": detail_type(event),
                "detail": json.loads(event.model_dump_json()),
            }
            self._sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(body))

    def _put(self, entry: dict[str, Any]) -> None:
        response = self._events.put_events(Entries=[entry])
        if response.get("FailedEntryCount"):
            raise PublishFailed(f"put_events failed: {response['Entries']}")
