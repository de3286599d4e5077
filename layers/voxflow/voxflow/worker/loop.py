"""Receive, gather, invoke, settle: Lambda's SQS event source mapping, in a container.

The handler gets the event Lambda would send (voxflow.aws.sqs_batch) and its
partial-batch reply decides what is deleted; failed messages are left alone, so
the queue's redrive policy still moves a poison message to the DLQ. While the
handler runs, a thread extends the visibility of the batch's messages, so a
long batch is not handed to another worker halfway through.

Lanes (docs/pipeline.md), strict priority: each gather asks ChunksQueue first and
takes from LongChunksQueue only when the short lane has nothing, so a short request
waits behind at most the one long batch in hand; and from RecoveryChunksQueue (work
resumed for jobs another region or worker left) only when both are empty. A batch holds one queue's
messages; they are deleted, extended and released on that queue.

Stopping: ``StopSignal.stop`` ends the loop after the batch in hand; messages
received but not handed to the handler are released (visibility 0) for another
worker. ``abort`` releases the batch being handled too: the handler is not
interrupted, so its finished chunks may be redelivered, which the pipeline
treats as duplicates (conditional writes in voxflow.store.jobs).
"""

import threading
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools import Logger

from voxflow.aws.sqs_batch import SQS_BATCH_LIMIT, batch_item_failures, in_batches, lambda_event
from voxflow.worker.settings import WorkerSettings

# A child of the service Logger python -m voxflow.worker sets up: its handler and schema.
logger = Logger(child=True)

Message = dict[str, Any]
Handler = Callable[[dict[str, Any], Any], Any]
# An idle receive waits this long: it bounds how late a stop is noticed.
POLL_WAIT_S = 2
# With two lanes, the long lane's receive is the one that waits, and briefly: a short
# task arriving meanwhile is received at most about this late.
LONG_LANE_WAIT_S = 1
# How often the main thread looks up from a running batch to check for an abort.
_ABORT_CHECK_S = 0.2
# Nothing kills a worker's batch at a deadline; handlers that budget by the
# context's remaining time get Lambda's longest timeout.
_BATCH_BUDGET_S = 900


class Aborted(Exception):
    """A second stop signal came while a batch was in hand; it has been released."""


@dataclass
class StopSignal:
    """Set from signal handlers: the first asks to stop, the second to abort."""

    stop: threading.Event = field(default_factory=threading.Event)
    abort: threading.Event = field(default_factory=threading.Event)
    also_stop_when: Callable[[], bool] = lambda: False  # e.g. the parent process died

    def request(self) -> None:
        if self.stop.is_set():
            self.abort.set()
        self.stop.set()

    @property
    def stopping(self) -> bool:
        if not self.stop.is_set() and self.also_stop_when():
            self.stop.set()
        return self.stop.is_set()


@dataclass
class WorkerContext:
    """The Lambda context attributes handlers and Powertools read."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int = 0
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = ""
    identity: Any = None
    client_context: Any = None
    _deadline: float = field(default=0.0, repr=False)

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + _BATCH_BUDGET_S

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass(frozen=True)
class Lane:
    name: str  # "short", "long" or "recovery", for the log
    queue_url: str
    queue_arn: str
    wait_s: int  # how long its first receive long-polls


@dataclass(frozen=True)
class Batch:
    """Messages received from one lane's queue."""

    lane: Lane
    messages: list[Message]

    def __len__(self) -> int:
        return len(self.messages)


@dataclass(frozen=True)
class BatchOutcome:
    received: int
    failed: int
    seconds: float
    error: str | None = None  # why the whole batch failed, if it did

    @property
    def succeeded(self) -> int:
        return self.received - self.failed


