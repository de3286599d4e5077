"""CPU seconds read from /proc (voxflow_local.cpu) and the drill's split of the cores after
the kill (voxflow_local.drill.cpu_share): real processes, one busy and one asleep."""

import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from voxflow_local.cpu import THIS_PROCESS, CpuSampler, process_cpu_s
from voxflow_local.drill.cpu_share import (
    DRILL,
    IDLE,
    MOTO,
    NEW_WORK,
    OTHER_FUNCTIONS,
    PLAN,
    RECOVERY,
    STANDBY,
    cpu_after_kill,
    group_of,
)

BUSY = "import time\nend = time.process_time() + 60\nwhile time.process_time() < end: pass"


@pytest.fixture
def busy_and_asleep() -> Iterator[tuple[int, int]]:
    busy = subprocess.Popen([sys.executable, "-c", BUSY])
    asleep = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        yield busy.pid, asleep.pid
    finally:
        for process in (busy, asleep):
            process.kill()
            process.wait()


def test_the_window_counts_a_busy_process_and_not_a_sleeping_one(
    busy_and_asleep: tuple[int, int],
) -> None:
    busy, asleep = busy_and_asleep
    labels = {busy: "SynthesizeFunction/SynthesizeFunctionChunks#0", asleep: "moto"}
    sampler = CpuSampler(lambda: labels, period_s=0.1).start()
    time.sleep(0.3)  # past the interpreters' start
    start = time.time()
    time.sleep(1.5)
    end = time.time()
    time.sleep(0.2)
    sampler.stop()

    window_s, seconds = sampler.between(start, end)
    # The samples nearest the window's ends (a loaded machine may delay the sampler).
    assert window_s == pytest.approx(1.5, abs=0.5)
    # One busy thread holds at most one core. How much of one it got depends on what else
    # the machine runs (the other pytest worker, say): a tenth is a floor no scheduler
    # undercuts for a runnable process over a second and more.
    assert (
        0.1 * window_s
        < seconds["SynthesizeFunction/SynthesizeFunctionChunks#0"]
        <= (window_s + 0.1)
    )
    assert seconds["moto"] < 0.05
    assert THIS_PROCESS in seconds  # the sampler's own process is always counted

    shares = cpu_after_kill(sampler, start, end, cores=2)
    assert shares.cpu_s[NEW_WORK] == pytest.approx(
        seconds["SynthesizeFunction/SynthesizeFunctionChunks#0"], abs=0.06
    )
    assert sum(shares.cpu_s.values()) == pytest.approx(shares.window_s * 2, abs=0.2)
    assert shares.cpu_s[IDLE] > 0
    assert "not the service on AWS" in shares.line()


def test_a_process_gone_before_the_window_ends_is_left_out(
    busy_and_asleep: tuple[int, int],
) -> None:
    busy, _ = busy_and_asleep
    process = subprocess.Popen([sys.executable, "-c", BUSY])
    labels = {busy: "moto", process.pid: "PlanFunction/PlanFunctionRequests#0"}
    sampler = CpuSampler(lambda: labels, period_s=0.1).start()
    time.sleep(0.5)
    process.kill()
    process.wait()
    assert process_cpu_s(process.pid) == 0.0  # reaped: /proc has nothing for it
    time.sleep(0.3)
    sampler.stop()
    _, seconds = sampler.between(sampler.samples[0].at, sampler.samples[-1].at)
    assert "PlanFunction/PlanFunctionRequests#0" not in seconds
    assert seconds["moto"] > 0


def test_labels_fall_into_the_groups_the_summary_names() -> None:
    assert group_of("moto") == MOTO
    assert group_of(THIS_PROCESS) == DRILL
    assert group_of("SynthesizeFunction/SynthesizeFunctionChunks#1") == NEW_WORK
    assert group_of("SynthesizeFunction/SynthesizeFunctionLongChunks#0") == NEW_WORK
    assert group_of("SynthesizeFunction/SynthesizeFunctionRecoveryChunks#0") == RECOVERY
    assert group_of("PlanFunction/PlanFunctionRequests#0") == PLAN
    assert group_of("PlanFunction/PlanFunctionStandby#1") == STANDBY
    assert group_of("ApiFunction/http#0") == OTHER_FUNCTIONS


def test_no_window_says_so() -> None:
    sampler = CpuSampler(dict)
    assert sampler.between(0.0, 1.0) == (0.0, {})
    assert cpu_after_kill(sampler, 0.0, 1.0).line() == "CPU after the kill: not measured"
