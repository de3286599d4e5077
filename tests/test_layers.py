"""The voxflow package builds into a Lambda layer that imports on its own."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_voxflow_layer_builds_and_imports(tmp_path: Path) -> None:
    build = subprocess.run(
        ["make", "-C", str(ROOT / "layers"), "build-VoxflowLayer", f"ARTIFACTS_DIR={tmp_path}"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert build.returncode == 0, build.stderr
    package = tmp_path / "python" / "voxflow"
    assert (package / "keys.py").is_file()
    assert not list(package.rglob("__pycache__"))

    # -I ignores the editable install: the import must come from the layer folder.
    probe = (
        "import sys; sys.path.insert(0, sys.argv[1]); import voxflow.keys, voxflow.errors; "
        "print(voxflow.keys.__file__)"
    )
    result = subprocess.run(
        [sys.executable, "-I", "-c", probe, str(tmp_path / "python")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().startswith(str(tmp_path))
