"""Which role this region plays, and where the other one is: from the function's environment.

Read and validated once per cold start, like ServiceSettings: a bad role or a
missing alarm name fails the cold start with the variable's name.
"""

import os
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from voxflow.errors import SettingsError

DEFAULT_PRIMARY_REGION = "us-east-1"
DEFAULT_SECONDARY_REGION = "us-west-2"
# SQS caps DelaySeconds at 900.
MAX_DELAY_S = 900


class Role(StrEnum):
    STANDALONE = "standalone"
    PRIMARY = "primary"
    SECONDARY = "secondary"


@dataclass(frozen=True)
class RegionConfig:
    role: Role = Role.STANDALONE
    region: str = DEFAULT_PRIMARY_REGION  # this region
    primary_region: str = DEFAULT_PRIMARY_REGION
    secondary_region: str = DEFAULT_SECONDARY_REGION
    health_alarm: str | None = None
    standby_retry_s: int = 5
    standby_retry_max_s: int = 30
    standby_max_s: int = 900
    requests_queue_url: str | None = None
    # Locally only: where the primary region's CloudWatch answers (on AWS the region implies it).
    primary_endpoint_url: str | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.standby_retry_s <= MAX_DELAY_S:
            raise SettingsError(f"VOXFLOW_STANDBY_RETRY_S must be 0..{MAX_DELAY_S}")
        if not self.standby_retry_s <= self.standby_retry_max_s <= MAX_DELAY_S:
            raise SettingsError(
                f"VOXFLOW_STANDBY_RETRY_MAX_S must be VOXFLOW_STANDBY_RETRY_S..{MAX_DELAY_S}"
            )
        if self.standby_max_s < 0:
            raise SettingsError("VOXFLOW_STANDBY_MAX_S must be >= 0")
        if self.primary_endpoint_url is not None and not self.primary_endpoint_url.startswith(
            ("http://", "https://")
        ):
            raise SettingsError(
                f"VOXFLOW_PRIMARY_ENDPOINT_URL must be http(s): {self.primary_endpoint_url!r}"
            )
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

    def active_region(self, primary_healthy: bool) -> str:
        """The region that creates new jobs: the primary while it is healthy."""
        if self.role is Role.STANDALONE:
            return self.region
        return self.primary_region if primary_healthy else self.secondary_region

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "RegionConfig":
        env = os.environ if environ is None else environ
        raw_role = env.get("VOXFLOW_ROLE") or Role.STANDALONE.value
        try:
            role = Role(raw_role)
        except ValueError as error:
            choices = ", ".join(r.value for r in Role)
            raise SettingsError(f"VOXFLOW_ROLE={raw_role!r}: must be one of {choices}") from error
        return cls(
            role=role,
            region=env.get("VOXFLOW_REGION_NAME")
            or env.get("AWS_REGION")
            or DEFAULT_PRIMARY_REGION,
            primary_region=env.get("VOXFLOW_PRIMARY_REGION") or DEFAULT_PRIMARY_REGION,
            secondary_region=env.get("VOXFLOW_SECONDARY_REGION") or DEFAULT_SECONDARY_REGION,
            health_alarm=env.get("VOXFLOW_HEALTH_ALARM") or None,
            standby_retry_s=_integer(env, "VOXFLOW_STANDBY_RETRY_S", 5),
            standby_retry_max_s=_integer(env, "VOXFLOW_STANDBY_RETRY_MAX_S", 30),
            standby_max_s=_integer(env, "VOXFLOW_STANDBY_MAX_S", 900),
            requests_queue_url=env.get("VOXFLOW_REQUESTS_QUEUE_URL") or None,
            primary_endpoint_url=env.get("VOXFLOW_PRIMARY_ENDPOINT_URL") or None,
        )


def _integer(env: Mapping[str, str], name: str, default: int) -> int:
    if not env.get(name):
        return default
    try:
        return int(env[name])
    except ValueError as error:
        raise SettingsError(f"{name}={env[name]!r} is not an integer") from error
