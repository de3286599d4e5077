"""moto's CPU per call: what each AWS call of a request costs the local stack's cores.

On the local stack moto stands in for AWS's servers and runs on the same cores as the
engine, so every call a miss makes takes CPU that the synthesis would otherwise have
(on Lambda a function has its vCPUs to itself). This starts moto with the template
deployed (no runners), makes ``--calls`` of each kind a miss makes per chunk or per
batch, the payloads about a miss's, and prints moto's CPU seconds (from /proc) and the
wall time per call. Multiply by a miss's calls to see moto's share of
``benchmarks/pipeline.py``'s "CPU seconds during a miss".

It runs twice in this process, each time on a fresh moto: without the local moto's hot
paths (voxflow_local.moto_hot_paths), the baseline, and with them, and prints the ratio.
``--backlog N`` puts N delayed messages in the SQS calls' queue first, as a failover's
parked tasks and standby re-sends wait in the secondary's queues.

Usage: python benchmarks/moto_calls.py [--calls 40] [--backlog 500]
"""

import argparse
import json
import os
import time
import uuid
from collections.abc import Callable
from typing import Any

from voxflow.config import variables
from voxflow_local.cpu import process_cpu_s
from voxflow_local.moto_hot_paths import HOT_PATHS_ENV
from voxflow_local.stack import LocalStack

CHUNK_BYTES = 220_000  # a ~5 s chunk of 22,050 Hz 16-bit WAV


def _long_job() -> dict[str, Any]:
    """A pending job's attributes as plan writes them for a 2,766-character text."""
    return {
        "status": {"S": "pending"},
        "voice": {"S": "en_US-lessac-medium"},
        "key": {"S": "k" * 64},
        "chunk_count": {"N": "32"},
        "chunk_keys": {"L": [{"S": uuid.uuid4().hex * 2} for _ in range(32)]},
        "chunk_texts": {"L": [{"S": "A sentence of about eighty-six characters. " * 2}] * 32},
        "done": {"NS": [str(n) for n in range(2, 20)]},
        "params_json": {"S": '{"speed": 1.0, "noise_scale": 0.667}'},
    }


def calls(stack: LocalStack, backlog: int) -> dict[str, Callable[[], Any]]:
    env = stack.stack.function("SynthesizeFunction").environment
    s3, dynamodb, sqs = stack.client("s3"), stack.client("dynamodb"), stack.client("sqs")
    events, cloudwatch = stack.client("events"), stack.client("cloudwatch")
    queue = sqs.create_queue(QueueName="voxflow-reply-moto-calls")["QueueUrl"]
    for start in range(0, backlog, 10):
        sqs.send_message_batch(
            QueueUrl=queue,
            Entries=[
                {"Id": str(n), "MessageBody": "parked", "DelaySeconds": 900}
                for n in range(start, min(backlog, start + 10))
            ],
        )
    audio = os.urandom(CHUNK_BYTES)
    jobs = env[variables.JOBS_TABLE.name]
    job_key = {"request_id": {"S": uuid.uuid4().hex}}
    dynamodb.put_item(TableName=jobs, Item={**job_key, **_long_job()})
    detail = json.dumps({"request_id": "r" * 32, "index": 1, "url": "https://h/" + "a" * 400})
    return {
        "S3 PutObject (a chunk's WAV)": lambda: s3.put_object(
            Bucket=env[variables.BUCKET.name], Key=f"chunks/{uuid.uuid4()}.wav", Body=audio
        ),
        "DynamoDB PutItem": lambda: dynamodb.put_item(
            TableName=env[variables.CACHE_TABLE.name],
            Item={"key": {"S": str(uuid.uuid4())}, "s3_key": {"S": "chunks/x.wav"}},
        ),
        "DynamoDB GetItem, consistent": lambda: dynamodb.get_item(
            TableName=env[variables.CACHE_TABLE.name],
            Key={"key": {"S": "absent"}},
            ConsistentRead=True,
        ),
        "DynamoDB GetItem (a 32-chunk job)": lambda: dynamodb.get_item(
            TableName=jobs, Key=job_key, ConsistentRead=True
        ),
        "DynamoDB UpdateItem ALL_NEW (a chunk done)": lambda: dynamodb.update_item(
            TableName=jobs,
            Key=job_key,
            UpdateExpression="ADD done :one",
            ExpressionAttributeValues={":one": {"NS": ["1"]}},
            ReturnValues="ALL_NEW",
        ),
        "SQS SendMessage": lambda: sqs.send_message(QueueUrl=queue, MessageBody=detail),
        "SQS ReceiveMessage (short poll)": lambda: sqs.receive_message(
            QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=0
        ),
        "EventBridge PutEvents": lambda: events.put_events(
            Entries=[
                {
                    "Source": "voxflow",
                    "DetailType": "ChunkSynthesized",
                    "Detail": detail,
                    "EventBusName": env[variables.BUS_NAME.name],
                }
            ]
        ),
        "CloudWatch PutMetricData (an EMF flush)": lambda: cloudwatch.put_metric_data(
            Namespace="voxflow",
            MetricData=[{"MetricName": f"M{n}", "Values": [1.0]} for n in range(6)],
        ),
    }


def measure(count: int, backlog: int, hot_paths: bool) -> dict[str, tuple[float, float]]:
    """Each call's moto CPU and wall seconds, on a fresh moto with or without hot paths."""
    os.environ[HOT_PATHS_ENV] = "1" if hot_paths else "0"
    figures = {}
    with LocalStack(functions=[]) as stack:
        assert stack.moto.pid is not None
        for name, call in calls(stack, backlog).items():
            call()
            cpu, started = process_cpu_s(stack.moto.pid), time.perf_counter()
            for _ in range(count):
                call()
            wall = (time.perf_counter() - started) / count
            figures[name] = ((process_cpu_s(stack.moto.pid) - cpu) / count, wall)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=40)
    parser.add_argument("--backlog", type=int, default=0, help="delayed messages in the queue")
    args = parser.parse_args()
    print(f"load {'/'.join(f'{x:.1f}' for x in os.getloadavg())}; {os.cpu_count()} cores")
    print(f"{args.backlog} delayed messages in the SQS calls' queue")
    base = measure(args.calls, args.backlog, hot_paths=False)
    fast = measure(args.calls, args.backlog, hot_paths=True)
    print(f"{'call':42} {'moto CPU, baseline':>19} {'with hot paths':>15} {'ratio':>6} {'wall':>9}")
    total_base = total_fast = 0.0
    for name, (cpu, _) in base.items():
        cpu_fast, wall_fast = fast[name]
        total_base, total_fast = total_base + cpu, total_fast + cpu_fast
        print(
            f"{name:42} {cpu * 1000:16.2f} ms {cpu_fast * 1000:12.2f} ms"
            f" {cpu_fast / cpu:6.2f} {wall_fast * 1000:6.1f} ms"
        )
    print(
        f"{'all of them':42} {total_base * 1000:16.2f} ms {total_fast * 1000:12.2f} ms"
        f" {total_fast / total_base:6.2f}"
    )


if __name__ == "__main__":
    main()
