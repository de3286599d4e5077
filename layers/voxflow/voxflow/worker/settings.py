"""The worker's settings: read from the environment once at start and validated.

A bad value stops the worker before it touches the queue, with a message that
names the variable (ECS shows it as the task's stopped reason).
"""

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from voxflow.errors import SettingsError

# Lambda's own ceiling for a batching window; anything longer only delays work.
_MAX_BATCH_WAIT_S = 300.0
# SQS's ceiling for a visibility timeout.
_MAX_VISIBILITY_S = 43_200


class WorkerSettingsError(SettingsError):
    """A VOXFLOW_* worker variable is missing or out of range."""


@dataclass(frozen=True)
class ReadinessSettings:
    """What ``--check-ready`` needs: just enough to run as the container health check."""

    ready_file: Path = Path("/tmp/voxflow-worker-ready")
    heartbeat_s: float = 10.0

    def __post_init__(self) -> None:
        if not self.heartbeat_s > 0:
            raise WorkerSettingsError(f"VOXFLOW_HEARTBEAT_S must be > 0, not {self.heartbeat_s}")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "ReadinessSettings":
        env = _Env(os.environ if environ is None else environ)
        return cls(
            ready_file=env.get("VOXFLOW_READY_FILE", Path, cls.ready_file),
            heartbeat_s=env.get("VOXFLOW_HEARTBEAT_S", float, cls.heartbeat_s),
        )


@dataclass(frozen=True)
class WorkerSettings:
    chunks_queue_url: str
    # The long lane (docs/pipeline.md), served only when the short one is empty.
    # None: an older stack with one lane.
    long_chunks_queue_url: str | None = None
    batch_size: int = 8  # messages per handler call, gathered over receives of up to 10
    batch_wait_s: float = 0.05  # how long to gather after the first message
    visibility_s: int = 60  # extended every visibility_s / 2 while a batch runs
    heartbeat_s: float = 10.0
    ready_file: Path = Path("/tmp/voxflow-worker-ready")
    handler_dir: Path = Path("/var/task")  # where functions/synthesize/app.py is
    handler: str = "app.handler"  # module path, then attribute, as in a SAM Handler
    # Local stack and tests only: failed messages come back after this many seconds
    # instead of after their visibility timeout (the local poller's knob).
    retry_visibility_s: int | None = None

    def __post_init__(self) -> None:
        if not self.chunks_queue_url.startswith(("http://", "https://")):
            raise WorkerSettingsError(
                f"VOXFLOW_CHUNKS_QUEUE_URL must be a queue URL, not {self.chunks_queue_url!r}"
            )
        if self.long_chunks_queue_url is not None and not self.long_chunks_queue_url.startswith(
            ("http://", "https://")
        ):
            raise WorkerSettingsError(
                "VOXFLOW_LONG_CHUNKS_QUEUE_URL must be a queue URL, "
                f"not {self.long_chunks_queue_url!r}"
            )
        if not 1 <= self.batch_size <= 100:
            raise WorkerSettingsError(
                f"VOXFLOW_WORKER_BATCH_SIZE must be in 1..100, not {self.batch_size}"
            )
        if not 0 <= self.batch_wait_s <= _MAX_BATCH_WAIT_S:
            raise WorkerSettingsError(
                f"VOXFLOW_WORKER_BATCH_WAIT_S must be in 0..{_MAX_BATCH_WAIT_S:g}, "
                f"not {self.batch_wait_s}"
            )
        # Extended every visibility_s / 2 seconds: below 2 s that is a busy loop.
        if not 2 <= self.visibility_s <= _MAX_VISIBILITY_S:
            raise WorkerSettingsError(
                f"VOXFLOW_WORKER_VISIBILITY_S must be in 2..{_MAX_VISIBILITY_S}, "
                f"not {self.visibility_s}"
            )
        ReadinessSettings(self.ready_file, self.heartbeat_s)  # the same checks
        module, _, attribute = self.handler.rpartition(".")
        if not module or not attribute:
            raise WorkerSettingsError(
                f"VOXFLOW_HANDLER must be module.attribute, not {self.handler!r}"
            )
        if self.retry_visibility_s is not None and not (
            0 <= self.retry_visibility_s <= _MAX_VISIBILITY_S
        ):
            raise WorkerSettingsError(
                f"VOXFLOW_WORKER_RETRY_VISIBILITY_S must be in 0..{_MAX_VISIBILITY_S}, "
                f"not {self.retry_visibility_s}"
            )

    @property
    def handler_module(self) -> str:
        return self.handler.rpartition(".")[0]

    @property
    def handler_attribute(self) -> str:
        return self.handler.rpartition(".")[2]

    @property
    def readiness(self) -> ReadinessSettings:
        return ReadinessSettings(self.ready_file, self.heartbeat_s)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "WorkerSettings":
        env = _Env(os.environ if environ is None else environ)
        queue_url = env.get("VOXFLOW_CHUNKS_QUEUE_URL", str, None)
        if queue_url is None:
            raise WorkerSettingsError("missing environment variable: VOXFLOW_CHUNKS_QUEUE_URL")
        return cls(
            chunks_queue_url=queue_url,
            long_chunks_queue_url=env.get("VOXFLOW_LONG_CHUNKS_QUEUE_URL", str, None),
            batch_size=env.get("VOXFLOW_WORKER_BATCH_SIZE", int, cls.batch_size),
            batch_wait_s=env.get("VOXFLOW_WORKER_BATCH_WAIT_S", float, cls.batch_wait_s),
            visibility_s=env.get("VOXFLOW_WORKER_VISIBILITY_S", int, cls.visibility_s),
            heartbeat_s=env.get("VOXFLOW_HEARTBEAT_S", float, cls.heartbeat_s),
            ready_file=env.get("VOXFLOW_READY_FILE", Path, cls.ready_file),
            handler_dir=env.get("VOXFLOW_HANDLER_DIR", Path, cls.handler_dir),
            handler=env.get("VOXFLOW_HANDLER", str, cls.handler),
            retry_visibility_s=env.get("VOXFLOW_WORKER_RETRY_VISIBILITY_S", int, None),
        )


class _Env:
    """Typed reads of optional variables; an empty value counts as unset."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ

    def get[T, D](self, name: str, kind: Callable[[str], T], default: D) -> T | D:
        raw = self._environ.get(name, "").strip()
        if not raw:
            return default
        try:
            return kind(raw)
        except ValueError:
            kind_name = getattr(kind, "__name__", "value")
            raise WorkerSettingsError(f"{name}={raw!r} is not a valid {kind_name}") from None
