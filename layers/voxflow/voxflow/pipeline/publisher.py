"""Result events: to the service's bus, and to the request's own reply target."""

import json
from typing import Any

from pydantic import BaseModel

from voxflow.errors import VoxflowError
from voxflow.events import SOURCE_SERVICE, ReplyTo, detail_type, to_event_entry


class PublishFailed(VoxflowError):
    code = "PUBLISH_FAILED"


class EventPublisher:
    def __init__(self, events: Any, sqs: Any, bus_name: str) -> None:
        self._events = events
        self._sqs = sqs
        self.bus_name = bus_name

    def publish(self, event: BaseModel, reply_to: ReplyTo | None = None) -> None:
        self._put(to_event_entry(event, self.bus_name, SOURCE_SERVICE))
        if reply_to is None:
            return
        if reply_to.event_bus:
            self._put(to_event_entry(event, reply_to.event_bus, SOURCE_SERVICE))
        if reply_to.queue_url:
            # The same envelope an EventBridge rule would deliver, so one parser reads both.
            body = {
                "source": SOURCE_SERVICE,
                "detail-type": detail_type(event),
                "detail": json.loads(event.model_dump_json()),
            }
            self._sqs.send_message(QueueUrl=reply_to.queue_url, MessageBody=json.dumps(body))

    def _put(self, entry: dict[str, Any]) -> None:
        response = self._events.put_events(Entries=[entry])
        if response.get("FailedEntryCount"):
            raise PublishFailed(f"put_events failed: {response['Entries']}")
