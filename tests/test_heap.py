"""A handler's cold start ends with its heap frozen (voxflow.heap): in a function's
execution environment, not in a test or tool that imports the handler module."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from handler_module import OFFLINE_ENV

from voxflow.config import variables

ROOT = Path(__file__).resolve().parents[1]
FUNCTION_NAME = variables.AWS_LAMBDA_FUNCTION_NAME.name
IMPORT_AND_REPORT = """
import gc, json, runpy, sys
before = gc.get_freeze_count()  # the interpreter's own, at start
runpy.run_path(sys.argv[1])
print(json.dumps({"frozen": gc.get_freeze_count() - before}))
"""


def _frozen_by_cold_start(function: str, extra: dict[str, str]) -> int:
    inherited = {k: v for k, v in os.environ.items() if k != FUNCTION_NAME}
    done = subprocess.run(
        [sys.executable, "-c", IMPORT_AND_REPORT, str(ROOT / "functions" / function / "app.py")],
        env={**inherited, **OFFLINE_ENV, **extra},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    frozen: int = json.loads(done.stdout.strip().splitlines()[-1])["frozen"]
    return frozen


@pytest.mark.parametrize("function", ["plan", "api", "sweeper", "health"])
def test_a_function_s_cold_start_heap_is_frozen(function: str) -> None:
    as_a_function = _frozen_by_cold_start(function, {FUNCTION_NAME: f"voxflow-{function}"})
    imported = _frozen_by_cold_start(function, {})
    # Everything the cold start built (boto3, pydantic, Powertools, voxflow) is frozen:
    # 48,000 objects for the lightest (health), 118,000-214,000 for the others.
    assert as_a_function > 40_000
    assert imported == 0
