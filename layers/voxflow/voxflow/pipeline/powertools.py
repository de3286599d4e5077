"""What both handlers share: powertools Metrics behind the core's Meter, and a batch
processor that says which records failed and why."""

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from aws_lambda_powertools.utilities.batch.base import FailureResponse
from aws_lambda_powertools.utilities.batch.exceptions import ExceptionInfo
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord


class PowertoolsMeter:
    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def count(self, name: str, value: float = 1) -> None:
        self._metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)

    def seconds(self, name: str, value: float) -> None:
        self._metrics.add_metric(name=name, unit=MetricUnit.Seconds, value=value)

    def ratio(self, name: str, value: float) -> None:
        self._metrics.add_metric(name=name, unit=MetricUnit.NoUnit, value=value)

    def count_by(self, name: str, dimension: str, value: str) -> None:
        # Its own EMF document: a dimension added to the shared set would apply to
        # every metric of the invocation. The service dimension as Metrics adds it.
        with single_metric(
            name=name, unit=MetricUnit.Count, value=1, namespace=self._metrics.namespace
        ) as metric:
            if self._metrics.service:
                metric.add_dimension(name="service", value=str(self._metrics.service))
            metric.add_dimension(name=dimension, value=value)


def receive_count(record: SQSRecord) -> int:
    return int(record.attributes.approximate_receive_count or 1)


def queue_stamps(record: SQSRecord) -> dict[str, float]:
    """When the message was queued and first received (epoch seconds), for the timeline:
    the transport before plan's receipt, split at the queue."""
    # The raw attributes: powertools' properties raise KeyError where one is missing,
    # and a record without them must still be planned (only the timeline lacks them).
    attributes = record.raw_event.get("attributes") or {}
    stamps = {
        "sqs_sent_at": attributes.get("SentTimestamp"),
        "sqs_received_at": attributes.get("ApproximateFirstReceiveTimestamp"),
    }
    return {name: int(value) / 1000 for name, value in stamps.items() if value}


class SqsBatchProcessor(BatchProcessor):
    """Logs each failed record's message id and error type. Powertools logs nothing at
    INFO (or, given a logger, the whole traceback, whose messages can quote the text):
    a request that failed its way into the DLQ left no trace of why."""

    def __init__(self, logger: Logger) -> None:
        super().__init__(event_type=EventType.SQS)
        self._log = logger

    def failure_handler(self, record: Any, exception: ExceptionInfo) -> FailureResponse:
        error_type = exception[0]
        self._log.warning(
            "record failed",
            extra={
                "message_id": getattr(record, "message_id", None),
                "error": error_type.__name__ if error_type is not None else None,
            },
        )
        return super().failure_handler(record, exception)
