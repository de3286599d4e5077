"""Pipeline benchmark: the local stack end to end against the engine alone.

Prints its table alone on stdout (progress goes to stderr; the runners' logs to
``--logs``/<time>/, as the demo's do); asserts nothing. On the local stack (moto
server, the real handlers in runner processes, the real voice):
- cache misses of a ~1,000-character text, each paired with the engine alone on the
  same text right after it (the machine is shared: ratios are of pairs);
- where a miss's time goes, from the service's own timeline logs
  (voxflow.pipeline.timeline): plan, queue waits, synthesis, storage, assembly;
- the first ChunkSynthesized of a ~3,000-character text against the engine's time for
  its first sentence, paired the same way, with its own breakdown;
- cache hits: the service's own time (plan's receipt to the reply's send, from the
  logs) and the end-to-end latency, against the transport floor: the same round
  trip through bus, queue and reply queue with no work (benchmarks/transport_floor.py),
  and the service's own time against the hit's floor: the three rounds of calls any
  hit must make, straight to moto with no product code, once after each hit
  (benchmarks/hit_floor.py).

The stack's engines spin-wait as onnxruntime defaults (``--spinning on``), as the
engine alone here does and as on Lambda, where each environment has its own vCPUs: the
benchmark sends one request at a time. ``--spinning off`` is the local stack's own
default, for several engines sharing the cores (docs/pipeline.md).

``--cores split`` places the processes as Lambda does (benchmarks/cores.py): the
synthesize runners and the engine alone on a core of their own, one onnxruntime thread
each, and moto (AWS's servers), the other functions and the client on the other cores.
The miss's ratio then holds the pipeline's own cost (its waits on AWS's answers, its
handler's work on the engine's core) without moto's CPU, which on shared cores is wall
time of the synthesis (the "CPU seconds during a miss" lines).

Usage: python benchmarks/pipeline.py [--hits 200] [--misses 3] [--logs build/pipeline-logs]
                                     [--spinning on|off] [--cores shared|split]
"""

import argparse
import contextlib
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from breakdown import (
    FIRST_CHUNK_PARTS,
    HIT_PARTS,
    MISS_PARTS,
    PLAN_STEPS,
    Steps,
    first_chunk_parts,
    hit_parts,
    medians,
    miss_parts,
    plan_steps,
)
from breakdown import read_steps as read_timeline
from cores import CoreSplit, pin_process
from hit_floor import ROUND_NAMES, ROUNDS, HitFloor
from transport_floor import TransportFloor

from voxflow.aws import AwsClients, AwsSettings
from voxflow.client import Outcome, StackTarget, VoxflowClient
from voxflow.config import variables
from voxflow.engine import Engine, SynthesisParams
from voxflow.events import SynthesisCompleted
from voxflow.settings import EngineSettings
from voxflow.text import normalize_text, split_into_chunks
from voxflow.voices import VoiceRegistry
from voxflow_local.cpu import THIS_PROCESS, grouped, own_cpu_s, snapshot, spent
from voxflow_local.stack import LocalStack

CORPUS = Path(__file__).parent / "corpus"
PHRASE = "Your order has shipped."
MISS_TARGET, FIRST_CHUNK_TARGET = 1.10, 1.5
CPU_GROUPS = (
    ("synthesize runners (the engine, the chunks' bookkeeping)", "synthesize"),
    ("moto (AWS's side of every call)", "moto"),
    ("other runners (plan, the other lane, the API)", "other runners"),
    ("this process (the client)", THIS_PROCESS),
    ("the engine alone on the same text, after it", "engine alone"),
)
SERVICE_TARGET_S, OVER_FLOOR_TARGET_S = 0.015, 0.025
HIT_TAIL_S = 0.05


def text_of(chars: int) -> str:
    """Whole sentences of the long corpus text, up to ``chars`` characters."""
    sentences = split_into_chunks(normalize_text((CORPUS / "long.txt").read_text()))
    text = ""
    for sentence in sentences:
        if len(text) + len(sentence) + 1 > chars:
            break
        text = f"{text} {sentence}".strip()
    return text


