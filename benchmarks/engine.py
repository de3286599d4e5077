"""Engine benchmark: voxflow against piper's own PiperVoice, in one run.

Prints a table; asserts nothing. Measures, on the fixed corpus in
benchmarks/corpus (20 to ~2,800 characters):
- throughput: seconds of audio per wall-clock second, warm sessions;
- time to first audio (first chunk ready), warm;
- cold start: process spawn to the first byte of audio on stdout for a
  20-character phrase, `voxflow synth --raw` vs `python -m piper --output-raw`, and
  the floor (benchmarks/cold_floor.py: the same session and inference, no voxflow code);
- peak RSS of a `voxflow synth` process on the longest text;
- batch size and execution mode variants, to choose the CPU defaults.

Usage: python benchmarks/engine.py [--repeats N] [--quick] [--json out.json]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import onnxruntime as ort
from piper import PiperVoice

from voxflow.engine import Engine
from voxflow.engine.optimized import find_optimized
from voxflow.settings import EngineSettings, ExecutionMode
from voxflow.voices import VoiceRegistry

CORPUS = Path(__file__).parent / "corpus"
FLOOR = Path(__file__).parent / "cold_floor.py"
TEXTS = ["phrase", "short", "medium", "long"]


def corpus(name: str) -> str:
    return (CORPUS / f"{name}.txt").read_text(encoding="utf-8").strip()


Timing = tuple[float, float, int]


def timed_samples(sample_counts: Iterator[int]) -> Timing:
    """(seconds to the first chunk, total seconds, total samples) of a chunk stream."""
    started = time.perf_counter()
    first = 0.0
    total = 0
    for count in sample_counts:
        if not first:
            first = time.perf_counter() - started
        total += count
    return first, time.perf_counter() - started, total


def piper_run(voice: PiperVoice, text: str) -> Timing:
    return timed_samples(len(chunk.audio_float_array) for chunk in voice.synthesize(text))


def voxflow_run(engine: Engine, text: str) -> Timing:
    return timed_samples(len(chunk.pcm) for chunk in engine.synthesize_text(text, "joe"))


def summarize(runs: list[Timing]) -> dict[str, float]:
    first = statistics.median(r[0] for r in runs)
    wall = statistics.median(r[1] for r in runs)
    audio_s = runs[0][2] / 22050
    return {"first_s": first, "wall_s": wall, "audio_s": audio_s, "throughput": audio_s / wall}


def measure(run: Callable[[], Timing], repeats: int) -> dict[str, float]:
    return summarize([run() for _ in range(repeats)])


def measure_pair(
    run_a: Callable[[], Timing], run_b: Callable[[], Timing], repeats: int
) -> tuple[dict[str, float], dict[str, float]]:
    """Interleaved, first one then the other going first: run order moved either
    engine by about 5 % on this machine, so neither gets the favoured slot."""
    runs_a: list[Timing] = []
    runs_b: list[Timing] = []
    for repeat in range(repeats):
        if repeat % 2:
            runs_b.append(run_b())
            runs_a.append(run_a())
        else:
            runs_a.append(run_a())
            runs_b.append(run_b())
    return summarize(runs_a), summarize(runs_b)


def warm_comparison(repeats: int, texts: list[str]) -> dict[str, dict[str, dict[str, float]]]:
    registry = VoiceRegistry.default()
    joe = registry.get("joe")
    piper_voice = PiperVoice.load(joe.model_path, joe.config_path)
    engine = Engine(registry, EngineSettings())
    piper_run(piper_voice, "Warm up.")
    engine.warm_up("joe")
    results: dict[str, dict[str, dict[str, float]]] = {}
    for name in texts:
        text = corpus(name)
        piper, voxflow = measure_pair(
            partial(piper_run, piper_voice, text), partial(voxflow_run, engine, text), repeats
        )
        results[name] = {"piper": piper, "voxflow": voxflow}
    return results


VARIANTS: list[tuple[ExecutionMode, int, bool]] = [
    ("sequential", 1, False),
    ("sequential", 1, True),
    ("parallel", 1, False),
    ("sequential", 2, False),
    ("sequential", 4, False),
    ("sequential", 8, False),
]


def variants(repeats: int) -> list[dict[str, object]]:
    """Load time and throughput on the medium text by execution mode and batch size."""
    registry = VoiceRegistry.default()
    text = corpus("medium")
    rows: list[dict[str, object]] = []
    for mode, batch, fast in VARIANTS:
        settings = EngineSettings(execution_mode=mode, batch_size=batch, fast_start=fast)
        engine = Engine(registry, settings)
        started = time.perf_counter()
        engine.model("joe")
        load_s = time.perf_counter() - started
        ready_s = load_s + engine.warm_up("joe")
        result = measure(partial(voxflow_run, engine, text), repeats)
        row: dict[str, object] = {"mode": mode, "batch": batch, "fast_start": fast}
        row.update(load_s=load_s, ready_s=ready_s, **result)
        rows.append(row)
    return rows


def first_byte_seconds(command: list[str], stdin: bytes | None) -> float:
    started = time.perf_counter()
    process = subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    assert process.stdin is not None
    assert process.stdout is not None
    if stdin is not None:
        process.stdin.write(stdin)
    process.stdin.close()
    first = process.stdout.read(1)
    elapsed = time.perf_counter() - started
    process.stdout.read()
    process.wait()
    if not first or process.returncode != 0:
        raise RuntimeError(f"{command[:3]} produced no audio (exit {process.returncode})")
    return elapsed


def cold_start(repeats: int) -> dict[str, float]:
    phrase = corpus("phrase")
    voice = VoiceRegistry.default().get("joe")
    model = str(voice.model_path)
    commands = {
        "voxflow_s": ([sys.executable, "-m", "voxflow", "synth", phrase, "--raw"], None),
        "piper_cli_s": (
            [sys.executable, "-m", "piper", "-m", model, "--output-raw"],
            phrase.encode() + b"\n",
        ),
    }
    optimized = find_optimized(voice.model_path, lambda: voice.model_version)
    if optimized is not None:
        floor = [sys.executable, str(FLOOR), str(optimized), str(voice.config_path), phrase]
        commands["floor_s"] = (floor, None)
    runs: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(repeats):  # interleaved, so drift in machine load hits all alike
        for name, (command, stdin) in commands.items():
            runs[name].append(first_byte_seconds(command, stdin))
    figures = {name: statistics.median(times) for name, times in runs.items()}
    # Ratios pair by pair (the runs of one round), steadier than a ratio of medians.
    figures["ratio"] = statistics.median(
        v / p for v, p in zip(runs["voxflow_s"], runs["piper_cli_s"], strict=True)
    )
    if "floor_s" in runs:
        figures["floor_ratio"] = statistics.median(
            f / p for f, p in zip(runs["floor_s"], runs["piper_cli_s"], strict=True)
        )
    return figures


def peak_rss_mb(command: list[str]) -> float:
    """Peak resident memory of a command, from /proc's VmHWM.

    Not ru_maxrss: a forked child inherits the benchmark's own resident size
    until it execs, and ru_maxrss keeps that.
    """
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    status = Path(f"/proc/{process.pid}/status")
    peak_kb = 0
    while process.poll() is None:
        try:
            for line in status.read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak_kb = max(peak_kb, int(line.split()[1]))
        except (OSError, ValueError):
            pass  # exited between poll and read
        time.sleep(0.02)
    if process.returncode != 0:
        raise RuntimeError(f"{command[:4]} failed with exit code {process.returncode}")
    return peak_kb / 1024


def peak_rss(text_name: str) -> dict[str, float]:
    text_file = CORPUS / f"{text_name}.txt"
    out = Path(tempfile.gettempdir())
    voxflow_cmd = [sys.executable, "-m", "voxflow", "synth", "-f", str(text_file)]
    voxflow_cmd += ["-o", str(out / "voxflow-bench.mp3"), "-q"]
    model = str(VoiceRegistry.default().get("joe").model_path)
    piper_cmd = [sys.executable, "-m", "piper", "-m", model, "-i", str(text_file)]
    piper_cmd += ["-f", str(out / "piper-bench.wav")]
    return {"voxflow_mb": peak_rss_mb(voxflow_cmd), "piper_cli_mb": peak_rss_mb(piper_cmd)}


def overall_throughput(warm: dict[str, dict[str, dict[str, float]]], engine: str) -> float:
    audio = sum(pair[engine]["audio_s"] for pair in warm.values())
    return audio / sum(pair[engine]["wall_s"] for pair in warm.values())


def print_warm(warm: dict[str, dict[str, dict[str, float]]], repeats: int) -> None:
    print(f"\nwarm synthesis (median of {repeats}, interleaved)")
    print(
        f"{'text':8} {'chars':>5} {'audio s':>8} | {'piper x RT':>10} {'voxflow x RT':>12} "
        f"{'ratio':>6} | {'piper 1st s':>11} {'voxflow 1st s':>13}"
    )
    for name, pair in warm.items():
        p, v = pair["piper"], pair["voxflow"]
        print(
            f"{name:8} {len(corpus(name)):5d} {v['audio_s']:8.2f} | {p['throughput']:10.1f} "
            f"{v['throughput']:12.1f} {v['throughput'] / p['throughput']:6.2f} | "
            f"{p['first_s']:11.3f} {v['first_s']:13.3f}"
        )
    total_p = overall_throughput(warm, "piper")
    total_v = overall_throughput(warm, "voxflow")
    print(f"{'all':8} {'':5} {'':8} | {total_p:10.1f} {total_v:12.1f} {total_v / total_p:6.2f} |")


def print_variants(rows: list[dict[str, object]]) -> None:
    print("\nvariants on the medium text (voxflow engine)")
    print(
        f"{'mode':10} {'batch':>5} {'fast':>5} {'load s':>7} {'ready s':>7} "
        f"{'x RT':>6} {'1st s':>6}"
    )
    for row in rows:
        print(
            f"{row['mode']:10} {row['batch']:5} {row['fast_start']!s:>5} {row['load_s']:7.2f} "
            f"{row['ready_s']:7.2f} {row['throughput']:6.1f} {row['first_s']:6.3f}"
        )


def print_cold(cold: dict[str, float]) -> None:
    print("\ncold start: process spawn to first audio byte, 20-character phrase (median)")
    print(f"voxflow synth --raw   {cold['voxflow_s']:.3f} s")
    print(f"piper --output-raw    {cold['piper_cli_s']:.3f} s")
    print(f"ratio                 {cold['ratio']:.2f}  (target <= 0.3; median of paired ratios)")
    if "floor_s" in cold:
        print(f"floor (cold_floor.py) {cold['floor_s']:.3f} s")
        print(f"floor ratio           {cold['floor_ratio']:.2f}  (no voxflow code)")
    else:
        print("floor                 not measured: no optimized model beside the voice's")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=4)
    parser.add_argument("--quick", action="store_true", help="skip the long text and the variants")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--cold-only", action="store_true", help="only the cold-start pair")
    args = parser.parse_args()
    if args.cold_only:
        print_cold(cold_start(max(args.repeats, 3)))
        return
    texts = TEXTS[:-1] if args.quick else TEXTS

    providers = ort.get_available_providers()
    print(f"onnxruntime {ort.__version__}, providers {providers}, {os.cpu_count()} CPUs")
    warm = warm_comparison(args.repeats, texts)
    print_warm(warm, args.repeats)
    rows = [] if args.quick else variants(args.repeats)
    if rows:
        print_variants(rows)

    cold = cold_start(max(args.repeats, 3))
    print_cold(cold)

    rss = peak_rss(texts[-1])
    print(f"\npeak RSS on the '{texts[-1]}' text (VmHWM)")
    print(f"voxflow synth         {rss['voxflow_mb']:.0f} MB  (target <= 500)")
    print(f"piper CLI             {rss['piper_cli_mb']:.0f} MB")
    if args.json:
        figures = {"warm": warm, "variants": rows, "cold": cold, "peak_rss_mb": rss}
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
