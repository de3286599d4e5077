"""Where AWS is: region, optional endpoint (the local stack) and profile."""

import os
from collections.abc import Mapping
from dataclasses import dataclass

from voxflow.errors import SettingsError

DEFAULT_REGION = "us-east-1"


@dataclass(frozen=True)
class AwsSettings:
    region: str = DEFAULT_REGION
    endpoint_url: str | None = None
    profile: str | None = None

    def __post_init__(self) -> None:
        if not self.region:
            raise SettingsError("an AWS region is required")
        if self.endpoint_url is not None and not self.endpoint_url.startswith(
            ("http://", "https://")
        ):
            raise SettingsError(f"endpoint URL must be http(s): {self.endpoint_url!r}")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "AwsSettings":
        env = os.environ if environ is None else environ
        return cls(
            region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or DEFAULT_REGION,
            endpoint_url=env.get("VOXFLOW_AWS_ENDPOINT_URL") or None,
            profile=env.get("AWS_PROFILE") or None,
        )
