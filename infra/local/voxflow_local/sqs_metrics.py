"""SQS's own CloudWatch metric ApproximateAgeOfOldestMessage, published inside the
moto server process from its queues' real messages, as SQS publishes it on AWS.

moto keeps no SQS metrics, and nothing outside moto can see a message's age without
receiving it (which would count a receive and could dead-letter it). So the moto server
(voxflow_local.moto_app) runs this beside its app: every ``interval_s`` it reads each
queue's messages in its own memory and puts, in that account and region's CloudWatch,
``AWS/SQS ApproximateAgeOfOldestMessage`` by ``QueueName``: the age in seconds of the
oldest message that is not delayed (waiting or in flight, as SQS counts it), 0 for an
empty queue. AWS publishes every minute; locally it is every few seconds, so that a
console or a test sees a change without waiting a minute.
"""

import threading
import time
from typing import Any

NAMESPACE = "AWS/SQS"
METRIC = "ApproximateAgeOfOldestMessage"
INTERVAL_S = 5.0


def oldest_age_s(queue: Any, now_ms: int) -> float:
    """The age of ``queue``'s oldest message that is not delayed; 0 when there is none."""
    sent = [
        message.sent_timestamp
        for message in list(queue._messages)  # a snapshot: the app's threads append to it
        if message.sent_timestamp is not None and not message.delayed
    ]
    return max(0.0, (now_ms - min(sent)) / 1000) if sent else 0.0


def publish_once(sqs_backends: Any, cloudwatch_backends: Any) -> int:
    """One datum per queue of every account and region moto holds; the number put."""
    now_ms = int(time.time() * 1000)
    put = 0
    # dict.items: the backends' own lookups would create an account or region on access.
    for account_id, regions in dict.items(sqs_backends):
        for region, backend in dict.items(regions):
            data = [
                {
                    "MetricName": METRIC,
                    "Dimensions": [{"Name": "QueueName", "Value": name}],
                    "Value": oldest_age_s(queue, now_ms),
                    "Unit": "Seconds",
                }
                for name, queue in list(backend.queues.items())
            ]
            if data:
                cloudwatch_backends[account_id][region].put_metric_data(NAMESPACE, data)
                put += len(data)
    return put


def start(interval_s: float = INTERVAL_S) -> threading.Thread:
    """Publish every ``interval_s`` on a daemon thread, for the life of the process."""
    from moto.cloudwatch.models import cloudwatch_backends
    from moto.sqs.models import sqs_backends

    def run() -> None:
        while True:
            time.sleep(interval_s)
            try:
                publish_once(sqs_backends, cloudwatch_backends)
            except Exception as error:  # moto's state changes under us; try again next time
                print(f"sqs_metrics: {type(error).__name__}: {error}", flush=True)

    thread = threading.Thread(target=run, name="voxflow-sqs-metrics", daemon=True)
    thread.start()
    return thread