class BatchLoop:
    def __init__(
        self,
        sqs: Any,
        settings: WorkerSettings,
        handler: Handler,
        *,
        queue_arn: str,
        region: str,
        stop: StopSignal,
        new_context: Callable[[], Any],
        describe: Callable[[BatchOutcome], dict[str, Any]] = lambda _: {},
        long_queue_arn: str | None = None,
        recovery_queue_arn: str | None = None,
    ) -> None:
        self.sqs = sqs
        self.settings = settings
        self.handler = handler
        self.lanes = _lanes(settings, queue_arn, long_queue_arn, recovery_queue_arn)
        self.region = region
        self.stop = stop
        self.new_context = new_context
        self.describe = describe  # extra fields for the batch's log line (the provider)
        # One long-lived thread runs every batch, so the main thread stays free to
        # notice signals; the handler sees the same thread each time, as on Lambda.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="voxflow-handler")

    def run(self) -> None:
        """Handles batches until stopped; raises Aborted on a second signal mid-batch."""
        try:
            while not self.stop.stopping:
                try:
                    self._step()
                except Aborted:
                    raise
                except Exception as error:  # SQS unreachable, say: keep trying, as Lambda does
                    # What this batch held comes back when its visibility step expires.
                    logger.error(
                        "polling failed",
                        extra={"error_type": type(error).__name__, "error": str(error)},
                    )
                    self.stop.stop.wait(1)
        finally:
            self._executor.shutdown(wait=False)

    def _step(self) -> None:
        batch = self.gather()
        if batch is None:
            return
        if self.stop.stopping:
            self.release(batch)  # received but not started: another worker's now
            return
        self.process(batch)

    def gather(self) -> Batch | None:
        """Up to batch_size messages of the first lane that has any, short lane first:
        the first receive waits the lane's wait_s, the rest come within batch_wait_s."""
        for lane in self.lanes:
            messages = self._receive(lane, self.settings.batch_size, lane.wait_s)
            if messages:
                return Batch(lane, self._fill(lane, messages))
            if self.stop.stopping:
                break
        return None

    def _fill(self, lane: Lane, messages: list[Message]) -> list[Message]:
        wanted = self.settings.batch_size
        deadline = time.monotonic() + self.settings.batch_wait_s
        while len(messages) < wanted and not self.stop.stopping:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            more = self._receive(lane, wanted - len(messages), 0)
            if not more:
                time.sleep(min(remaining, 0.01))  # a short poll came back empty: do not spin
            messages.extend(more)
        return messages

    def _receive(self, lane: Lane, count: int, wait_s: int) -> list[Message]:
        response = self.sqs.receive_message(
            QueueUrl=lane.queue_url,
            MaxNumberOfMessages=min(count, SQS_BATCH_LIMIT),
            WaitTimeSeconds=wait_s,
            # Shorter than the queue's own timeout: a worker that dies (SIGKILL, a lost
            # host) gives its messages back within a visibility step, not in minutes.
            VisibilityTimeout=self.settings.visibility_s,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages: list[Message] = response.get("Messages", [])
        return messages

    def process(self, batch: Batch) -> BatchOutcome:
        started = time.monotonic()
        lane, messages = batch.lane, batch.messages
        everything = {message["MessageId"] for message in messages}
        event = lambda_event(messages, lane.queue_arn, self.region)
        with VisibilityKeeper(self.sqs, lane.queue_url, messages, self.settings.visibility_s):
            future = self._executor.submit(self.handler, event, self.new_context())
            while not _wait(future, _ABORT_CHECK_S):
                if self.stop.abort.is_set():
                    self.release(batch)
                    raise Aborted(f"released a batch of {len(messages)} being handled")
        failed, error_text = _failures(future, everything)
        self.settle(batch, failed)
        outcome = BatchOutcome(len(messages), len(failed), time.monotonic() - started, error_text)
        fields = {
            "lane": lane.name,
            "received": outcome.received,
            "failed": outcome.failed,
            "seconds": round(outcome.seconds, 3),
            **({"error": outcome.error} if outcome.error else {}),
            **self.describe(outcome),
        }
        logger.info("batch", extra=fields)
        return outcome

    def settle(self, batch: Batch, failed_ids: set[str]) -> None:
        """Delete what succeeded; leave what failed for SQS to redeliver (and redrive)."""
        messages, queue_url = batch.messages, batch.lane.queue_url
        succeeded = [m for m in messages if m["MessageId"] not in failed_ids]
        for chunk in in_batches(succeeded):
            response = self.sqs.delete_message_batch(
                QueueUrl=queue_url,
                Entries=[
                    {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(chunk)
                ],
            )
            for failure in response.get("Failed", []):
                logger.warning("delete failed", extra={"failure": failure})
        retry_s = self.settings.retry_visibility_s
        if retry_s is not None:
            failed = [m for m in messages if m["MessageId"] in failed_ids]
            change_visibility(self.sqs, queue_url, failed, retry_s)

    def release(self, batch: Batch) -> None:
        change_visibility(self.sqs, batch.lane.queue_url, batch.messages, 0)
        logger.info("released", extra={"lane": batch.lane.name, "messages": len(batch)})


def _lanes(
    settings: WorkerSettings,
    queue_arn: str,
    long_queue_arn: str | None,
    recovery_queue_arn: str | None = None,
) -> list[Lane]:
    """The lanes in the order they are asked: short, then long and recovery (where the
    deployment has them)."""
    lanes = [("short", settings.chunks_queue_url, queue_arn)]
    for name, url, arn in (
        ("long", settings.long_chunks_queue_url, long_queue_arn),
        ("recovery", settings.recovery_chunks_queue_url, recovery_queue_arn),
    ):
        if url is None:
            continue
        if arn is None:
            raise ValueError(f"a {name} lane needs its queue's ARN ({name}_queue_arn)")
        lanes.append((name, url, arn))
    # Every lane but the last is asked without waiting, so a backlog behind it is
    # served at full speed; the last lane's wait is what an idle worker spends (brief
    # where other lanes come first).
    last_wait = POLL_WAIT_S if len(lanes) == 1 else LONG_LANE_WAIT_S
    return [
        Lane(name, url, arn, last_wait if number == len(lanes) - 1 else 0)
        for number, (name, url, arn) in enumerate(lanes)
    ]


def _wait(future: "Future[Any]", seconds: float) -> bool:
    try:
        future.exception(timeout=seconds)
    except TimeoutError:
        return False
    return True


def _failures(future: "Future[Any]", everything: set[str]) -> tuple[set[str], str | None]:
    """The failed message ids of a finished handler call, and why if all of them failed."""
    error = future.exception()
    if error is not None:  # the handler's failure is the batch's, as on Lambda
        return everything, f"{type(error).__name__}: {error}"
    result = future.result()
    failed = batch_item_failures(result, everything)
    if failed is None:
        return everything, f"invalid batch item failures response: {result!r:.200}"
    return failed, None


def change_visibility(sqs: Any, queue_url: str, messages: Sequence[Message], seconds: int) -> None:
    for chunk in in_batches(messages):
        response = sqs.change_message_visibility_batch(
            QueueUrl=queue_url,
            Entries=[
                {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": seconds}
                for n, m in enumerate(chunk)
            ],
        )
        for failure in response.get("Failed", []):
            logger.warning(
                "visibility change failed", extra={"visibility_s": seconds, "failure": failure}
            )


class VisibilityKeeper:
    """Extends a batch's visibility every ``visibility_s / 2`` until the block ends."""

    def __init__(
        self, sqs: Any, queue_url: str, messages: Sequence[Message], visibility_s: int
    ) -> None:
        self._sqs = sqs
        self._queue_url = queue_url
        self._messages = list(messages)
        self.visibility_s = visibility_s
        self.extensions = 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="voxflow-visibility", daemon=True)

    def __enter__(self) -> "VisibilityKeeper":
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        # Joined before the batch is settled: no extension races a delete.
        self._done.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._done.wait(self.visibility_s / 2):
            try:
                change_visibility(self._sqs, self._queue_url, self._messages, self.visibility_s)
            except Exception as error:  # retried at the next step; the batch goes on
                logger.warning(
                    "visibility extension failed",
                    extra={"error_type": type(error).__name__, "error": str(error)},
                )
            else:
                self.extensions += 1
