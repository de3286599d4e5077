"""Spinning benchmark: onnxruntime's spin-waiting threads on cores shared by processes.

The local stack runs several engine processes (the primary's worker, the secondary's
two lane runners) beside moto and the plan runners on a few cores. This runs
``processes`` engines at once, each synthesizing the same sentences, with
``allow_spinning`` on (onnxruntime's default) and off, interleaved, and prints the
aggregate throughput (seconds of audio per wall second) and the CPU seconds spent
per second of audio. One process alone is the baseline.

Usage: python benchmarks/spinning.py [--processes 1 3] [--repeats 2]
"""

import argparse
import multiprocessing as mp
import resource
import statistics
import time
from dataclasses import replace
from multiprocessing.synchronize import Barrier
from pathlib import Path

from voxflow.engine import Engine
from voxflow.settings import EngineSettings
from voxflow.voices import VoiceRegistry

CORPUS = Path(__file__).parent / "corpus"
SAMPLE_RATE = 22_050  # joe-medium
Row = tuple[float, float, float]  # audio seconds, wall seconds, CPU seconds


def _synthesize(allow_spinning: bool, barrier: Barrier, results: "mp.Queue[Row]") -> None:
    engine = Engine(
        VoiceRegistry.default(), replace(EngineSettings(), allow_spinning=allow_spinning)
    )
    engine.warm_up("joe")
    text = (CORPUS / "medium.txt").read_text(encoding="utf-8").strip()
    barrier.wait()
    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    samples = sum(len(chunk.pcm) for chunk in engine.synthesize_text(text, "joe"))
    wall = time.perf_counter() - started
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    results.put((samples / SAMPLE_RATE, wall, cpu))


def run(processes: int, allow_spinning: bool) -> tuple[float, float]:
    """(audio seconds per wall second, CPU seconds per audio second) of ``processes`` at once."""
    context = mp.get_context("spawn")
    barrier = context.Barrier(processes)
    results: mp.Queue[Row] = context.Queue()
    workers = [
        context.Process(target=_synthesize, args=(allow_spinning, barrier, results))
        for _ in range(processes)
    ]
    for worker in workers:
        worker.start()
    rows = [results.get(timeout=600) for _ in workers]
    for worker in workers:
        worker.join()
    audio = sum(r[0] for r in rows)
    wall = max(r[1] for r in rows)  # they started together
    cpu = sum(r[2] for r in rows)
    return audio / wall, cpu / audio


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 3])
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    print(f"{'processes':>9} {'spinning':>8} {'audio s / wall s':>17} {'cpu s / audio s':>16}")
    for processes in args.processes:
        figures: dict[bool, list[tuple[float, float]]] = {True: [], False: []}
        for _ in range(args.repeats):  # interleaved: drift in machine load hits both alike
            for spinning in (True, False):
                figures[spinning].append(run(processes, spinning))
        for spinning in (True, False):
            speed = statistics.median(f[0] for f in figures[spinning])
            cpu = statistics.median(f[1] for f in figures[spinning])
            print(f"{processes:>9} {spinning!s:>8} {speed:>17.2f} {cpu:>16.3f}")
        on = statistics.median(f[0] for f in figures[True])
        off = statistics.median(f[0] for f in figures[False])
        print(f"{processes:>9} {'off/on':>8} {off / on:>17.2f}")


if __name__ == "__main__":
    main()
