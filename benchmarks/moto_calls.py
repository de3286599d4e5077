"""moto's CPU per call: what each AWS call of a request costs the local stack's cores.

On the local stack moto stands in for AWS's servers and runs on the same cores as the
engine, so every call a miss makes takes CPU that the synthesis would otherwise have
(on Lambda a function has its vCPUs to itself). This starts moto with the template
deployed (no runners), makes ``--calls`` of each kind a miss makes per chunk or per
batch, the payloads about a miss's, and prints moto's CPU seconds (from /proc) and the
wall time per call. Multiply by a miss's calls to see moto's share of
``benchmarks/pipeline.py``'s "CPU seconds during a miss".

Usage: python benchmarks/moto_calls.py [--calls 40]
"""

import argparse
import json
import os
import time
import uuid
from collections.abc import Callable
from typing import Any

from cpu import process_cpu_s

from voxflow_local.stack import LocalStack

CHUNK_BYTES = 220_000  # a ~5 s chunk of 22,050 Hz 16-bit WAV


def calls(stack: LocalStack) -> dict[str, Callable[[], Any]]:
    env = stack.stack.function("SynthesizeFunction").environment
    s3, dynamodb, sqs = stack.client("s3"), stack.client("dynamodb"), stack.client("sqs")
    events, cloudwatch = stack.client("events"), stack.client("cloudwatch")
    queue = sqs.create_queue(QueueName="voxflow-reply-moto-calls")["QueueUrl"]
    audio = os.urandom(CHUNK_BYTES)
    detail = json.dumps({"request_id": "r" * 32, "index": 1, "url": "https://h/" + "a" * 400})
    return {
        "S3 PutObject (a chunk's WAV)": lambda: s3.put_object(
            Bucket=env["VOXFLOW_BUCKET"], Key=f"chunks/{uuid.uuid4()}.wav", Body=audio
        ),
        "DynamoDB PutItem": lambda: dynamodb.put_item(
            TableName=env["VOXFLOW_CACHE_TABLE"],
            Item={"key": {"S": str(uuid.uuid4())}, "s3_key": {"S": "chunks/x.wav"}},
        ),
        "DynamoDB GetItem, consistent": lambda: dynamodb.get_item(
            TableName=env["VOXFLOW_CACHE_TABLE"], Key={"key": {"S": "absent"}}, ConsistentRead=True
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
                    "EventBusName": env["VOXFLOW_BUS_NAME"],
                }
            ]
        ),
        "CloudWatch PutMetricData (an EMF flush)": lambda: cloudwatch.put_metric_data(
            Namespace="voxflow",
            MetricData=[{"MetricName": f"M{n}", "Values": [1.0]} for n in range(6)],
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=40)
    args = parser.parse_args()
    with LocalStack(functions=[]) as stack:
        assert stack.moto.pid is not None
        print(f"load {'/'.join(f'{x:.1f}' for x in os.getloadavg())}; {os.cpu_count()} cores")
        print(f"{'call':42} {'moto CPU':>10} {'wall':>10}")
        for name, call in calls(stack).items():
            call()
            cpu, started = process_cpu_s(stack.moto.pid), time.perf_counter()
            for _ in range(args.calls):
                call()
            wall = (time.perf_counter() - started) / args.calls
            spent = (process_cpu_s(stack.moto.pid) - cpu) / args.calls
            print(f"{name:42} {spent * 1000:7.1f} ms {wall * 1000:7.1f} ms")


if __name__ == "__main__":
    main()
