"""The local moto's call tally (voxflow_local.call_tally): each operation's calls and CPU,
served at /_voxflow/calls; and a real moto server writes it beside its log."""

import io
import json
import time
from pathlib import Path
from typing import Any

import pytest

from voxflow_local._clients import _client
from voxflow_local.call_tally import PATH, CallTally, operation
from voxflow_local.moto_server import MotoServer


def _busy_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    deadline = time.thread_time() + 0.02
    while time.thread_time() < deadline:  # 20 ms of this thread's CPU
        pass
    start_response("200 OK", [])
    return [b"ok"]


def _call(app: CallTally, **environ: Any) -> bytes:
    return b"".join(app({"REQUEST_METHOD": "POST", "PATH_INFO": "/", **environ}, lambda *_: None))


def test_operations_are_named_by_target_action_or_method() -> None:
    assert (
        operation({"HTTP_X_AMZ_TARGET": "AmazonSQS.ReceiveMessage"}) == "AmazonSQS.ReceiveMessage"
    )
    assert operation({"QUERY_STRING": "Action=PutMetricData&Version=1"}) == "PutMetricData"
    form = b"Action=PutMetricData&Version=2010-08-01&Namespace=voxflow"
    environ: dict[str, Any] = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/",
        "CONTENT_TYPE": "application/x-www-form-urlencoded; charset=utf-8",
        "CONTENT_LENGTH": str(len(form)),
        "wsgi.input": io.BytesIO(form),
    }
    assert operation(environ) == "PutMetricData"
    assert environ["wsgi.input"].read() == form  # put back for the app
    assert operation({"REQUEST_METHOD": "PUT", "PATH_INFO": "/bucket/key"}) == "S3 PUT"
    assert operation({"REQUEST_METHOD": "GET", "PATH_INFO": "/_voxflow/s3-writes"}) == (
        "GET /_voxflow/s3-writes"
    )


def test_the_tally_counts_calls_and_their_cpu() -> None:
    app = CallTally(_busy_app)
    for _ in range(3):
        assert _call(app, HTTP_X_AMZ_TARGET="DynamoDB_20120810.GetItem") == b"ok"
    _call(app, REQUEST_METHOD="PUT", PATH_INFO="/bucket/key")
    served = json.loads(_call(app, REQUEST_METHOD="GET", PATH_INFO=PATH))
    calls, cpu = served["calls"]["DynamoDB_20120810.GetItem"]
    assert calls == 3
    assert 0.06 <= cpu < 0.5
    assert served["calls"]["S3 PUT"][0] == 1


@pytest.mark.integration
def test_a_moto_server_with_a_log_writes_its_tally_beside_it(tmp_path: Path) -> None:
    with MotoServer(log_path=tmp_path / "moto.log") as server:
        sqs = _client("sqs", server.url, "us-east-1")
        url = sqs.create_queue(QueueName="tally")["QueueUrl"]
        for _ in range(4):
            sqs.send_message(QueueUrl=url, MessageBody="x")
        cloudwatch = _client("cloudwatch", server.url, "us-east-1")
        cloudwatch.put_metric_data(Namespace="tally", MetricData=[{"MetricName": "m", "Value": 1}])
        stored = cloudwatch.list_metrics(Namespace="tally")["Metrics"]  # the body reached moto
        assert [metric["MetricName"] for metric in stored] == ["m"]
    written = json.loads((tmp_path / "moto-calls.json").read_text())
    assert written["calls"]["AmazonSQS.SendMessage"][0] == 4
    assert written["calls"]["PutMetricData"][0] == 1
    assert written["calls"]["AmazonSQS.CreateQueue"][0] == 1