def engine_seconds(
    engine: Engine,
    text: str,
    params: SynthesisParams,
    repeats: int = 1,
    cores: CoreSplit | None = None,
) -> float:
    return statistics.median(engine_run(engine, text, params, cores)[0] for _ in range(repeats))


def engine_run(
    engine: Engine, text: str, params: SynthesisParams, cores: CoreSplit | None = None
) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) of the engine alone on ``text``; on
    the engine's core where the cores are split."""
    with cores.engine_alone() if cores is not None else contextlib.nullcontext():
        cpu, started = own_cpu_s(), time.perf_counter()
        for _chunk in engine.synthesize_text(text, "joe", params):
            pass
        return time.perf_counter() - started, own_cpu_s() - cpu


def cpu_group(label: str) -> str:
    if label in ("moto", THIS_PROCESS):
        return label
    return "synthesize" if label.startswith("SynthesizeFunction") else "other runners"


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class Clock:
    """Epoch seconds of the client's monotonic readings (the logs carry epoch times)."""

    def __init__(self) -> None:
        self.offset = time.time() - time.monotonic()

    def epoch(self, monotonic: float) -> float:
        return monotonic + self.offset


def timed(synthesize: Callable[[], Outcome]) -> tuple[Outcome, float, float]:
    """(outcome, publish time as epoch, seconds to the terminal event)."""
    published_at, started = time.time(), time.monotonic()
    outcome = synthesize()
    assert isinstance(outcome.terminal, SynthesisCompleted), outcome.terminal
    return outcome, published_at, time.monotonic() - started


@dataclass
class Measured:
    text_1k: str
    text_3k: str
    misses: list[tuple[str, float, float, float, float]] = field(default_factory=list)
    firsts: list[tuple[str, float, int, float, float, float]] = field(default_factory=list)
    hits: list[tuple[str, float, float]] = field(default_factory=list)
    # Per miss: CPU seconds by process group during it, and the engine alone's after it.
    miss_cpu: list[dict[str, float]] = field(default_factory=list)
    floor_s: list[float] = field(default_factory=list)
    # The hit's calls alone, straight to moto (benchmarks/hit_floor.py), one per hit:
    # each round's seconds.
    hit_floor: list[tuple[float, float, float]] = field(default_factory=list)
    engine_phrase: float = 0.0


def measure(
    measured: Measured,
    engine: Engine,
    client: VoxflowClient,
    runs: int,
    labels: dict[int, str],
    *,
    cores: CoreSplit | None,
) -> None:
    """Misses and first chunks, each paired with the engine right after it; the CPU
    that the stack's processes (``labels``) and this one spent during each miss."""
    default, clock = SynthesisParams(), Clock()
    first_sentence = split_into_chunks(normalize_text(measured.text_3k))[0]
    for run in range(runs):
        # A noise scale differing in the 6th decimal is a new key, same work.
        params = {"noise_scale": 0.667 + (run + 1) * 1e-6}
        cpu_before = snapshot(labels)
        outcome, published_at, seconds = timed(
            lambda p=params: client.synthesize(  # type: ignore[misc]
                measured.text_1k, format="wav", params=p, timeout_s=600
            )
        )
        assert outcome.terminal_at is not None
        cpu = grouped(spent(cpu_before, snapshot(labels)), cpu_group)
        paired, cpu["engine alone"] = engine_run(engine, measured.text_1k, default, cores)
        measured.miss_cpu.append(cpu)
        measured.misses.append(
            (outcome.request_id, published_at, seconds, outcome.terminal_at, paired)
        )
        progress(f"miss {run + 1}: {seconds:.2f} s, engine {paired:.2f} s")
    for run in range(runs):
        params = {"noise_scale": 0.667 + (run + 1) * 1e-5}
        outcome, published_at, _ = timed(
            lambda p=params: client.synthesize(  # type: ignore[misc]
                measured.text_3k, format="mp3", params=p, timeout_s=900
            )
        )
        arrival = clock.epoch(outcome.chunk_arrivals[0])
        seconds = arrival - published_at
        paired = engine_seconds(engine, first_sentence, default, cores=cores)
        index = outcome.chunks[0].index
        measured.firsts.append((outcome.request_id, published_at, index, arrival, seconds, paired))
        progress(f"first chunk {run + 1}: {seconds:.2f} s, engine {paired:.2f} s")


