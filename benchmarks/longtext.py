"""Long text through the local stack: audio seconds per wall second against the engine.

The ~2,800-character corpus text (benchmarks/corpus/long.txt, the demo's long text)
published to the local stack (moto server, the real handlers in runner processes, the
real voice), timed from publish to its SynthesisCompleted; each run paired with the
engine alone on the same text in this process right after it (the machine is shared:
ratios are of pairs). Throughput is the request's audio seconds over its wall seconds;
the ratio is the stack's over the engine's (target >= 0.8). Also audio seconds per CPU
second (the stack's: moto's, the runners' and the client's CPU during the request): on
a shared machine more processes take a larger share of the cores from other users, so
the wall ratio can flatter a layout with more processes; the CPU ratio cannot. Asserts
nothing.

The local stack runs ``--concurrency`` runner processes per SynthesizeFunction event
source (Lambda runs as many instances as the queue's backlog asks, up to the lane's
cap): each value given is its own stack, started afresh, so the figures show what the
process layout costs or gains on this machine.

Usage: python benchmarks/longtext.py [--runs 3] [--concurrency 1 2] [--logs DIR]
"""

import argparse
import os
import statistics
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from voxflow.aws import AwsClients, AwsSettings
from voxflow.client import StackTarget, VoxflowClient
from voxflow.engine import Engine
from voxflow.events import SynthesisCompleted
from voxflow.settings import EngineSettings
from voxflow.voices import VoiceRegistry
from voxflow_local.cpu import process_cpu_s
from voxflow_local.stack import LocalStack

TEXT = (Path(__file__).parent / "corpus" / "long.txt").read_text(encoding="utf-8").strip()
TARGET = 0.8


def median(values: Iterable[float]) -> float:
    return statistics.median(list(values))


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Rate:
    """Audio seconds per wall second, and per CPU second spent on them."""

    wall: float
    cpu: float


def engine_rate(engine: Engine) -> Rate:
    """The engine alone on TEXT, in this process."""
    started, started_cpu = time.perf_counter(), time.process_time()
    audio_s = sum(chunk.duration_s for chunk in engine.synthesize_text(TEXT, "joe"))
    return Rate(
        audio_s / (time.perf_counter() - started), audio_s / (time.process_time() - started_cpu)
    )


def cpu_seconds(pids: list[int]) -> float:
    """User and system CPU seconds the processes have used so far (threads included)."""
    return sum(process_cpu_s(pid) for pid in pids)


def loadavg() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def measure(engine: Engine, concurrency: int, runs: int, logs: Path) -> list[tuple[Rate, Rate]]:
    """(the stack's rate, the engine's) per run, on a stack of ``concurrency`` runners
    per synthesize event source. The stack's CPU: moto's, every runner's and this
    process's (the client) while the request ran."""
    pairs = []
    progress(f"concurrency {concurrency}: starting the local stack (load {loadavg()})")
    stack = LocalStack(
        retry_visibility_s=1,
        log_dir=logs / f"concurrency-{concurrency}",
        concurrency={"SynthesizeFunction": concurrency},
    )
    with stack:
        clients = AwsClients(AwsSettings.local(stack.url, stack.region))
        with VoxflowClient(clients, StackTarget.from_resources(stack.stack.resources)) as client:
            client.synthesize("Warm up the runners.", timeout_s=300)
            client.synthesize("Warm up the long lane. " * 6, timeout_s=300)
            for run in range(runs):
                # A noise scale differing in the 6th decimal is a new key, same work.
                params = {"noise_scale": 0.667 + (concurrency * 100 + run + 1) * 1e-6}
                cpu_before = cpu_seconds(stack.pids) + time.process_time()
                started = time.perf_counter()
                outcome = client.synthesize(TEXT, format="mp3", params=params, timeout_s=1800)
                wall = time.perf_counter() - started
                cpu = cpu_seconds(stack.pids) + time.process_time() - cpu_before
                terminal = outcome.terminal
                assert isinstance(terminal, SynthesisCompleted), terminal
                assert terminal.cache == "miss"
                ours = Rate(terminal.duration_s / wall, terminal.duration_s / cpu)
                alone = engine_rate(engine)
                pairs.append((ours, alone))
                progress(
                    f"  run {run + 1}: {terminal.duration_s:.1f} s of audio in {wall:.1f} s, "
                    f"{cpu:.1f} CPU s: {ours.wall:.2f}x wall ({ours.cpu:.2f} per CPU s), "
                    f"engine {alone.wall:.2f}x ({alone.cpu:.2f}), "
                    f"ratio {ours.wall / alone.wall:.2f} (load {loadavg()})"
                )
    return pairs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--logs", type=Path, default=Path("build/longtext-logs"))
    args = parser.parse_args()
    logs = args.logs / time.strftime("%Y%m%d-%H%M%S")
    load_before = loadavg()
    engine = Engine(VoiceRegistry.default(), EngineSettings())
    engine.warm_up("joe")
    results = {n: measure(engine, n, args.runs, logs) for n in args.concurrency}
    print(
        f"machine load (1/5/15 min) before {load_before}, after {loadavg()}; {os.cpu_count()} cores"
    )
    print(f"{len(TEXT)} characters, {args.runs} runs per layout, each paired with the engine")
    print("audio s per wall s (x) and per CPU s; ratios: stack/engine, medians of pairs")
    print(
        f"{'runners/lane':>12} {'stack x':>8} {'engine x':>9} {'ratio':>6}"
        f" {'stack /cpu':>11} {'engine /cpu':>12} {'ratio':>6}  (target: wall ratio >= {TARGET})"
    )
    for concurrency, pairs in results.items():
        print(
            f"{concurrency:>12} {median(s.wall for s, _ in pairs):8.2f}"
            f" {median(e.wall for _, e in pairs):9.2f}"
            f" {median(s.wall / e.wall for s, e in pairs):6.2f}"
            f" {median(s.cpu for s, _ in pairs):11.2f} {median(e.cpu for _, e in pairs):12.2f}"
            f" {median(s.cpu / e.cpu for s, e in pairs):6.2f}"
        )
    print(f"\nlogs: {logs}")


if __name__ == "__main__":
    main()
