"""Where the machine's cores went from the kill until the last new request's answer.

The new requests' p99 is decided in that window, and on the local stack the secondary's
functions share it with processes that are not the service on AWS: moto (AWS's own
servers) and the drill's process (the app's client, the replicator standing in for S3
replication, global tables and the global endpoint, and the health checks). Their share
is CPU the service would have to itself on AWS; the recovery lane's share is what the
takeovers took from new work. Read from /proc (voxflow_local.cpu), by process.
"""

import os
from dataclasses import dataclass, field

from voxflow_local.cpu import THIS_PROCESS, CpuSampler

# Groups, in the order the summary line gives them.
NEW_WORK = "synthesize (new work's lanes)"
RECOVERY = "synthesize (recovery lane)"
PLAN = "plan (requests)"
STANDBY = "plan (standby)"
OTHER_FUNCTIONS = "other functions"
MOTO = "moto (AWS's side)"
DRILL = "the drill (client, replicator, health checks)"
IDLE = "idle, or processes outside the stack"
NOT_THE_SERVICE = (MOTO, DRILL)


def group_of(label: str) -> str:
    """A process label (``LocalStack.process_labels``, or this process's) → its group."""
    if label == THIS_PROCESS:
        return DRILL
    if label == "moto":
        return MOTO
    function, _, source = label.partition("/")
    if function == "SynthesizeFunction":
        return RECOVERY if source.startswith("SynthesizeFunctionRecovery") else NEW_WORK
    if function == "PlanFunction":
        return STANDBY if source.startswith("PlanFunctionStandby") else PLAN
    return OTHER_FUNCTIONS


@dataclass
class CpuAfterKill:
    """CPU seconds by group between the kill and the last answer to a new request."""

    window_s: float = 0.0
    cores: int = 0
    cpu_s: dict[str, float] = field(default_factory=dict)  # group → CPU seconds, idle too

    def share(self, group: str) -> float:
        capacity = self.window_s * self.cores
        return self.cpu_s.get(group, 0.0) / capacity if capacity else 0.0

    def line(self) -> str:
        if not self.window_s:
            return "CPU after the kill: not measured"
        parts = ", ".join(
            f"{name} {seconds:.1f} s ({self.share(name):.0%})"
            for name, seconds in sorted(self.cpu_s.items(), key=lambda item: -item[1])
        )
        outside = sum(self.share(name) for name in NOT_THE_SERVICE)
        return (
            f"CPU from the kill to the last new request's answer ({self.window_s:.1f} s on "
            f"{self.cores} cores): {parts}; not the service on AWS (moto, the drill): "
            f"{outside:.0%}"
        )


def cpu_after_kill(
    sampler: CpuSampler, kill_at: float, last_new_answer_at: float, cores: int | None = None
) -> CpuAfterKill:
    cores = cores or os.cpu_count() or 1
    window_s, by_label = sampler.between(kill_at, last_new_answer_at)
    result = CpuAfterKill(window_s=round(window_s, 1), cores=cores)
    for label, seconds in by_label.items():
        name = group_of(label)
        result.cpu_s[name] = result.cpu_s.get(name, 0.0) + seconds
    used = sum(result.cpu_s.values())
    result.cpu_s[IDLE] = max(0.0, window_s * cores - used)  # other processes count here too
    result.cpu_s = {name: round(seconds, 1) for name, seconds in result.cpu_s.items()}
    return result