def measure_hits(
    measured: Measured,
    engine: Engine,
    client: VoxflowClient,
    count: int,
    stack: LocalStack,
    *,
    cores: CoreSplit | None,
) -> None:
    """Each hit followed by the hit's floor once (benchmarks/hit_floor.py, copying the
    first hit's items): the two share whatever load the machine has at that moment."""
    client.synthesize(PHRASE, format="mp3", timeout_s=120)
    floor: HitFloor | None = None
    with contextlib.ExitStack() as stack_of_floor:
        for _ in range(count):
            outcome, published_at, seconds = timed(
                lambda: client.synthesize(PHRASE, format="mp3", timeout_s=60)
            )
            assert outcome.completed is not None
            assert outcome.completed.cache == "hit"
            measured.hits.append((outcome.request_id, published_at, seconds))
            # The hit's tail (its job marked sent, the hit counted) runs after its
            # reply: let it end, or the floor shares moto with it.
            time.sleep(HIT_TAIL_S)
            if floor is None:
                floor = stack_of_floor.enter_context(HitFloor(stack, outcome.request_id))
                floor.hit_s()  # its clients' first connections
            measured.hit_floor.append(floor.hit_s())
    measured.engine_phrase = engine_seconds(
        engine, PHRASE, SynthesisParams(), repeats=5, cores=cores
    )


def own_ratio(parts: list[dict[str, float]], runs: list[tuple[Any, ...]], wall: int) -> float:
    """Median of wall time / the synthesis inside the service, run by run: the overhead
    alone, whatever the load did to the engine between the run and its pairing."""
    return statistics.median(
        float(run[wall]) / part["synthesis"] for part, run in zip(parts, runs, strict=True)
    )


