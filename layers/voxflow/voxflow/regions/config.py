"""Which role this region plays, and where the other one is: from the function's environment.

Read and validated once per cold start, like ServiceSettings: a bad role or a
missing alarm name fails the cold start with the variable's name.
"""

from dataclasses import dataclass

from voxflow.config import Config
from voxflow.config import variables as env
from voxflow.config.choices import Role
from voxflow.errors import SettingsError

__all__ = [
    "DEFAULT_PRIMARY_REGION",
    "DEFAULT_SECONDARY_REGION",
    "MAX_DELAY_S",
    "RegionConfig",
    "Role",
]

DEFAULT_PRIMARY_REGION = env.PRIMARY_REGION.default
DEFAULT_SECONDARY_REGION = env.SECONDARY_REGION.default
# SQS caps DelaySeconds at 900.
MAX_DELAY_S = 900


@dataclass(frozen=True)
class RegionConfig:
    role: Role = env.ROLE.default
    region: str = env.DEFAULT_REGION  # this region
    primary_region: str = DEFAULT_PRIMARY_REGION
    secondary_region: str = DEFAULT_SECONDARY_REGION
    health_alarm: str | None = env.HEALTH_ALARM.default
    standby_retry_s: int = env.STANDBY_RETRY_S.default
    standby_retry_max_s: int = env.STANDBY_RETRY_MAX_S.default
    standby_max_s: int = env.STANDBY_MAX_S.default
    requests_queue_url: str | None = env.REQUESTS_QUEUE_URL.default
    # Standby copies' own queue, served after RequestsQueue (None: RequestsQueue).
    standby_queue_url: str | None = env.STANDBY_QUEUE_URL.default
    # A request published longer ago than this is planned only after the other region's
    # jobs table says it has no job for it (0: never asked; docs/failover.md).
    stale_request_s: int = env.STALE_REQUEST_S.default
    # A stale request held on standby this long while the other region's table did not
    # answer is created here: both regions standing by would hold it until standby_max_s.
    peer_silent_max_s: int = env.PEER_SILENT_MAX_S.default
    # A parked chunk task (voxflow.pipeline.handover) reports a job owned elsewhere that
    # has made no progress for this long.
    chunk_stall_s: int = env.CHUNK_STALL_S.default
    # Locally only: where each region answers (on AWS the region implies it).
    primary_endpoint_url: str | None = env.PRIMARY_ENDPOINT_URL.default
    secondary_endpoint_url: str | None = env.SECONDARY_ENDPOINT_URL.default

    def __post_init__(self) -> None:
        if not 0 <= self.standby_retry_s <= MAX_DELAY_S:
            raise SettingsError(f"VOXFLOW_STANDBY_RETRY_S must be 0..{MAX_DELAY_S}")
        if not self.standby_retry_s <= self.standby_retry_max_s <= MAX_DELAY_S:
            raise SettingsError(
                f"VOXFLOW_STANDBY_RETRY_MAX_S must be VOXFLOW_STANDBY_RETRY_S..{MAX_DELAY_S}"
            )
        if self.standby_max_s < 0:
            raise SettingsError("VOXFLOW_STANDBY_MAX_S must be >= 0")
        if self.peer_silent_max_s < 0:
            raise SettingsError("VOXFLOW_PEER_SILENT_MAX_S must be >= 0")
        if self.chunk_stall_s < 1:
            raise SettingsError("VOXFLOW_CHUNK_STALL_S must be >= 1")
        if self.stale_request_s < 0:
            raise SettingsError("VOXFLOW_STALE_REQUEST_S must be >= 0 (0: off)")
        for name, url in (
            ("VOXFLOW_PRIMARY_ENDPOINT_URL", self.primary_endpoint_url),
            ("VOXFLOW_SECONDARY_ENDPOINT_URL", self.secondary_endpoint_url),
        ):
            if url is not None and not url.startswith(("http://", "https://")):
                raise SettingsError(f"{name} must be http(s): {url!r}")
        if self.role is Role.STANDALONE:
            return
        if self.primary_region == self.secondary_region:
            raise SettingsError("VOXFLOW_PRIMARY_REGION and VOXFLOW_SECONDARY_REGION must differ")
        expected = self.primary_region if self.role is Role.PRIMARY else self.secondary_region
        if self.region != expected:
            raise SettingsError(
                f"role {self.role.value} runs in {expected}, but this region is {self.region}"
            )
        missing = [
            name
            for name, value in (
                ("VOXFLOW_HEALTH_ALARM", self.health_alarm),
                ("VOXFLOW_REQUESTS_QUEUE_URL", self.requests_queue_url),
            )
            if not value
        ]
        if missing:
            raise SettingsError(
                f"role {self.role.value} needs environment variables: {', '.join(missing)}"
            )

    @property
    def regional(self) -> bool:
        """Two regions share the work: requests and chunks are looked at before work is done."""
        return self.role is not Role.STANDALONE

    @property
    def other_region(self) -> str:
        return self.secondary_region if self.region == self.primary_region else self.primary_region

    @property
    def other_endpoint_url(self) -> str | None:
        """Locally only: the other region's endpoint."""
        if self.region == self.primary_region:
            return self.secondary_endpoint_url
        return self.primary_endpoint_url

    def active_region(self, primary_healthy: bool) -> str:
        """The region that creates new jobs: the primary while it is healthy."""
        if self.role is Role.STANDALONE:
            return self.region
        return self.primary_region if primary_healthy else self.secondary_region

    @classmethod
    def of(cls, config: Config) -> "RegionConfig":
        return cls(
            role=config[env.ROLE],
            region=env.this_region(config),
            primary_region=config[env.PRIMARY_REGION],
            secondary_region=config[env.SECONDARY_REGION],
            health_alarm=config[env.HEALTH_ALARM],
            standby_retry_s=config[env.STANDBY_RETRY_S],
            standby_retry_max_s=config[env.STANDBY_RETRY_MAX_S],
            standby_max_s=config[env.STANDBY_MAX_S],
            requests_queue_url=config[env.REQUESTS_QUEUE_URL],
            standby_queue_url=config[env.STANDBY_QUEUE_URL],
            stale_request_s=config[env.STALE_REQUEST_S],
            peer_silent_max_s=config[env.PEER_SILENT_MAX_S],
            chunk_stall_s=config[env.CHUNK_STALL_S],
            primary_endpoint_url=config[env.PRIMARY_ENDPOINT_URL],
            secondary_endpoint_url=config[env.SECONDARY_ENDPOINT_URL],
        )
