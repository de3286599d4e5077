"""Where AWS is: region, optional endpoint (the local stack) and profile."""

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from voxflow.errors import SettingsError

DEFAULT_REGION = "us-east-1"
LOCAL_KEY = "testing"  # moto accepts any credentials


@dataclass(frozen=True)
class AwsSettings:
    region: str = DEFAULT_REGION
    endpoint_url: str | None = None
    profile: str | None = None
    # Only for local endpoints: explicit dummy keys keep real credentials away from them.
    access_key_id: str | None = field(default=None, repr=False)
    secret_access_key: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not self.region:
            raise SettingsError("an AWS region is required")
        if self.endpoint_url is not None and not self.endpoint_url.startswith(
            ("http://", "https://")
        ):
            raise SettingsError(f"endpoint URL must be http(s): {self.endpoint_url!r}")

    @classmethod
    def local(cls, endpoint_url: str, region: str = DEFAULT_REGION) -> "AwsSettings":
        """A local emulator (moto server): fixed dummy keys, never a profile."""
        return cls(region, endpoint_url, None, LOCAL_KEY, LOCAL_KEY)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "AwsSettings":
        env = os.environ if environ is None else environ
        return cls(
            region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or DEFAULT_REGION,
            endpoint_url=env.get("VOXFLOW_AWS_ENDPOINT_URL") or None,
            profile=env.get("AWS_PROFILE") or None,
        )
