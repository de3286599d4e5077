"""The worker's GPU reading (voxflow.worker.gpu) and the heartbeat's GpuUtilization
datum: nvidia-smi's CSV read as the driver writes it, a real program run as the worker
runs it, and no datum at all (not a zero) where nothing reports a GPU."""

import stat
from pathlib import Path
from typing import Any

import pytest

from voxflow import metrics
from voxflow.worker import gpu
from voxflow.worker.heartbeat import GPU_METRIC, Heartbeat


class RecordingCloudWatch:
    def __init__(self) -> None:
        self.datums: list[dict[str, Any]] = []

    def put_metric_data(self, **request: Any) -> None:
        self.datums.extend(request["MetricData"])


def beat_with(reading: float | None, tmp_path: Path) -> list[dict[str, Any]]:
    cloudwatch = RecordingCloudWatch()
    ready = tmp_path / "ready"
    ready.touch()
    beat = Heartbeat(
        cloudwatch,
        region="us-east-1",
        provider="CUDAExecutionProvider",
        interval_s=1,
        ready_file=ready,
        gpu=lambda: reading,
    )
    assert beat.beat()
    return cloudwatch.datums


@pytest.mark.parametrize(
    ("output", "expected"),
    [("37\n", 37.0), ("10\n30\n", 20.0), ("[N/A]\n", None), ("", None), ("0\n", 0.0)],
)
def test_nvidia_smi_csv_is_read_as_the_mean_percentage(output: str, expected: float | None) -> None:
    assert gpu.parse_nvidia_smi(output) == expected


def fake_nvidia_smi(tmp_path: Path, body: str) -> str:
    program = tmp_path / "nvidia-smi"
    program.write_text(f"#!/bin/sh\n{body}\n", encoding="utf-8")
    program.chmod(program.stat().st_mode | stat.S_IXUSR)
    return str(program)


def test_nvidia_smi_is_run_with_the_query_and_its_answer_read(tmp_path: Path) -> None:
    # The program checks it was asked for utilization in bare CSV, as the worker asks.
    program = fake_nvidia_smi(
        tmp_path,
        '[ "$1" = "--query-gpu=utilization.gpu" ] && '
        '[ "$2" = "--format=csv,noheader,nounits" ] && echo 64 || exit 9',
    )
    assert gpu.from_nvidia_smi(program) == 64.0
    failing = fake_nvidia_smi(tmp_path, "echo 'NVIDIA-SMI has failed' ; exit 9")
    assert gpu.from_nvidia_smi(failing) is None


def test_without_nvml_or_nvidia_smi_there_is_no_reading(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setattr(gpu, "from_nvml", lambda: None)
    assert gpu.gpu_utilization() is None


def test_the_heartbeat_puts_the_gpus_utilization_with_the_catalogues_shape(
    tmp_path: Path,
) -> None:
    datums = beat_with(42.0, tmp_path)
    (utilization,) = [d for d in datums if d["MetricName"] == GPU_METRIC]
    catalogued = metrics.BY_NAME[GPU_METRIC]
    assert utilization["Value"] == 42.0
    assert utilization["Unit"] == catalogued.unit
    assert (tuple(d["Name"] for d in utilization["Dimensions"]),) == catalogued.dimensions
    assert utilization["Dimensions"] == [{"Name": "Region", "Value": "us-east-1"}]


def test_a_worker_without_a_gpu_reading_puts_no_utilization_not_zero(tmp_path: Path) -> None:
    datums = beat_with(None, tmp_path)
    assert [d["MetricName"] for d in datums] == ["WorkerHeartbeat", "WorkerHeartbeat"]
