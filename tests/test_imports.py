"""What each deployable can import with only the layers it gets."""

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

# A meta path finder that refuses the engine layer's libraries, as HealthFunction's
# Lambda (VoxflowLayer only) would.
_WITHOUT_ENGINE = textwrap.dedent(
    """
    import importlib, importlib.abc, sys
    ENGINE = {"numpy", "onnxruntime", "soundfile", "piper", "num2words", "soxr"}
    class NoEngine(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path, target=None):
            if name.split(".")[0] in ENGINE:
                raise ModuleNotFoundError(f"No module named {name!r} (engine layer)")
    sys.meta_path.insert(0, NoEngine())
    for module in sys.argv[1:]:
        importlib.import_module(module)
    """
)


@pytest.mark.parametrize("module", ["voxflow.health", "voxflow.events", "voxflow.regions"])
def test_the_health_function_imports_without_the_engine_layer(module: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", _WITHOUT_ENGINE, module],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]


def test_the_engine_is_still_there_when_asked_for() -> None:
    from voxflow.audio import decode
    from voxflow.engine import Engine

    assert callable(decode)
    assert Engine.__name__ == "Engine"


ROOT = Path(__file__).resolve().parent.parent
PRODUCT = [ROOT / "layers" / "voxflow" / "voxflow", ROOT / "functions"]
# What only emulates AWS or drives the emulation: never imported by what runs on AWS.
EMULATION = {"voxflow_local", "moto", "samtranslator", "psutil"}
# Where the emulation lived inside the product before it moved to infra/local.
OLD_HOMES = ("voxflow.local", "voxflow.drill", "voxflow.faults")


def _imported(path: Path) -> set[str]:
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules.add(node.module)
            modules.update(f"{node.module}.{alias.name}" for alias in node.names)
    return modules


def _emulation(modules: set[str]) -> set[str]:
    return {
        module
        for module in modules
        if module.split(".")[0] in EMULATION
        or any(module == home or module.startswith(f"{home}.") for home in OLD_HOMES)
    }


def test_the_product_imports_nothing_that_only_emulates_aws() -> None:
    sources = [path for folder in PRODUCT for path in folder.rglob("*.py")]
    assert len(sources) > 100
    found = {
        str(path.relative_to(ROOT)): sorted(_emulation(_imported(path)))
        for path in sources
        if _emulation(_imported(path))
    }
    assert found == {}


def test_the_import_check_sees_imports_in_functions_too(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "def f():\n    from voxflow_local.stack import LocalStack\n    import moto\n"
        "    from voxflow import faults\n    from voxflow.audio import decode\n"
    )
    assert _emulation(_imported(sample)) == {
        "voxflow_local.stack",
        "voxflow_local.stack.LocalStack",
        "moto",
        "voxflow.faults",
    }


def test_the_worker_image_copies_no_emulation() -> None:
    dockerfile = (ROOT / "infra" / "container" / "Dockerfile").read_text(encoding="utf-8")
    copied = [line.split()[1] for line in dockerfile.splitlines() if line.startswith("COPY ")]
    assert "layers/voxflow/voxflow" in copied
    assert not [source for source in copied if source.startswith("infra/local")]
