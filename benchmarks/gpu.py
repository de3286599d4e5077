"""GPU benchmark: the primary's chunk worker on CUDA (issue 17, part 10).

Prints two tables; asserts nothing. Runs wherever onnxruntime offers a provider:
with onnxruntime-gpu on a CUDA host it measures CUDA against the CPU provider in the
same process; elsewhere only the CPU rows print (how it is checked without a GPU).

- Throughput by batch size. The worker hands the synthesize handler up to
  ``VOXFLOW_WORKER_BATCH_SIZE`` (8) chunk tasks, whose texts go to one
  ``Engine.synthesize`` call, batched ``VOXFLOW_BATCH_SIZE`` utterances an inference.
  Here the long corpus text (2,766 characters) is split as the engine splits it and
  synthesized in worker batches of 8 chunks, warm: seconds of audio per wall second,
  the first chunk's time, and the GPU memory the process holds after the size's runs.
- Cold start. ``python -m voxflow.worker`` spawned against a moto server (its queue
  and CloudWatch, over HTTP), as ECS starts the task's container command: spawn → the
  ready file, and the worker's own figures from it (handler import with the voice's
  session build, warm-up synthesis, total). Image pull and container start are ECS's
  and not in it.

Usage: python benchmarks/gpu.py [--batches 1,2,4,8,16,32] [--repeats 3] [--cold 3]
       [--json out.json]
"""

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import onnxruntime as ort

from voxflow.aws.settings import LOCAL_KEY
from voxflow.config import variables
from voxflow.engine import Engine
from voxflow.settings import EngineSettings
from voxflow.text import normalize_text, split_into_chunks
from voxflow.voices import BUILTIN_VOICE_ID, VoiceRegistry

ROOT = Path(__file__).resolve().parent.parent
LONG_TEXT = (ROOT / "benchmarks" / "corpus" / "long.txt").read_text(encoding="utf-8").strip()
WORKER_BATCH = 8  # VOXFLOW_WORKER_BATCH_SIZE's default
CUDA = "CUDAExecutionProvider"


def gpu_memory_mib() -> int | None:
    """What this process holds on the GPU, as the driver reports it."""
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return None
    done = subprocess.run(
        [smi, "--query-compute-apps=pid,used_memory", "--format=csv,noheader,nounits"],
        capture_output=True,
        text=True,
        check=False,
    )
    for line in done.stdout.splitlines():
        pid, _, used = line.partition(",")
        if pid.strip() == str(os.getpid()) and used.strip().isdigit():
            return int(used)
    return None


def worker_batches(chunks: list[str]) -> list[list[str]]:
    return [chunks[i : i + WORKER_BATCH] for i in range(0, len(chunks), WORKER_BATCH)]


def _pass(engine: Engine, batches: list[list[str]]) -> tuple[float, float, int]:
    """(seconds to the first chunk, wall seconds, samples) over every worker batch."""
    samples = 0
    first = 0.0
    started = time.perf_counter()
    for batch in batches:
        for chunk in engine.synthesize(batch, BUILTIN_VOICE_ID):
            if not first:
                first = time.perf_counter() - started
            samples += len(chunk.pcm)
    return first, time.perf_counter() - started, samples


def throughput(device: str, batch_size: int, repeats: int, search: str) -> dict[str, Any]:
    """The first pass meets every input shape for the first time, as a worker's new
    texts do; the repeats meet shapes already seen."""
    settings = EngineSettings(
        device=device,  # type: ignore[arg-type]
        batch_size=batch_size,
        cuda_conv_algo_search=search or "DEFAULT",  # type: ignore[arg-type]
    )
    engine = Engine(VoiceRegistry.default(), settings)
    started = time.perf_counter()
    engine.warm_up(BUILTIN_VOICE_ID)
    load_s = time.perf_counter() - started
    chunks = split_into_chunks(normalize_text(LONG_TEXT), settings.chunk_max_chars)
    batches = worker_batches(chunks)
    new_first, new_wall, samples = _pass(engine, batches)
    runs = [_pass(engine, batches) for _ in range(repeats)]
    wall = statistics.median(r[1] for r in runs)
    audio_s = samples / 22050
    return {
        "device": device,
        "search": search if device == "cuda" else "",
        "provider": engine.provider(BUILTIN_VOICE_ID),
        "batch": batch_size,
        "chunks": len(chunks),
        "load_s": load_s,
        "audio_s": audio_s,
        "new_wall_s": new_wall,
        "new_first_s": new_first,
        "new_throughput": audio_s / new_wall,
        "wall_s": wall,
        "first_s": statistics.median(r[0] for r in runs),
        "throughput": audio_s / wall,
        "gpu_mib": gpu_memory_mib() if device == "cuda" else None,
    }


