"""A request's own output object and topic (``reply_to.s3``, ``reply_to.sns_topic_arn``):
what Polly's synthesis tasks need from the terminal path (docs/api.md, "Synthesis tasks").

The object is copied from the service's bucket before the job completes, so a task that
reads ``completed`` has its object; a copy the bucket refuses fails the request
OUTPUT_WRITE_FAILED instead. The topic is told after the outcome is recorded, best
effort like every reply target (the job table keeps the outcome either way).
"""

import json
import logging
from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from voxflow.errors import VoxflowError
from voxflow.events import ReplyTo, S3Output, SynthesisCompleted, SynthesisFailed
from voxflow.pipeline.observe import Meter, NullMeter
from voxflow.store import CacheEntry

logger = logging.getLogger(__name__)


class OutputWriteFailed(VoxflowError):
    """The request's ``reply_to.s3`` object could not be written (the bucket refused or
    does not exist): its result is in the service's bucket only."""

    code = "OUTPUT_WRITE_FAILED"


def output_uri(region: str, output: S3Output) -> str:
    """Where Polly says a task's output is: the regional path-style S3 URL."""
    return f"https://s3.{region}.amazonaws.com/{output.bucket}/{output.key}"


class TaskOutputs:
    def __init__(
        self,
        s3: Any,
        sns: Callable[[], Any],
        source_bucket: str,
        region: str,
        meter: Meter | None = None,
    ) -> None:
        """``sns``: builds the SNS client when a topic is first told (cold starts of
        functions that never tell one do not pay for it)."""
        self._s3 = s3
        self._sns = sns
        self._source_bucket = source_bucket
        self.region = region
        self._meter = meter or NullMeter()

    def write(self, output: S3Output, audio: CacheEntry, marks: CacheEntry | None) -> None:
        """Copy the audio (or, with ``output.marks``, the marks) to ``output``; raises
        OutputWriteFailed with S3's error code, never the object's contents."""
        source = marks if output.marks else audio
        if source is None:
            raise OutputWriteFailed("the request has no speech marks to write")
        try:
            self._s3.copy_object(
                Bucket=output.bucket,
                Key=output.key,
                CopySource={"Bucket": self._source_bucket, "Key": source.s3_key},
                ContentType=source.content_type,
                MetadataDirective="REPLACE",
            )
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code") or "ClientError"
            raise OutputWriteFailed(
                f"the output could not be written to s3://{output.bucket}/{output.key}: {code}"
            ) from None

    def notify(self, reply_to: ReplyTo, event: SynthesisCompleted | SynthesisFailed) -> None:
        """Tell ``reply_to.sns_topic_arn`` the outcome, in the fields of Polly's task."""
        topic = reply_to.sns_topic_arn
        if topic is None:
            return
        message = notification(event, reply_to, self.region)
        try:
            self._sns().publish(TopicArn=topic, Message=json.dumps(message))
        except (ClientError, BotoCoreError) as error:
            code = (
                error.response.get("Error", {}).get("Code")
                if isinstance(error, ClientError)
                else type(error).__name__
            )
            logger.warning("task notification not sent to %s: %s", topic, code)
            self._meter.count("ReplyDeliveryFailed")


def notification(
    event: SynthesisCompleted | SynthesisFailed, reply_to: ReplyTo, region: str
) -> dict[str, Any]:
    """The SNS message: the task's fields as Polly's notifications name them."""
    message: dict[str, Any] = {
        "taskId": event.request_id,
        # A degraded completion carries the fallback clip, not the speech asked for.
        "taskStatus": "COMPLETED" if _spoken(event) else "FAILED",
        "snsTopicArn": reply_to.sns_topic_arn,
    }
    if reply_to.s3 is not None:
        message["outputUri"] = output_uri(region, reply_to.s3)
    if isinstance(event, SynthesisFailed):
        message["taskStatusReason"] = f"{event.code}: {event.message}"
    return message


def _spoken(event: SynthesisCompleted | SynthesisFailed) -> bool:
    return isinstance(event, SynthesisCompleted) and not event.degraded