def report(measured: Measured, steps: dict[str, Steps], load: list[tuple[float, ...]]) -> None:
    misses, firsts, hits, floor_s = (
        measured.misses,
        measured.firsts,
        measured.hits,
        measured.floor_s,
    )
    miss_runs = [miss_parts(steps[rid], pub, done) for rid, pub, _, done, _ in misses]
    first_runs = [first_chunk_parts(steps[rid], pub, i, at) for rid, pub, i, at, _, _ in firsts]
    service_s = [steps[rid].planned[0]["service_s"] for rid, _, _ in hits]
    hit_s = [seconds for _, _, seconds in hits]
    miss_ratios = [seconds / engine for _, _, seconds, _, engine in misses]
    first_ratios = [seconds / engine for *_, seconds, engine in firsts]
    floor_p99 = percentile(floor_s, 0.99)
    before, after = ("/".join(f"{x:.1f}" for x in averages) for averages in load)
    print(f"machine load (1/5/15 min) before {before}, after {after}; {os.cpu_count()} cores")

    print(f"\ncache miss, {len(measured.text_1k)} chars, {len(misses)} runs, each paired:")
    for (_, _, seconds, _, engine), ratio in zip(misses, miss_ratios, strict=True):
        print(f"  end to end {seconds:.2f} s, engine {engine:.2f} s, ratio {ratio:.2f}")
    print(f"  median ratio {statistics.median(miss_ratios):.2f} (target <= {MISS_TARGET})")
    print(
        "  against the service's own synthesis time (robust to load that moves between "
        f"runs): median {own_ratio(miss_runs, misses, 2):.2f}"
    )
    parts = medians(miss_runs)
    print("  where a miss's time goes (median of runs; the parts add up to the whole):")
    for label, name in MISS_PARTS:
        print(f"    {label:56} {ms(parts[name]):>8}")
    print(f"    {'sum':56} {ms(sum(parts[name] for _, name in MISS_PARTS)):>8}")
    print(
        f"      of which at the {parts['batches'] - 1:.0f} batch ends: the batch's last chunk "
        f"stored and reported {ms(parts['batch_tail'])}, return, delete and next receive "
        f"{ms(parts['batch_poll'])}, next batch's reads {ms(parts['batch_setup'])}"
    )
    print(
        f"    alongside synthesis: storage {ms(parts['storage_sum'])}, report (job, events) "
        f"{ms(parts['report_sum'])}, in {parts['batches']:.0f} batches"
    )
    cpu = medians(measured.miss_cpu)
    others = sum(cpu[name] for name in ("moto", "other runners", THIS_PROCESS))
    print(
        "  CPU seconds during a miss (median of runs; what shares the engine's cores here, "
        "not on Lambda):"
    )
    for label, name in CPU_GROUPS:
        print(f"    {label:56} {cpu[name]:8.2f}")
    print(f"    beside the synthesize runner: {others / cpu['synthesize']:.0%} of its CPU")
    alone = cpu["engine alone"]
    print(
        f"    the stack's CPU ÷ the engine alone's: {(cpu['synthesize'] + others) / alone:.2f} "
        f"(the runner {cpu['synthesize'] / alone:.2f}, moto {cpu['moto'] / alone:.2f}, the rest "
        f"{(others - cpu['moto']) / alone:.2f}); on cores shared by all and kept busy by the "
        "engine alone, the miss's ratio is about that"
    )

    print(f"\nfirst ChunkSynthesized of {len(measured.text_3k)} chars, {len(firsts)} runs:")
    for (*_, seconds, engine), ratio in zip(firsts, first_ratios, strict=True):
        print(f"  {ms(seconds)}, engine's first sentence {ms(engine)}, ratio {ratio:.2f}")
    print(f"  median ratio {statistics.median(first_ratios):.2f} (target <= {FIRST_CHUNK_TARGET})")
    print(
        "  against the service's own synthesis of that chunk: "
        f"median {own_ratio(first_runs, firsts, 4):.2f}"
    )
    own_ms = [
        float(run[4]) - part["synthesis"] for part, run in zip(first_runs, firsts, strict=True)
    ]
    print(
        "  the service's own time around that synthesis (wall minus it; load moves it less "
        f"than the ratios): median {ms(statistics.median(own_ms))}"
    )
    parts = medians(first_runs)
    for label, name in FIRST_CHUNK_PARTS:
        print(f"    {label:56} {ms(parts[name]):>8}")
    planned = medians([plan_steps(steps[rid]) for rid, *_ in firsts])
    print(
        "      of which plan's steps (the queue step sends every task; the part above ends "
        "at the first batch): " + ", ".join(f"{name} {ms(planned[name])}" for name in PLAN_STEPS)
    )

    print(f"\ncache hit, {len(hits)} requests of {PHRASE!r} (controls on, as deployed):")
    print(
        f"  service's own time, receipt -> reply sent: p50 {ms(percentile(service_s, 0.5))}, "
        f"p99 {ms(percentile(service_s, 0.99))} (target p99 <= {ms(SERVICE_TARGET_S)})"
    )
    print(
        f"  end to end: p50 {ms(percentile(hit_s, 0.5))}, p99 {ms(percentile(hit_s, 0.99))} "
        f"(target p99 <= floor p99 + {ms(OVER_FLOOR_TARGET_S)} = "
        f"{ms(floor_p99 + OVER_FLOOR_TARGET_S)})"
    )
    print(
        f"  transport floor, {len(floor_s)} round trips with no work: "
        f"p50 {ms(percentile(floor_s, 0.5))}, p99 {ms(floor_p99)}"
    )
    hit_floor_s = [sum(rounds) for rounds in measured.hit_floor]
    print(
        f"  the hit's floor, {len(hit_floor_s)} times the calls any hit must make, straight "
        f"to moto ({ROUNDS}): p50 {ms(percentile(hit_floor_s, 0.5))}, "
        f"p99 {ms(percentile(hit_floor_s, 0.99))}; the service's own time over it: "
        f"p50 +{ms(percentile(service_s, 0.5) - percentile(hit_floor_s, 0.5))}, "
        f"p99 +{ms(percentile(service_s, 0.99) - percentile(hit_floor_s, 0.99))}"
    )
    for index, name in enumerate(ROUND_NAMES):
        values = [rounds[index] for rounds in measured.hit_floor]
        print(
            f"    floor round {index + 1}, {name:50} "
            f"{ms(percentile(values, 0.5)):>6} {ms(percentile(values, 0.99)):>6}"
        )
    print(f"  engine for the phrase {ms(measured.engine_phrase)}")
    report_hit_parts(hits, steps)


