"""The local moto's hot paths (voxflow_local.moto_hot_paths) change its CPU per call,
never its answers: routing finds the same backends, and SQS's delays and visibility
timeouts hold to the millisecond clock they had."""

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from voxflow_local._clients import _client
from voxflow_local.moto_hot_paths import HOT_PATHS_ENV
from voxflow_local.moto_server import MotoServer

pytestmark = pytest.mark.integration  # starts moto servers

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
import gc
young, middle, _ = gc.get_threshold()
moto_hot_paths.no_full_collections()
assert gc.get_threshold() == (young, middle, 1_000_000) and gc.isenabled()
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


ITEM: dict[str, Any] = {
    "request_id": {"S": "every-type"},
    "count": {"N": "32"},
    "ratio": {"N": "-0.125"},
    "blob": {"B": b"\x00\x01binary\xff"},
    "blobs": {"BS": [b"one", b"\x02two"]},
    "names": {"SS": ["b", "a"]},
    "done": {"NS": ["3", "1", "2"]},
    "chunk_keys": {"L": [{"S": "k" * 64}, {"N": "7"}, {"NULL": True}, {"L": []}]},
    "nested": {
        "M": {
            "flag": {"BOOL": False},
            "inner": {"M": {"deep": {"L": [{"M": {"x": {"B": b"x"}}}, {"SS": ["s"]}]}}},
            "empty": {"M": {}},
        }
    },
    "text": {"S": 'ünïcødé, "quoted" and \\ slashed'},
}


def _without_and_with(
    monkeypatch: pytest.MonkeyPatch, read: Callable[[MotoServer], list[Any]]
) -> tuple[list[Any], list[Any]]:
    """What ``read`` gets from a fresh moto without the hot paths, then with them."""
    answers = []
    for switch in ("0", "1"):
        monkeypatch.setenv(HOT_PATHS_ENV, switch)
        with MotoServer(None, "us-east-1") as moto:
            answers.append(read(moto))
    return answers[0], answers[1]


