"""Lambda's SQS event source mapping, for one function, in one process.

What it does is what Lambda documents for standard queues: long-poll, gather up
to BatchSize messages or until MaximumBatchingWindowInSeconds passes, invoke
with the ``{"Records": [...]}`` event Lambda sends, then delete what succeeded.
Failed messages are left alone, so they come back when their visibility timeout
expires and moto moves them to the dead-letter queue after maxReceiveCount
receives (moto implements the RedrivePolicy on receive; a test checks it).
``retry_visibility_s`` shortens that wait for tests; Lambda has no such knob.

``defer``: True while the poller should take no batch (the local stack's backlog
runners wait for new work to drain: voxflow_local.priority); checked again
``defer_recheck_s`` later.

``settle_behind``: the deletes (and visibility changes) of a batch go on a thread of
their own while the next receive waits, one batch at a time: Lambda's many pollers
do not hold a message back for another invocation's deletes, and a runner's one
poller did, by a round of calls per batch (issue 17's event-path hit).
"""

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from voxflow.aws.sqs_batch import batch_item_failures, lambda_event
from voxflow_local.model import SqsEventSource

# batch_item_failures and lambda_event are re-exported: they lived here before the
# container worker (voxflow.worker) came to share them.
__all__ = ["BatchOutcome", "SqsPoller", "batch_item_failures", "lambda_event"]
logger = logging.getLogger(__name__)

Invoke = Callable[[dict[str, Any]], Any]  # the event → the handler's return value
_SQS_BATCH_LIMIT = 10  # ReceiveMessage, DeleteMessageBatch, ChangeMessageVisibilityBatch


@dataclass(frozen=True)
class BatchOutcome:
    received: int
    failed: int
    error: str | None = None  # why the whole batch failed, if it did

    @property
    def succeeded(self) -> int:
        return self.received - self.failed


class SqsPoller:
    def __init__(
        self,
        source: SqsEventSource,
        invoke: Invoke,
        sqs: Any,
        region: str,
        *,
        retry_visibility_s: int | None = None,
        wait_time_s: int = 1,
        settle_behind: bool = False,
        defer: Callable[[], bool] | None = None,
        defer_recheck_s: float = 0.2,
    ) -> None:
        self.source = source
        self.invoke = invoke
        self.sqs = sqs
        self.region = region
        self.retry_visibility_s = retry_visibility_s
        self.wait_time_s = wait_time_s
        self._settler = ThreadPoolExecutor(1, "sqs-settle") if settle_behind else None
        self._settling: Future[None] | None = None
        self.defer = defer
        self.defer_recheck_s = defer_recheck_s

    def run(self, stopping: Callable[[], bool]) -> None:
        """Polls until ``stopping()``; a batch already received is always finished."""
        while not stopping():
            try:
                self.poll_once(stopping)
            except Exception:  # moto restarting, say: keep polling, as Lambda's pollers do
                logger.exception("%s: polling failed", self.source.logical_id)
                time.sleep(1)
        self._settled()
        if self._settler is not None:
            self._settler.shutdown()

    def poll_once(self, stopping: Callable[[], bool] = lambda: False) -> BatchOutcome | None:
        if self.defer is not None and self.defer():
            time.sleep(self.defer_recheck_s)
            return None
        messages = self.receive_batch(stopping)
        if not messages:
            return None
        outcome = self.process(messages)
        logger.info(
            "%s: batch of %d, %d failed%s",
            self.source.logical_id,
            outcome.received,
            outcome.failed,
            f" ({outcome.error})" if outcome.error else "",
        )
        return outcome

    def receive_batch(self, stopping: Callable[[], bool] = lambda: False) -> list[dict[str, Any]]:
        wanted = self.source.batch_size
        messages = self._receive(wanted, self.wait_time_s)
        if not messages:
            return messages
        # The batching window starts with the first message, as on Lambda.
        deadline = time.monotonic() + self.source.maximum_batching_window_s
        while len(messages) < wanted and not stopping():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            more = self._receive(wanted - len(messages), min(self.wait_time_s, int(remaining)))
            if not more and remaining < 1:
                time.sleep(min(remaining, 0.1))  # a short poll came back empty: do not spin
            messages.extend(more)
        return messages

    def _receive(self, count: int, wait_time_s: int) -> list[dict[str, Any]]:
        response = self.sqs.receive_message(
            QueueUrl=self.source.queue_url,
            MaxNumberOfMessages=min(count, _SQS_BATCH_LIMIT),
            WaitTimeSeconds=wait_time_s,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages: list[dict[str, Any]] = response.get("Messages", [])
        return messages

    def process(self, messages: Sequence[dict[str, Any]]) -> BatchOutcome:
        event = lambda_event(messages, self.source.queue_arn, self.region)
        try:
            result = self.invoke(event)
        except Exception as error:  # the handler's failure is the batch's, like on Lambda
            failed_ids = {message["MessageId"] for message in messages}
            error_text: str | None = f"{type(error).__name__}: {error}"
        else:
            failed_ids, error_text = self._failed_ids(result, messages)
        self._settled()
        if self._settler is None:
            self._settle(messages, failed_ids)
        else:
            self._settling = self._settler.submit(self._settle, messages, failed_ids)
        return BatchOutcome(len(messages), len(failed_ids), error_text)

    def _settled(self) -> None:
        """Wait for the batch before's settling (its failure is logged, as a failed
        poll is: the messages come back when their visibility timeout expires)."""
        settling, self._settling = self._settling, None
        if settling is None:
            return
        try:
            settling.result()
        except Exception:
            logger.exception("%s: settling a batch failed", self.source.logical_id)

    def _failed_ids(
        self, result: Any, messages: Sequence[dict[str, Any]]
    ) -> tuple[set[str], str | None]:
        if not self.source.reports_batch_item_failures:
            return set(), None  # the return value means nothing without ReportBatchItemFailures
        everything = {message["MessageId"] for message in messages}
        failed = batch_item_failures(result, everything)
        if failed is None:
            return everything, f"invalid batch item failures response: {result!r:.200}"
        return failed, None

    def _settle(self, messages: Sequence[dict[str, Any]], failed_ids: set[str]) -> None:
        succeeded = [m for m in messages if m["MessageId"] not in failed_ids]
        failed = [m for m in messages if m["MessageId"] in failed_ids]
        for chunk in _chunks(succeeded):
            response = self.sqs.delete_message_batch(
                QueueUrl=self.source.queue_url,
                Entries=[
                    {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(chunk)
                ],
            )
            for failure in response.get("Failed", []):
                logger.warning("%s: delete failed: %s", self.source.logical_id, failure)
        if self.retry_visibility_s is None:
            return  # Lambda's way: the message reappears when its visibility timeout expires
        for chunk in _chunks(failed):
            self.sqs.change_message_visibility_batch(
                QueueUrl=self.source.queue_url,
                Entries=[
                    {
                        "Id": str(n),
                        "ReceiptHandle": m["ReceiptHandle"],
                        "VisibilityTimeout": self.retry_visibility_s,
                    }
                    for n, m in enumerate(chunk)
                ],
            )


def _chunks(items: Sequence[dict[str, Any]]) -> Iterator[Sequence[dict[str, Any]]]:
    for start in range(0, len(items), _SQS_BATCH_LIMIT):
        yield items[start : start + _SQS_BATCH_LIMIT]
