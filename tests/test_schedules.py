"""The template's scheduled rules on the local stack: SweeperFunction's ``Sweep``
brings a stuck job to its end with nobody calling the sweeper (moto server over HTTP,
the real handler in its runner process); rate parsing, the schedule loop and the
state file's round trip without processes."""

import json
import os
import signal
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import psutil
import pytest
from bus_tap import TERMINAL, tapped

from voxflow.audio import AudioFormat
from voxflow.aws import AwsSettings
from voxflow.events import ChunkTask, SynthesisRequested
from voxflow.ops.sweeper import STUCK, SweptJob, pipeline_for
from voxflow.pipeline.context import ChunkQueue, Pipeline
from voxflow.pipeline.plan import plan_item
from voxflow.store.models import bind
from voxflow.voices import VoiceRegistry
from voxflow_local.model import LocalFunction, ScheduleSource
from voxflow_local.scheduler import (
    ScheduleLoop,
    UnsupportedScheduleError,
    schedule_period_s,
)
from voxflow_local.stack import LocalStack
from voxflow_local.state import read_state

SWEEP_PERIOD_S = 2.0

# ---- pieces, without processes ----


@pytest.mark.parametrize(
    ("expression", "period_s"),
    [
        ("rate(1 minute)", 60),
        ("rate(5 minutes)", 300),
        ("rate(2 hours)", 7200),
        ("rate(1 day)", 86400),
        (" rate( 3 days ) ", 3 * 86400),
    ],
)
def test_rate_expressions_give_their_period(expression: str, period_s: float) -> None:
    assert schedule_period_s(expression) == period_s


@pytest.mark.parametrize(
    "expression",
    ["cron(0 12 * * ? *)", "rate(0 minutes)", "rate(5 seconds)", "rate(minutes)", "every 5m"],
)
def test_cron_and_malformed_expressions_are_not_run(expression: str) -> None:
    with pytest.raises(UnsupportedScheduleError, match="cron" if "cron" in expression else "rate"):
        schedule_period_s(expression)


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_the_loop_fires_one_period_after_start_and_survives_a_failed_invocation() -> None:
    clock = FakeClock()
    fired: list[tuple[float, dict[str, Any]]] = []

    def invoke(event: dict[str, Any]) -> None:
        fired.append((clock.now, event))
        if len(fired) == 1:
            raise RuntimeError("the first sweep fails")
        if len(fired) == 3:
            clock.now += 25.0  # outlasts two more ticks: they are skipped, not piled up

    rule = "arn:aws:events:us-east-1:123456789012:rule/voxflow-SweeperFunctionSweep"
    loop = ScheduleLoop(
        invoke, rule, "123456789012", "us-east-1", 10.0, clock=clock, sleep=clock.sleep
    )
    loop.run(stop=lambda: len(fired) >= 4)

    assert [round(at - 100.0, 6) for at, _ in fired] == [10.0, 20.0, 30.0, 60.0]
    assert (loop.invocations, loop.failures) == (4, 1)
    event = fired[1][1]
    assert event["detail-type"] == "Scheduled Event"
    assert event["source"] == "aws.events"
    assert event["resources"] == [rule]
    assert (event["account"], event["region"], event["detail"]) == (
        "123456789012",
        "us-east-1",
        {},
    )
    assert event["time"].endswith("Z")
    assert len({e["id"] for _, e in fired}) == 4


def _function(**changes: Any) -> LocalFunction:
    function = LocalFunction(
        logical_id="SweeperFunction",
        name="voxflow-SweeperFunction",
        arn="arn:aws:lambda:us-east-1:123456789012:function:voxflow-SweeperFunction",
        code_dir=Path("/code/sweeper"),
        handler="app.handler",
        runtime="python3.12",
        timeout_s=240,
        memory_mb=3008,
        schedules=(
            ScheduleSource(
                logical_id="SweeperFunctionSweep",
                event_id="Sweep",
                expression="rate(5 minutes)",
                rule_arn="arn:aws:events:us-east-1:123456789012:rule/x",
                enabled=False,
            ),
        ),
    )
    return replace(function, **changes)


def test_schedules_round_trip_through_the_state_json() -> None:
    function = _function()
    data = json.loads(json.dumps(function.to_dict()))
    assert LocalFunction.from_dict(data) == function
    assert function.schedule("SweeperFunctionSweep").period_s == 300


def test_a_state_file_from_before_schedules_still_loads() -> None:
    data = json.loads(json.dumps(_function().to_dict()))
    del data["schedules"]
    assert LocalFunction.from_dict(data) == _function(schedules=())


