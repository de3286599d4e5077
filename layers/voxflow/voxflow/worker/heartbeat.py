"""Readiness and liveness: the ready file, its freshness, and the WorkerHeartbeat metric.

The ready file is written once warm-up is done and touched on every beat, so
``--check-ready`` (the ECS container health check) can tell a warm, live worker
from one still loading or one that hung. The metric is what the primary's
health alarm watches (docs/regions.md); a failed put is logged and retried on
the next beat, never fatal: CloudWatch being slow must not stop synthesis.
"""

import json
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

NAMESPACE = "voxflow"
METRIC = "WorkerHeartbeat"
# A beat may be late by a slow PutMetricData call; three missed beats is not late.
_STALE_AFTER_BEATS = 3


def provider_label(provider: str) -> str:
    """``CUDAExecutionProvider`` → ``CUDA``: the Provider dimension's value."""
    return provider.removesuffix("ExecutionProvider") or provider


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


class Heartbeat:
    """Beats every ``interval_s`` on a daemon thread, from ``start()`` to ``stop()``."""

    def __init__(
        self,
        cloudwatch: Any,
        *,
        region: str,
        provider: str,
        interval_s: float,
        ready_file: Path,
    ) -> None:
        self._cloudwatch = cloudwatch
        self.region = region
        self.provider = provider_label(provider)
        self.interval_s = interval_s
        self.ready_file = ready_file
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self.sent = 0
        self.failed = 0

    def beat(self) -> bool:
        """Touch the ready file and put one datapoint; False if the put failed."""
        try:
            os.utime(self.ready_file)
        except OSError:
            logger.warning("heartbeat: cannot touch %s", self.ready_file)
        try:
            self._cloudwatch.put_metric_data(Namespace=NAMESPACE, MetricData=self._datums())
        except Exception as error:  # botocore raises per-service error classes
            self.failed += 1
            logger.warning("heartbeat: put_metric_data failed: %s: %s", type(error).__name__, error)
            return False
        self.sent += 1
        return True

    def _datums(self) -> list[dict[str, Any]]:
        # Two dimension sets: the health alarm matches on Region alone (CloudWatch
        # matches a metric's exact dimensions); Region+Provider tells GPU from CPU.
        region = {"Name": "Region", "Value": self.region}
        provider = {"Name": "Provider", "Value": self.provider}
        return [
            {"MetricName": METRIC, "Dimensions": dims, "Value": 1.0, "Unit": "Count"}
            for dims in ([region], [region, provider])
        ]

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="voxflow-heartbeat", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            self.beat()
            if self._stopped.wait(self.interval_s):
                return

    def stop(self) -> None:
        self._stopped.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
