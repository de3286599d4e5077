"""Liveness: the WorkerHeartbeat metric, and a touch of the ready file on every beat;
with it, the GPU's utilization (GpuUtilization) where the driver reports one (gpu.py).

The metric is what the primary's health alarm watches (docs/regions.md); a failed put
is logged and retried on the next beat, never fatal: CloudWatch being slow must not
stop synthesis. The ready file and its freshness are in readiness.py.
"""

import os
import threading
from pathlib import Path
from typing import Any

from aws_lambda_powertools import Logger

from voxflow.metrics import NAMESPACE
from voxflow.worker.gpu import GpuReader, gpu_utilization

# A child of the service Logger python -m voxflow.worker sets up: its handler and schema.
logger = Logger(child=True)

METRIC = "WorkerHeartbeat"
GPU_METRIC = "GpuUtilization"


def provider_label(provider: str) -> str:
    """``CUDAExecutionProvider`` → ``CUDA``: the Provider dimension's value."""
    return provider.removesuffix("ExecutionProvider") or provider


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
        gpu: GpuReader = gpu_utilization,
    ) -> None:
        self._cloudwatch = cloudwatch
        self.region = region
        self.provider = provider_label(provider)
        self.interval_s = interval_s
        self.ready_file = ready_file
        self._gpu = gpu
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self.sent = 0
        self.failed = 0

    def beat(self) -> bool:
        """Touch the ready file and put one datapoint; False if the put failed."""
        try:
            os.utime(self.ready_file)
        except OSError:
            logger.warning(
                "heartbeat: cannot touch the ready file", extra={"path": str(self.ready_file)}
            )
        try:
            self._cloudwatch.put_metric_data(Namespace=NAMESPACE, MetricData=self._datums())
        except Exception as error:  # botocore raises per-service error classes
            self.failed += 1
            logger.warning(
                "heartbeat: put_metric_data failed",
                extra={"error_type": type(error).__name__, "error": str(error)},
            )
            return False
        self.sent += 1
        return True

    def _datums(self) -> list[dict[str, Any]]:
        # Two dimension sets: the health alarm matches on Region alone (CloudWatch
        # matches a metric's exact dimensions); Region+Provider tells GPU from CPU.
        region = {"Name": "Region", "Value": self.region}
        provider = {"Name": "Provider", "Value": self.provider}
        datums: list[dict[str, Any]] = [
            {"MetricName": METRIC, "Dimensions": dims, "Value": 1.0, "Unit": "Count"}
            for dims in ([region], [region, provider])
        ]
        utilization = self._gpu()
        if utilization is not None:
            datums.append(
                {
                    "MetricName": GPU_METRIC,
                    "Dimensions": [region],
                    "Value": utilization,
                    "Unit": "Percent",
                }
            )
        return datums

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