def _answers(moto: MotoServer) -> list[Any]:
    """What boto3 reads back of an item with every attribute type, by every read a
    voxflow function or the replicator makes."""
    dynamodb = _client("dynamodb", moto.url, "us-east-1")
    streams = _client("dynamodbstreams", moto.url, "us-east-1")
    dynamodb.create_table(
        TableName="every-type",
        KeySchema=[{"AttributeName": "request_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "request_id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    key = {"request_id": ITEM["request_id"]}
    dynamodb.put_item(TableName="every-type", Item=ITEM)
    updated = dynamodb.update_item(
        TableName="every-type",
        Key=key,
        UpdateExpression="ADD done :four SET #c = :c",
        ExpressionAttributeNames={"#c": "count"},
        ExpressionAttributeValues={":four": {"NS": ["4"]}, ":c": {"N": "33"}},
        ReturnValues="ALL_NEW",
    )["Attributes"]
    got = dynamodb.get_item(TableName="every-type", Key=key, ConsistentRead=True)["Item"]
    batch = dynamodb.batch_get_item(RequestItems={"every-type": {"Keys": [key]}})["Responses"]
    scanned = dynamodb.scan(TableName="every-type")["Items"]
    arn = dynamodb.describe_table(TableName="every-type")["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(
        StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    images = [
        (r["eventName"], r["dynamodb"].get("OldImage"), r["dynamodb"].get("NewImage"))
        for r in streams.get_records(ShardIterator=iterator)["Records"]
    ]
    return [updated, got, batch, scanned, images]


def test_dynamodb_answers_are_the_same_with_and_without_hot_paths(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    by_moto, with_hot_paths = _without_and_with(monkeypatch, _answers)
    assert with_hot_paths == by_moto
    assert by_moto[1]["blob"] == {"B": ITEM["blob"]["B"]}  # and both read back what was put
    assert by_moto[1]["nested"] == ITEM["nested"]


def _delivered(moto: MotoServer) -> list[Any]:
    """What an SQS target of a rule receives of two events (the input EventBridge builds
    for it), as a bus tap or a reply queue would."""
    events = _client("events", moto.url, "us-east-1")
    sqs = _client("sqs", moto.url, "us-east-1")
    url = sqs.create_queue(QueueName="tap")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    events.put_rule(Name="tap", EventPattern='{"source": ["voxflow"]}')
    events.put_targets(Rule="tap", Targets=[{"Id": "q", "Arn": arn["QueueArn"]}])
    details = ['{"request_id": "r1", "index": 0, "url": "https://a/b?c=d"}', '{"n": [1, 2.5]}']
    events.put_events(
        Entries=[
            {"Source": "voxflow", "DetailType": "ChunkSynthesized", "Detail": detail}
            for detail in details
        ]
    )
    received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=5)
    bodies = [json.loads(message["Body"]) for message in received["Messages"]]
    return sorted(
        ({k: v for k, v in body.items() if k not in ("id", "time")} for body in bodies),
        key=json.dumps,
    )


def test_eventbridge_delivers_the_same_input_with_and_without_hot_paths(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    by_moto, with_hot_paths = _without_and_with(monkeypatch, _delivered)
    assert with_hot_paths == by_moto
    assert [body["detail"] for body in by_moto] == [
        {"n": [1, 2.5]},
        {"request_id": "r1", "index": 0, "url": "https://a/b?c=d"},
    ]


def _queue_answers(moto: MotoServer) -> list[Any]:
    """What SQS answers about queues with messages ready, delayed and in flight: their
    attributes (all of them, and one by one) and what a receive returns."""
    sqs = _client("sqs", moto.url, "us-east-1")
    dead = sqs.create_queue(QueueName="dead")["QueueUrl"]
    dead_arn = sqs.get_queue_attributes(QueueUrl=dead, AttributeNames=["QueueArn"])
    redrive = {"deadLetterTargetArn": dead_arn["Attributes"]["QueueArn"], "maxReceiveCount": 3}
    plain = sqs.create_queue(
        QueueName="plain",
        Attributes={"RedrivePolicy": json.dumps(redrive), "MessageRetentionPeriod": "600"},
    )["QueueUrl"]
    fifo = sqs.create_queue(
        QueueName="ordered.fifo",
        Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"},
    )["QueueUrl"]
    for n in range(4):
        sqs.send_message(QueueUrl=plain, MessageBody=f"m{n}", DelaySeconds=900 if n == 3 else 0)
    sqs.send_message(QueueUrl=fifo, MessageBody="f", MessageGroupId="g")
    sqs.send_message(QueueUrl=fifo, MessageBody="f", MessageGroupId="g")  # deduplicated
    received = sqs.receive_message(QueueUrl=plain, MaxNumberOfMessages=2, VisibilityTimeout=60)
    answers: list[Any] = [sorted(m["Body"] for m in received["Messages"])]
    for url in (plain, fifo, dead):
        every = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        answers.append({k: v for k, v in every.items() if not k.endswith("Timestamp")})
        answers.append(
            sqs.get_queue_attributes(
                QueueUrl=url,
                AttributeNames=["ApproximateNumberOfMessagesNotVisible", "MessageRetentionPeriod"],
            )["Attributes"]
        )
    answers.append(sqs.receive_message(QueueUrl=fifo, MaxNumberOfMessages=10).get("Messages"))
    return answers


def test_sqs_answers_are_the_same_with_and_without_hot_paths(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    by_moto, with_hot_paths = _without_and_with(monkeypatch, _queue_answers)
    for answers in (by_moto, with_hot_paths):
        for message in answers[-1]:  # a receive's own handle and id differ from run to run
            message.pop("ReceiptHandle")
            message.pop("MessageId")
    assert with_hot_paths == by_moto
    assert by_moto[1]["ApproximateNumberOfMessages"] == "1"  # one ready, one delayed, two out
    assert by_moto[1]["ApproximateNumberOfMessagesDelayed"] == "1"
    assert by_moto[1]["ApproximateNumberOfMessagesNotVisible"] == "2"
    assert len(by_moto[-1]) == 1


def test_moto_writes_no_line_per_request(tmp_path: Path) -> None:
    log = tmp_path / "moto.log"
    with MotoServer(None, "us-east-1", log_path=log) as moto:
        sqs = _client("sqs", moto.url, "us-east-1")
        url = sqs.create_queue(QueueName="quiet")["QueueUrl"]
        for _ in range(5):
            sqs.send_message(QueueUrl=url, MessageBody="x")
    assert "HTTP/1.1" not in log.read_text()
