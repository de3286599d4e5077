"""The local moto's hot paths (voxflow_local.moto_hot_paths) change its CPU per call,
never its answers: routing finds the same backends, and SQS's delays and visibility
timeouts hold to the millisecond clock they had."""

import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from voxflow_local._clients import _client
from voxflow_local.moto_server import MotoServer

SAME_ANSWERS = """
import time
from datetime import datetime, timedelta
from moto import backends
from moto.core import utils
from moto.sqs import models
listed = list(backends.list_of_moto_modules())
from voxflow_local import moto_hot_paths
moto_hot_paths.install()
assert list(backends.list_of_moto_modules()) == listed and "sqs" in listed
assert abs(models.unix_time_millis() - time.time() * 1000) < 50
assert abs(models.unix_time() - utils.unix_time()) < 0.05
then = datetime(2026, 1, 2, 3, 4, 5)
assert models.unix_time_millis(then) == utils.unix_time_millis(then)
assert models.unix_time(then + timedelta(seconds=1)) == utils.unix_time(then) + 1
"""


def test_routing_and_the_sqs_clock_give_moto_s_own_answers() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SAME_ANSWERS],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr


@pytest.fixture(scope="module")
def sqs() -> Iterator[Any]:
    with MotoServer(None, "us-east-1") as moto:
        yield _client("sqs", moto.url, "us-east-1")


def test_delayed_and_received_messages_stay_hidden_for_their_time(sqs: Any) -> None:
    url = sqs.create_queue(QueueName="hot-paths")["QueueUrl"]
    for start in range(0, 50, 10):
        sqs.send_message_batch(
            QueueUrl=url,
            Entries=[
                {"Id": str(n), "MessageBody": f"later {n}", "DelaySeconds": 2}
                for n in range(start, start + 10)
            ],
        )
    sent_at = time.monotonic()
    sqs.send_message(QueueUrl=url, MessageBody="now")
    first = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=30)
    assert [m["Body"] for m in first.get("Messages", [])] == ["now"]
    again = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
    if time.monotonic() - sent_at < 1.9:  # still inside the delay: nothing may show
        assert again.get("Messages", []) == []
    time.sleep(max(0.0, 2.2 - (time.monotonic() - sent_at)))
    bodies: set[str] = set()
    for _ in range(10):
        page = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=30)
        bodies |= {m["Body"] for m in page.get("Messages", [])}
    assert bodies == {f"later {n}" for n in range(50)}  # and "now" is still in flight
