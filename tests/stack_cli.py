"""Shared by tests that drive a LocalStack from outside: queue depths and the CLI."""

import os
import subprocess
from pathlib import Path

from voxflow_local.stack import LocalStack

VOXFLOW = Path(__file__).resolve().parent.parent / ".venv" / "bin" / "voxflow"


def queue_depth(stack: LocalStack, logical_id: str) -> int:
    attributes = stack.client("sqs").get_queue_attributes(
        QueueUrl=stack.stack.resources[logical_id],
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return sum(int(value) for value in attributes.values())


def voxflow_cli(stack: LocalStack, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "VOXFLOW_LOCAL_STATE": str(stack.state_file)}
    return subprocess.run(
        [str(VOXFLOW), *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )
