"""Engine settings, read from the environment once and validated."""

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from voxflow.errors import SettingsError

Device = Literal["auto", "cpu", "cuda"]
ExecutionMode = Literal["sequential", "parallel"]

_PREFIX = "VOXFLOW_"


def _default_cache_dir() -> Path:
    # Lambda's only writable path is /tmp; XDG elsewhere.
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "voxflow"


def _flag(raw: str) -> bool:
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise ValueError("expected true or false")


@dataclass(frozen=True)
class EngineSettings:
    """How the engine runs: device, threads, batching and text limits.

    Sequential execution with onnxruntime's own thread count synthesizes about
    twice as fast as parallel execution on CPU; ``fast_start`` hides its slow
    session build (see voxflow.engine.session). Measured by benchmarks/engine.py.
    """

    device: Device = "auto"
    execution_mode: ExecutionMode = "sequential"
    fast_start: bool = True
    intra_op_threads: int = 0
    inter_op_threads: int = 0
    # onnxruntime's idle threads spin between operators: a little lower latency when
    # the process has its cores to itself, CPU taken from every other process when
    # it shares them (the local stack runs a dozen processes on a few cores).
    allow_spinning: bool = True
    batch_size: int = 1
    max_chars: int = 100_000
    chunk_max_chars: int = 400
    voices_file: Path | None = None
    cache_dir: Path = field(default_factory=_default_cache_dir)

    def __post_init__(self) -> None:
        if self.device not in ("auto", "cpu", "cuda"):
            raise SettingsError(f"device must be auto, cpu or cuda, not {self.device!r}")
        if self.execution_mode not in ("sequential", "parallel"):
            raise SettingsError(
                f"execution_mode must be sequential or parallel, not {self.execution_mode!r}"
            )
        for name in ("intra_op_threads", "inter_op_threads"):
            if getattr(self, name) < 0:
                raise SettingsError(f"{name} must be >= 0 (0 lets onnxruntime choose)")
        if not 1 <= self.batch_size <= 64:
            raise SettingsError(f"batch_size must be in 1..64, not {self.batch_size}")
        if self.max_chars < 1:
            raise SettingsError(f"max_chars must be >= 1, not {self.max_chars}")
        if not 20 <= self.chunk_max_chars <= 5_000:
            raise SettingsError(f"chunk_max_chars must be in 20..5000, not {self.chunk_max_chars}")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "EngineSettings":
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for name, kind in (
            ("device", str),
            ("execution_mode", str),
            ("fast_start", _flag),
            ("intra_op_threads", int),
            ("inter_op_threads", int),
            ("allow_spinning", _flag),
            ("batch_size", int),
            ("max_chars", int),
            ("chunk_max_chars", int),
            ("voices_file", Path),
            ("cache_dir", Path),
        ):
            raw = env.get(_PREFIX + name.upper())
            if raw is None or raw == "":
                continue
            try:
                values[name] = kind(raw)
            except ValueError as error:
                raise SettingsError(f"{_PREFIX}{name.upper()}={raw!r}: {error}") from error
        return cls(**values)  # type: ignore[arg-type]
