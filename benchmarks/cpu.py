"""CPU seconds of processes, read from /proc: what shared the cores during a request.

On the local stack moto (standing in for AWS's own servers), the other runners and the
client run on the same cores as the engine; on Lambda a function has its vCPUs to
itself. The CPU each one spent during a miss shows how much of the engine's slowdown
inside the stack is the others' work, whatever the machine's load did to wall times.
"""

import os
import resource
from collections.abc import Callable, Mapping
from pathlib import Path

_TICK = os.sysconf("SC_CLK_TCK")
THIS_PROCESS = "this process (client)"


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of ``pid`` (all its threads); 0 once it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
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
