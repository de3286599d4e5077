"""What the console reads from CloudWatch, against moto server as the local stack runs
it: SQS's ApproximateAgeOfOldestMessage, which the moto server process publishes from
its queues' real messages (voxflow_local.sqs_metrics), and the cache hit ratio from the
functions' EMF lines, put in CloudWatch by the runner's tee (voxflow_local.emf) from
what powertools' Metrics really prints."""

import contextlib
import io
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from aws_lambda_powertools import Metrics

from voxflow.aws import AwsClients, AwsSettings
from voxflow.console.metrics import ConsoleMetrics
from voxflow.pipeline.powertools import PowertoolsMeter
from voxflow_local.emf import EmfForwarder, EmfTee
from voxflow_local.moto_server import MotoServer
from voxflow_local.sqs_metrics import INTERVAL_S


@pytest.fixture(scope="module")
def clients() -> Iterator[AwsClients]:
    with MotoServer() as moto:
        yield AwsClients(AwsSettings.local(moto.url))


def ages_when(metrics: ConsoleMetrics, ready: Any, timeout_s: float = 6 * INTERVAL_S) -> Any:
    """The ages once ``ready(ages)`` holds (the server publishes every INTERVAL_S)."""
    deadline = time.monotonic() + timeout_s
    while True:
        ages = metrics.read()["ages"]
        if ready(ages) or time.monotonic() > deadline:
            return ages
        time.sleep(0.5)


def test_the_age_of_the_oldest_message_is_published_from_the_queues_messages(
    clients: AwsClients,
) -> None:
    sqs = clients.sqs
    tag = uuid.uuid4().hex[:6]
    urls = {
        label: sqs.create_queue(QueueName=f"age-{label}-{tag}")["QueueUrl"]
        for label in ("busy", "taken", "delayed", "empty")
    }
    sent = time.time()
    sqs.send_message(QueueUrl=urls["busy"], MessageBody="{}")
    sqs.send_message(QueueUrl=urls["taken"], MessageBody="{}")
    sqs.receive_message(QueueUrl=urls["taken"], VisibilityTimeout=600)  # in flight
    sqs.send_message(QueueUrl=urls["delayed"], MessageBody="{}", DelaySeconds=600)
    metrics = ConsoleMetrics(clients.cloudwatch, urls)
    # Published after the messages were sent: the oldest is at least a beat old.
    ages = ages_when(
        metrics, lambda a: all(v is not None and v > 0 for v in (a["busy"], a["taken"]))
    )
    waited = time.time() - sent
    assert 0 < ages["busy"] <= waited + 1, ages
    assert 0 < ages["taken"] <= waited + 1, ages  # in flight still counts, as on SQS
    assert ages["delayed"] == 0, ages  # not yet a message anyone could receive
    assert ages["empty"] == 0, ages


def test_emf_lines_reach_cloudwatch_and_read_as_the_hit_ratio(clients: AwsClients) -> None:
    service = f"svc-{uuid.uuid4().hex[:6]}"  # this test's own series
    powertools = Metrics(namespace="voxflow", service=service)
    meter = PowertoolsMeter(powertools)
    log = io.StringIO()
    forwarder = EmfForwarder(clients.cloudwatch)
    with contextlib.redirect_stdout(EmfTee(log, forwarder)):
        for name in ("CacheHits", "CacheHits", "ApiCacheHits", "ApiCacheMisses"):
            meter.count(name)
            powertools.flush_metrics()
        print("a log line that is not EMF")
    lines = log.getvalue().splitlines()
    assert len(lines) == 5  # every line still reaches the function's log
    assert lines[-1] == "a log line that is not EMF"
    assert forwarder.put == 4
    cache = ConsoleMetrics(clients.cloudwatch, {}, service).read()["cache"]
    assert cache == {"window_s": 3600, "hits": 3, "misses": 1, "ratio": 0.75}
    # Another service's counters are not this one's.
    other = ConsoleMetrics(clients.cloudwatch, {}, "nobody").read()["cache"]
    assert other == {"window_s": 3600, "hits": 0, "misses": 0, "ratio": None}
