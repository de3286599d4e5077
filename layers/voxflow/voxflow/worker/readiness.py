"""Readiness: the ready file, written once warm-up is done, and its freshness.

Each heartbeat touches the file, so ``--check-ready`` (the ECS container health check,
run every few seconds) can tell a warm, live worker from one still loading or one that
hung. Standard library only: the health check imports this and nothing heavy.
"""

import json
import os
import time
from pathlib import Path
from typing import Any

# A beat may be late by a slow PutMetricData call; three missed beats is not late.
_STALE_AFTER_BEATS = 3


def write_ready_file(path: Path, details: dict[str, Any]) -> None:
    # Atomic: a health check never reads half a file.
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    partial.write_text(json.dumps(details, sort_keys=True), encoding="utf-8")
    os.replace(partial, path)


def is_ready(path: Path, heartbeat_s: float, now: float | None = None) -> bool:
    """The ready file exists and was touched by a beat recently enough."""
    try:
        touched = path.stat().st_mtime
    except OSError:
        return False
    age = (time.time() if now is None else now) - touched
    return age <= _STALE_AFTER_BEATS * heartbeat_s
