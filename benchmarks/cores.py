"""The engine's cores apart from AWS's: the local stack as Lambda places it.

On Lambda a function's invocation has its vCPUs to itself, and the AWS services it
calls run on other machines. On the local stack moto (AWS's side of every call), the
other functions and the client share the engine's cores, so every CPU second they
spend during a miss is wall time of the miss's synthesis. ``CoreSplit`` gives the
engine one core of its own (the last), in the stack's synthesize runners and in the
engine alone alike, with one onnxruntime thread in both; everything else runs on the
other cores. What a miss then costs over the engine alone is the pipeline's own: its
waits on AWS's answers and its handler's bookkeeping on the engine's core, as on a
one-vCPU Lambda function.

Linux only (``sched_setaffinity``). A thread's affinity is its own: a process is pinned
thread by thread (/proc/PID/task), and threads it starts later inherit their creator's.
"""

import contextlib
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class CoreSplit:
    engine: frozenset[int]
    others: frozenset[int]

    @classmethod
    def of_this_machine(cls) -> "CoreSplit":
        cores = sorted(os.sched_getaffinity(0))
        if len(cores) < 2:
            raise SystemExit("--cores split needs at least two cores")
        return cls(frozenset(cores[-1:]), frozenset(cores[:-1]))

    def describe(self) -> str:
        return (
            f"split: the synthesize runners and the engine alone on core {_listed(self.engine)}, "
            f"one onnxruntime thread each; moto, the other runners and the client on "
            f"core(s) {_listed(self.others)} (as on Lambda, where AWS's services are not on "
            "the function's vCPUs)"
        )

    def pin_stack(self, labels: Mapping[int, str]) -> None:
        """The stack's processes: synthesize runners to the engine's core, the rest
        (moto, plan, the API, schedules) to the others."""
        for pid, label in labels.items():
            engine = label.startswith("SynthesizeFunction")
            pin_process(pid, self.engine if engine else self.others)

    @contextlib.contextmanager
    def engine_alone(self) -> Iterator[None]:
        """The calling thread on the engine's core for the block (the engine alone
        runs its inference on the calling thread with one onnxruntime thread)."""
        before = os.sched_getaffinity(0)
        os.sched_setaffinity(0, self.engine)
        try:
            yield
        finally:
            os.sched_setaffinity(0, before)


def pin_process(pid: int, cores: frozenset[int]) -> None:
    """Every thread of ``pid`` to ``cores``; threads that end meanwhile are skipped."""
    try:
        threads = [int(entry.name) for entry in Path(f"/proc/{pid}/task").iterdir()]
    except FileNotFoundError:
        return
    for thread in threads:
        with contextlib.suppress(ProcessLookupError):
            os.sched_setaffinity(thread, cores)


def _listed(cores: frozenset[int]) -> str:
    return ",".join(str(core) for core in sorted(cores))
