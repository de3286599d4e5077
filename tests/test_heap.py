"""A handler's cold start ends with its heap frozen (voxflow.heap): in a function's
execution environment, not in a test or tool that imports the handler module."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from handler_module import OFFLINE_ENV

from voxflow.heap import FUNCTION_NAME_ENV

ROOT = Path(__file__).resolve().parents[1]
IMPORT_AND_REPORT = """
import gc, json, runpy, sys
before = gc.get_freeze_count()  # the interpreter's own, at start
runpy.run_path(sys.argv[1])
print(json.dumps({"frozen": gc.get_freeze_count() - before}))
"""


def _cold_start(function: str, **env: str) -> dict[str, int]:
    inherited = {k: v for k, v in os.environ.items() if k != FUNCTION_NAME_ENV}
    done = subprocess.run(
        [sys.executable, "-c", IMPORT_AND_REPORT, str(ROOT / "functions" / function / "app.py")],
        env={**inherited, **OFFLINE_ENV, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    report: dict[str, int] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


@pytest.mark.parametrize("function", ["plan", "api"])
def test_a_function_s_cold_start_heap_is_frozen(function: str) -> None:
    as_a_function = _cold_start(function, **{FUNCTION_NAME_ENV: f"voxflow-{function}"})
    imported = _cold_start(function)
    # Everything the cold start built (boto3, pydantic, Powertools, voxflow) is frozen.
    assert as_a_function["frozen"] > 50_000
    assert imported["frozen"] == 0
