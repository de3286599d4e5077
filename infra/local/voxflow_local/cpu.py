"""CPU seconds of the local stack's processes, read from /proc: what shared the cores.

On the local stack moto (standing in for AWS's own servers), the other functions and the
client run on the same cores as the engine; on Lambda a function has its vCPUs to
itself. The CPU each one spent during a request, or during a drill's failover, shows how
much of what was measured is the emulation's work rather than the service's, whatever
the machine's load did to wall times (benchmarks/pipeline.py, voxflow_local.drill).
"""

import os
import resource
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Self

from voxflow_local.lifecycle import Lifecycle

_TICK = os.sysconf("SC_CLK_TCK")
THIS_PROCESS = "this process (client)"


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of ``pid`` (all its threads); 0 once it is gone."""
    seconds = cpu_s_if_alive(pid)
    return 0.0 if seconds is None else seconds


def cpu_s_if_alive(pid: int) -> float | None:
    """User + system CPU seconds of ``pid``; None once /proc no longer has it."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


def own_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def snapshot(labels: Mapping[int, str]) -> dict[str, float]:
    """CPU seconds so far, by label (processes of one label summed), and this process's."""
    seconds: dict[str, float] = {THIS_PROCESS: own_cpu_s()}
    for pid, label in labels.items():
        seconds[label] = seconds.get(label, 0.0) + process_cpu_s(pid)
    return seconds


def spent(before: Mapping[str, float], after: Mapping[str, float]) -> dict[str, float]:
    return {label: after[label] - before.get(label, 0.0) for label in after}


def grouped(seconds: Mapping[str, float], group: Callable[[str], str]) -> dict[str, float]:
    sums: dict[str, float] = {}
    for label, value in seconds.items():
        sums[group(label)] = sums.get(group(label), 0.0) + value
    return sums


@dataclass(frozen=True)
class Sample:
    at: float  # epoch seconds
    cpu_s: dict[int, tuple[str, float | None]]  # pid → (label, CPU seconds; None: gone)


class CpuSampler(Lifecycle):
    """Samples the processes ``labels()`` names (read again each time: a restarted runner
    has a new pid) and this one, every ``period_s``, so that the CPU of any window inside
    the sampled time can be read afterwards, when the window's end is known."""

    def __init__(self, labels: Callable[[], Mapping[int, str]], *, period_s: float = 0.5) -> None:
        self._labels = labels
        self.period_s = period_s
        self.samples: list[Sample] = []
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cpu-sampler", daemon=True)

    def start(self) -> Self:
        self._take()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join()
        self._take()

    def _run(self) -> None:
        while not self._stopping.wait(self.period_s):
            self._take()

    def _take(self) -> None:
        labels = {os.getpid(): THIS_PROCESS, **self._labels()}
        now = time.time()
        self.samples.append(
            Sample(now, {pid: (label, cpu_s_if_alive(pid)) for pid, label in labels.items()})
        )

    def between(self, start: float, end: float) -> tuple[float, dict[str, float]]:
        """The window the samples nearest to ``start`` and ``end`` bound (its seconds),
        and each label's CPU seconds in it. A process that started inside the window
        counts from 0; one gone before its end is left out (its last seconds unknown)."""
        if not self.samples:
            return 0.0, {}
        first = min(self.samples, key=lambda sample: abs(sample.at - start))
        last = min(self.samples, key=lambda sample: abs(sample.at - end))
        seconds: dict[str, float] = {}
        for pid, (label, cpu_s) in last.cpu_s.items():
            if cpu_s is None:
                continue
            before = first.cpu_s.get(pid, (label, None))[1] or 0.0
            seconds[label] = seconds.get(label, 0.0) + max(0.0, cpu_s - before)
        return max(0.0, last.at - first.at), seconds
