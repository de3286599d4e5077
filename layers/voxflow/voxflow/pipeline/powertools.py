"""What both handlers share: powertools Metrics behind the core's Meter."""

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit
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


def receive_count(record: SQSRecord) -> int:
    return int(record.attributes.approximate_receive_count or 1)
