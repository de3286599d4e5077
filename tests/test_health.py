"""The health canary (functions/health/app.py) against the local stack over HTTP.

The stack starts with PlanFunction only: a canary then finds no one to synthesize
its chunk and must report failure. A SynthesizeFunction runner is started for
the second test, as the standalone stack runs it, and the canary succeeds.
"""

import importlib.util
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import StartStack

from voxflow.aws import AwsClients, AwsSettings
from voxflow.client import StackTarget, VoxflowClient
from voxflow.health.canary import TENANT, canary_text
from voxflow_local.runner import LocalContext, lambda_environment
from voxflow_local.stack import LocalStack

APP = Path(__file__).resolve().parent.parent / "functions" / "health" / "app.py"


@pytest.fixture(scope="module")
def stack(local_stack: StartStack) -> LocalStack:
    local = local_stack(functions=["PlanFunction"])
    # The canary's deadline is short: wait until PlanFunction's runner has started.
    clients = AwsClients(AwsSettings.local(local.url, local.region))
    with VoxflowClient(clients, StackTarget.from_resources(local.stack.resources)) as client:
        request_id = client.publish("The planner is up.")
        deadline = time.monotonic() + 120
        while client.status(request_id) is None:
            assert time.monotonic() < deadline, "PlanFunction never planned a request"
            time.sleep(0.2)
    return local


def invoke_canary(stack: LocalStack, monkeypatch: pytest.MonkeyPatch, **env: str) -> Any:
    """The health handler, imported fresh (it reads its settings at import), invoked once."""
    # Every function has the stack's names in its environment (the template's Globals).
    function = stack.stack.function("PlanFunction")
    for name, value in lambda_environment(stack.stack, function, {}, env).items():
        monkeypatch.setenv(name, value)
    spec = importlib.util.spec_from_file_location("voxflow_test_health_app", APP)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    context = LocalContext("HealthFunction", 128, "arn:aws:lambda:us-east-1:0:function:h", 60)
    return module.handler({"source": "aws.events"}, context)


def canary_metric(stack: LocalStack, name: str, statistic: str) -> list[float]:
    now = datetime.now(UTC)
    response = stack.client("cloudwatch").get_metric_statistics(
        Namespace="voxflow",
        MetricName=name,
        Dimensions=[{"Name": "Region", "Value": stack.region}],
        StartTime=now - timedelta(minutes=10),
        EndTime=now + timedelta(minutes=1),
        Period=60,
        Statistics=[statistic],
    )
    return [float(point[statistic]) for point in response["Datapoints"]]


def job(stack: LocalStack, request_id: str) -> dict[str, Any]:
    item = stack.client("dynamodb").get_item(
        TableName=stack.stack.resources["JobsTable"],
        Key={"request_id": {"S": request_id}},
        ConsistentRead=True,
    )["Item"]
    return {name: next(iter(value.values())) for name, value in item.items()}


def test_canary_fails_when_nothing_synthesizes(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = invoke_canary(stack, monkeypatch, VOXFLOW_CANARY_TIMEOUT_S="3")
    assert result["success"] == 0
    assert result["status"] == "pending"  # planned, never synthesized
    assert 3 <= result["latency_s"] < 10
    assert job(stack, result["request_id"])["tenant"] == TENANT
    assert canary_metric(stack, "CanarySuccess", "Maximum") == [0.0]
    assert max(canary_metric(stack, "CanaryLatency", "Maximum")) >= 3


def test_canary_succeeds_with_the_functions_running(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    function = stack.stack.function("SynthesizeFunction")
    log = (tmp_path / "synthesize.log").open("ab")
    runner = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "voxflow_local.runner",
            "--state-file",
            str(stack.state_file),
            "--function",
            function.logical_id,
            "--event-source",
            function.event_sources[0].logical_id,
        ],
        stdout=log,
        stderr=log,
        env=os.environ,
    )
    try:
        result = invoke_canary(stack, monkeypatch, VOXFLOW_CANARY_TIMEOUT_S="60")
    finally:
        runner.send_signal(signal.SIGTERM)
        runner.wait(60)
        log.close()
    assert result["success"] == 1, result
    assert result["status"] == "completed"
    assert result["latency_s"] > 0
    stored = job(stack, result["request_id"])
    assert stored["status"] == "completed"
    assert stored["cache"] == "miss"  # a phrase never spoken before: synthesis really ran
    assert 1.0 in canary_metric(stack, "CanarySuccess", "Maximum")


def test_canary_phrase_changes_every_millisecond() -> None:
    now_ns = 1_718_000_000_123_000_000
    assert canary_text(now_ns) == "Health check 1718000000123."
    assert canary_text(now_ns + 1_000_000) == "Health check 1718000000124."