def report_hit_parts(hits: list[tuple[str, float, float]], steps: dict[str, Steps]) -> None:
    runs = [hit_parts(steps[rid].planned[0], pub, seconds) for rid, pub, seconds in hits]
    answered = [run for run in runs if run is not None]
    if not answered:
        return
    print(f"  where a hit's time goes ({len(answered)} answered at once), p50 and p99 of each:")
    for label, name in HIT_PARTS:
        values = [run[name] for run in answered]
        print(f"    {label:58} {ms(percentile(values, 0.5)):>7} {ms(percentile(values, 0.99)):>7}")
    sums = [sum(run.values()) for run in answered]
    p50, p99 = ms(percentile(sums, 0.5)), ms(percentile(sums, 0.99))
    print(f"    {'sum (end to end)':58} {p50:>7} {p99:>7}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--hits", type=int, default=200)
    parser.add_argument("--misses", type=int, default=3, help="misses and first-chunk runs")
    parser.add_argument("--logs", type=Path, default=Path("build/pipeline-logs"))
    parser.add_argument(
        "--spinning",
        choices=("on", "off"),
        default="on",
        help="the stack's engines spin-wait, as onnxruntime defaults and the engine alone "
        "here does (on: one request at a time, as each Lambda environment has its own "
        "vCPUs); off: the local stack's default, where several engines share the cores",
    )
    parser.add_argument(
        "--runners",
        type=int,
        default=1,
        help="runner processes per event source (1: one request's batches one after another; "
        "on Lambda a lane's batches run concurrently, each on vCPUs of its own)",
    )
    parser.add_argument(
        "--cores",
        choices=("shared", "split"),
        default="shared",
        help="shared: every process on every core (the local stack as it runs); split: the "
        "engine on a core of its own with one onnxruntime thread, in the stack and alone, "
        "and moto, the other runners and the client on the rest (benchmarks/cores.py)",
    )
    args = parser.parse_args()
    log_dir = args.logs / time.strftime("%Y%m%d-%H%M%S")
    load_before = os.getloadavg()
    cores = CoreSplit.of_this_machine() if args.cores == "split" else None
    env = {variables.ALLOW_SPINNING.name: "1" if args.spinning == "on" else "0"}
    if cores is not None:
        pin_process(os.getpid(), cores.others)  # the client; the engine alone moves to its core
        env[variables.INTRA_OP_THREADS.name] = "1"
    engine = Engine(
        VoiceRegistry.default(), EngineSettings(intra_op_threads=1 if cores is not None else 0)
    )
    engine.warm_up("joe")
    measured = Measured(text_of(1000), text_of(3000))
    progress(f"starting the local stack (logs in {log_dir})")
    with LocalStack(
        retry_visibility_s=1, log_dir=log_dir, extra_env=env, concurrency=args.runners
    ) as stack:
        clients = AwsClients(AwsSettings.local(stack.url, stack.region))
        with VoxflowClient(clients, StackTarget.from_resources(stack.stack.resources)) as client:
            client.synthesize("Warm up the runners.", timeout_s=120)
            client.synthesize("Warm up the long lane. " * 6, timeout_s=120)
            if cores is not None:
                cores.pin_stack(stack.process_labels)
            measure(measured, engine, client, args.misses, stack.process_labels, cores=cores)
            measure_hits(measured, engine, client, args.hits, stack, cores=cores)
            progress("hits done; the transport floor")
            with TransportFloor(clients) as floor:
                floor.round_trip_s()
                measured.floor_s = [floor.round_trip_s() for _ in range(args.hits)]
    # The runners have exited: their logs are complete.
    print(f"the stack's engines spin-wait: {args.spinning} (the engine alone's: on)")
    print(f"cores: {cores.describe() if cores is not None else 'shared by every process'}")
    report(measured, read_timeline(log_dir), [load_before, os.getloadavg()])
    print(f"\nlogs: {log_dir}")


if __name__ == "__main__":
    main()
