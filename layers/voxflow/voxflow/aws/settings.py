"""Where AWS is: region, optional endpoint (the local stack) and profile."""

from dataclasses import dataclass, field

from voxflow.config import Config
from voxflow.config import variables as env
from voxflow.errors import SettingsError

DEFAULT_REGION = env.DEFAULT_REGION
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
    def of(cls, config: Config) -> "AwsSettings":
        return cls(
            region=env.aws_region(config),
            endpoint_url=config[env.AWS_ENDPOINT_URL],
            profile=config[env.AWS_PROFILE],
        )