# ---- the local stack ----


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    logs = tmp_path_factory.mktemp("schedule-logs")
    local = LocalStack(
        functions=["SweeperFunction"],
        schedules=True,
        schedule_periods={"Sweep": SWEEP_PERIOD_S},
        # Every pending job counts as stuck at once.
        extra_env={"VOXFLOW_SWEEP_OLDER_THAN_S": "0"},
        log_dir=logs,
    )
    with local:
        yield local
        pids = local.pids
    assert not [pid for pid in pids if _running(pid)], "stopped with the stack: no orphan"


def _running(pid: int) -> bool:
    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


@pytest.fixture(scope="module")
def aws(stack: LocalStack) -> AwsSettings:
    return AwsSettings.local(stack.url, stack.region)


@pytest.fixture(scope="module")
def pipeline(stack: LocalStack, aws: AwsSettings, registry: VoiceRegistry) -> Pipeline:
    return pipeline_for(stack.stack.resources, aws, registry)


class LostTasks(ChunkQueue):
    def __init__(self) -> None:
        super().__init__(None, "lost")

    def send(
        self,
        tasks: list[ChunkTask],
        delay_s: int = 0,
        *,
        recovery: bool = False,
        job_chunks: int | None = None,
    ) -> None:
        del tasks, delay_s, recovery, job_chunks  # lost on the way


def _stuck_job(stack: LocalStack, pipeline: Pipeline, aws: AwsSettings) -> str:
    """A pending job nothing will finish: its chunk tasks were lost, its texts are gone."""
    request_id = f"scheduled-{uuid.uuid4().hex[:8]}"
    planning = Pipeline(**{**pipeline.__dict__, "chunk_queue": LostTasks()})
    (item,) = SynthesisRequested(
        request_id=request_id, text="Nobody sweeps by hand.", format=AudioFormat.WAV
    ).expand()
    plan_item(item, planning)
    swept = bind(SweptJob, stack.stack.resources["JobsTable"], aws)
    swept(request_id).update(actions=[swept.chunk_texts.set([])])
    return request_id


def _terminal_event(stack: LocalStack, bus_tap: str, request_id: str, timeout_s: float) -> Any:
    events = tapped(stack, bus_tap, request_id, timeout_s, until_terminal=True)
    terminal = [event for event in events if event["detail-type"] in TERMINAL]
    assert terminal, f"no terminal event for {request_id} within {timeout_s} s"
    return terminal[0]


def test_the_template_schedules_are_found_for_this_role(stack: LocalStack) -> None:
    (sweep,) = stack.stack.function("SweeperFunction").schedules
    assert (sweep.logical_id, sweep.event_id, sweep.expression, sweep.enabled) == (
        "SweeperFunctionSweep",
        "Sweep",
        "rate(5 minutes)",
        True,
    )
    assert sweep.rule_arn.startswith(f"arn:aws:events:{stack.region}:")
    assert sweep.rule_arn.endswith(":rule/" + stack.stack.resources["SweeperFunctionSweep"])
    # The canary's rule and function exist only in the primary (Condition: IsPrimary).
    assert "HealthFunction" not in {f.logical_id for f in stack.stack.functions}
    assert stack.state_file is not None
    assert read_state(stack.state_file).stack.function("SweeperFunction").schedules == (sweep,)
    assert len(stack.schedule_pids) == 1
    assert stack.runner_pids == []  # only the function's schedule was asked for


def test_the_scheduled_sweeper_fails_a_stuck_job_with_nobody_sweeping(
    stack: LocalStack, pipeline: Pipeline, aws: AwsSettings, bus_tap: str
) -> None:
    request_id = _stuck_job(stack, pipeline, aws)
    # The first scheduled sweep counts it (nothing to re-queue), a later one fails it.
    event = _terminal_event(stack, bus_tap, request_id, timeout_s=30 + 4 * SWEEP_PERIOD_S)
    assert event["detail-type"] == "SynthesisFailed"
    assert event["detail"]["code"] == STUCK
    job = pipeline.jobs.get(request_id)
    assert job is not None
    assert job.status == "failed"


def test_a_dead_schedule_is_restarted_like_any_runner(stack: LocalStack) -> None:
    (pid,) = stack.schedule_pids
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while not (restarted := stack.restart_dead_runners()):
        assert time.monotonic() < deadline, "the killed schedule was not noticed"
        time.sleep(0.1)
    (line,) = restarted
    assert line.startswith("SweeperFunction/SweeperFunctionSweep#0")
    (fresh,) = stack.schedule_pids
    assert fresh != pid
    assert psutil.Process(fresh).is_running()
