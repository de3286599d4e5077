"""What each deployable can import with only the layers it gets."""

import subprocess
import sys
import textwrap

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
