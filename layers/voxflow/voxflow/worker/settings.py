"""The worker's settings: read from the environment once at start and validated.

A bad value stops the worker before it touches the queue, with a message that
names the variable (ECS shows it as the task's stopped reason).
"""

from dataclasses import dataclass
from pathlib import Path

from voxflow.config import Config
from voxflow.config import variables as env
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

    ready_file: Path = env.READY_FILE.default
    heartbeat_s: float = env.HEARTBEAT_S.default

    def __post_init__(self) -> None:
        if not self.heartbeat_s > 0:
            raise WorkerSettingsError(f"VOXFLOW_HEARTBEAT_S must be > 0, not {self.heartbeat_s}")

    @classmethod
    def of(cls, config: Config) -> "ReadinessSettings":
        return cls(ready_file=config[env.READY_FILE], heartbeat_s=config[env.HEARTBEAT_S])


@dataclass(frozen=True)
class WorkerSettings:
    chunks_queue_url: str
    # The long lane (docs/pipeline.md), served only when the short one is empty.
    # None: an older stack with one lane.
    long_chunks_queue_url: str | None = env.LONG_CHUNKS_QUEUE_URL.default
    # The recovery lane, served only when the other two are empty. None: no such lane.
    recovery_chunks_queue_url: str | None = env.RECOVERY_CHUNKS_QUEUE_URL.default
    batch_size: int = env.WORKER_BATCH_SIZE.default
    batch_wait_s: float = env.WORKER_BATCH_WAIT_S.default
    visibility_s: int = env.WORKER_VISIBILITY_S.default  # extended every visibility_s / 2
    heartbeat_s: float = env.HEARTBEAT_S.default
    ready_file: Path = env.READY_FILE.default
    handler_dir: Path = env.HANDLER_DIR.default
    handler: str = env.HANDLER.default
    # The local poller's knob (voxflow.config.variables).
    retry_visibility_s: int | None = env.WORKER_RETRY_VISIBILITY_S.default

    def __post_init__(self) -> None:
        if not self.chunks_queue_url.startswith(("http://", "https://")):
            raise WorkerSettingsError(
                f"VOXFLOW_CHUNKS_QUEUE_URL must be a queue URL, not {self.chunks_queue_url!r}"
            )
        for name, url in (
            ("VOXFLOW_LONG_CHUNKS_QUEUE_URL", self.long_chunks_queue_url),
            ("VOXFLOW_RECOVERY_CHUNKS_QUEUE_URL", self.recovery_chunks_queue_url),
        ):
            if url is not None and not url.startswith(("http://", "https://")):
                raise WorkerSettingsError(f"{name} must be a queue URL, not {url!r}")
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
    def of(cls, config: Config) -> "WorkerSettings":
        try:
            return cls._of(config)
        except WorkerSettingsError:
            raise
        except SettingsError as error:  # a variable that does not parse, or is missing
            raise WorkerSettingsError(str(error)) from None

    @classmethod
    def _of(cls, config: Config) -> "WorkerSettings":
        config.check((env.CHUNKS_QUEUE_URL,))
        return cls(
            chunks_queue_url=config[env.CHUNKS_QUEUE_URL],
            long_chunks_queue_url=config[env.LONG_CHUNKS_QUEUE_URL],
            recovery_chunks_queue_url=config[env.RECOVERY_CHUNKS_QUEUE_URL],
            batch_size=config[env.WORKER_BATCH_SIZE],
            batch_wait_s=config[env.WORKER_BATCH_WAIT_S],
            visibility_s=config[env.WORKER_VISIBILITY_S],
            heartbeat_s=config[env.HEARTBEAT_S],
            ready_file=config[env.READY_FILE],
            handler_dir=config[env.HANDLER_DIR],
            handler=config[env.HANDLER],
            retry_visibility_s=config[env.WORKER_RETRY_VISIBILITY_S],
        )