def cold_starts(device: str, runs: int, endpoint: str, queue_url: str) -> list[dict[str, Any]]:
    results = []
    for run in range(runs):
        with tempfile.TemporaryDirectory() as tmp:
            ready = Path(tmp) / "ready"
            env = {
                **os.environ,
                "AWS_ENDPOINT_URL": endpoint,
                "AWS_DEFAULT_REGION": "us-east-1",
                "AWS_REGION": "us-east-1",
                "AWS_ACCESS_KEY_ID": LOCAL_KEY,
                "AWS_SECRET_ACCESS_KEY": LOCAL_KEY,
                "AWS_LAMBDA_FUNCTION_NAME": "voxflow-worker",
                variables.BUCKET.name: "voxflow-audio",
                variables.BUS_NAME.name: "voxflow",
                variables.CACHE_TABLE.name: "voxflow-cache",
                variables.JOBS_TABLE.name: "voxflow-jobs",
                variables.CHUNKS_QUEUE_URL.name: queue_url,
                variables.DEVICE.name: device,
                variables.READY_FILE.name: str(ready),
                variables.HANDLER_DIR.name: str(ROOT / "functions" / "synthesize"),
                variables.CACHE_DIR.name: tmp,
                "POWERTOOLS_METRICS_NAMESPACE": "voxflow",
                "POWERTOOLS_TRACE_DISABLED": "true",
                "LOG_LEVEL": "WARNING",
            }
            started = time.perf_counter()
            worker = subprocess.Popen(
                [sys.executable, "-m", "voxflow.worker"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            while not ready.exists():
                if worker.poll() is not None:
                    errors = worker.stderr.read() if worker.stderr else ""
                    raise RuntimeError(f"worker exited {worker.returncode}: {errors}")
                time.sleep(0.005)
            spawn_to_ready = time.perf_counter() - started
            details = json.loads(ready.read_text(encoding="utf-8"))
            worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=60)
            results.append(
                {"device": device, "run": run, "spawn_to_ready_s": spawn_to_ready, **details}
            )
    return results


def cold_start_table(devices: list[str], runs: int) -> list[dict[str, Any]]:
    # Only this part talks to AWS: the local stack's moto server, one queue.
    from voxflow_local._clients import _client
    from voxflow_local.moto_server import MotoServer

    with MotoServer(None, "us-east-1") as moto:
        sqs = _client("sqs", moto.url, "us-east-1")
        queue_url = sqs.create_queue(QueueName="voxflow-chunks")["QueueUrl"]
        rows = []
        for device in devices:
            rows.extend(cold_starts(device, runs, moto.url, queue_url))
        return rows


def table(rows: list[dict[str, Any]]) -> None:
    baseline = rows[0]["throughput"]  # the CPU provider's, in this process
    for row in rows:
        row["new_vs_cpu"] = row["new_throughput"] / baseline
        row["vs_cpu"] = row["throughput"] / baseline
    print(
        f"\n{'device':6} {'search':10} {'batch':>5} {'new a/s':>8} {'x cpu':>6} "
        f"{'seen a/s':>8} {'x cpu':>6} {'first ms':>8}"
    )
    for row in rows:
        print(
            f"{row['device']:6} {row['search']:10} {row['batch']:5} "
            f"{row['new_throughput']:8.1f} {row['new_vs_cpu']:6.2f} {row['throughput']:8.1f} "
            f"{row['vs_cpu']:6.2f} {row['new_first_s'] * 1000:8.0f}"
        )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batches", default="1,2,4,8,16,32")
    parser.add_argument(
        "--search",
        default="DEFAULT,HEURISTIC,EXHAUSTIVE",
        help="VOXFLOW_CUDA_CONV_ALGO_SEARCH values to compare (EXHAUSTIVE is onnxruntime's own)",
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cold", type=int, default=3, help="cold starts per device (0: none)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    on_gpu = CUDA in ort.get_available_providers()
    devices = ["cpu", "cuda"] if on_gpu else ["cpu"]
    print(f"onnxruntime {ort.__version__}, providers {ort.get_available_providers()}")
    rows: list[dict[str, Any]] = []
    cold: list[dict[str, Any]] = []

    def save() -> None:
        if args.json:
            args.json.write_text(json.dumps({"throughput": rows, "cold": cold}, indent=2))

    for device in devices if args.batches else []:
        searches = args.search.split(",") if device == "cuda" else [""]
        sizes = [int(b) for b in args.batches.split(",")] if device == "cuda" else [1]
        for search in searches:
            for size in sizes:
                row = throughput(device, size, args.repeats, search)
                rows.append(row)
                save()
                print(
                    f"{row['device']:5} {row['search']:10} batch {row['batch']:3} "
                    f"{row['provider']}: new shapes {row['new_throughput']:7.1f} audio s/s, "
                    f"seen {row['throughput']:7.1f} ({row['audio_s']:.1f} s of audio, "
                    f"{row['chunks']} chunks, {row['wall_s']:.2f} s), first chunk "
                    f"{row['new_first_s'] * 1000:.0f}/{row['first_s'] * 1000:.0f} ms, "
                    f"load {row['load_s']:.2f} s, GPU {row['gpu_mib']} MiB",
                    flush=True,
                )
    if rows:
        table(rows)
    save()
    if args.cold:
        cold.extend(cold_start_table(devices, args.cold))
        save()
        print(
            f"\n{'device':6} {'provider':22} {'spawn->ready s':>14} {'import s':>8} "
            f"{'warm-up s':>9}"
        )
        for row in cold:
            print(
                f"{row['device']:6} {row['provider']:22} {row['spawn_to_ready_s']:14.2f} "
                f"{row['import_s']:8.2f} {row['warm_up_s']:9.2f}"
            )
        for device in devices:
            mine = [r["spawn_to_ready_s"] for r in cold if r["device"] == device]
            print(f"{device}: spawn -> ready median {statistics.median(mine):.2f} s of {len(mine)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
