"""The GPU's utilization as the driver reports it, for the heartbeat's GpuUtilization.

NVIDIA's NVML through pynvml when that is installed, else ``nvidia-smi`` when it is on
the PATH (the ECS GPU AMI's driver ships it; the NVIDIA container runtime mounts it
into a GPU task). Neither is a dependency of voxflow: where neither is present (a CPU
worker, the local stack) there is no reading, and no datum is put, rather than a zero
that would read as an idle GPU.
"""

import shutil
import subprocess
from collections.abc import Callable

GpuReader = Callable[[], float | None]
_QUERY = ["--query-gpu=utilization.gpu", "--format=csv,noheader,nounits"]
_TIMEOUT_S = 5.0


def from_nvml() -> float | None:
    """The mean utilization (%) of the GPUs NVML sees, or None without NVML."""
    try:
        import pynvml  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return None
    try:
        pynvml.nvmlInit()
        try:
            count = pynvml.nvmlDeviceGetCount()
            rates = [
                float(
                    pynvml.nvmlDeviceGetUtilizationRates(pynvml.nvmlDeviceGetHandleByIndex(i)).gpu
                )
                for i in range(count)
            ]
        finally:
            pynvml.nvmlShutdown()
    except pynvml.NVMLError:
        return None
    return sum(rates) / len(rates) if rates else None


def parse_nvidia_smi(output: str) -> float | None:
    """``nvidia-smi --query-gpu=utilization.gpu --format=csv,noheader,nounits``: one
    percentage a line, one line a GPU; their mean, or None if a line is not a number
    (``[N/A]``, ``[Not Supported]``)."""
    try:
        rates = [float(line) for line in output.split()]
    except ValueError:
        return None
    return sum(rates) / len(rates) if rates else None


def from_nvidia_smi(program: str | None = None) -> float | None:
    found = program or shutil.which("nvidia-smi")
    if found is None:
        return None
    try:
        done = subprocess.run(
            [found, *_QUERY], capture_output=True, text=True, timeout=_TIMEOUT_S, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return parse_nvidia_smi(done.stdout) if done.returncode == 0 else None


def gpu_utilization() -> float | None:
    """The GPU's utilization in percent over the driver's last sample period, or None."""
    reading = from_nvml()
    return reading if reading is not None else from_nvidia_smi()
