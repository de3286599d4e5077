"""The one place boto3 clients are built, from AwsSettings, on first use.

Nothing is built at import time: a Lambda cold start pays only for the
clients its handler touches, and tests inject their own settings.
"""

import threading
from typing import Any

import boto3
from botocore.config import Config

from voxflow.aws.settings import AwsSettings

# Path-style addressing keeps presigned URLs valid against a local endpoint,
# where bucket-name subdomains of 127.0.0.1 do not resolve.
_S3_CONFIG = Config(signature_version="s3v4", s3={"addressing_style": "path"})
_RETRIES = Config(retries={"mode": "standard", "max_attempts": 5})


class AwsClients:
    def __init__(self, settings: AwsSettings, *, config: Config | None = None) -> None:
        """``config`` goes into every client: short timeouts and fewer attempts where
        an unreachable region must be noticed fast (the two-region client, the
        local replicator)."""
        self.settings = settings
        self._base_config = _RETRIES.merge(config) if config else _RETRIES
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._session: boto3.Session | None = None

    def client(self, service: str) -> Any:
        """Any other service's client, built the same way."""
        return self._client(service, _S3_CONFIG if service == "s3" else None)

    def _client(self, service: str, config: Config | None = None) -> Any:
        with self._lock:
            if service not in self._clients:
                if self._session is None:
                    self._session = boto3.Session(
                        profile_name=self.settings.profile,
                        region_name=self.settings.region,
                        aws_access_key_id=self.settings.access_key_id,
                        aws_secret_access_key=self.settings.secret_access_key,
                    )
                merged = self._base_config.merge(config) if config else self._base_config
                self._clients[service] = self._session.client(
                    service,
                    endpoint_url=self.settings.endpoint_url,
                    config=merged,
                )
            return self._clients[service]

    @property
    def s3(self) -> Any:
        return self._client("s3", _S3_CONFIG)

    @property
    def sqs(self) -> Any:
        return self._client("sqs")

    @property
    def dynamodb(self) -> Any:
        return self._client("dynamodb")

    @property
    def events(self) -> Any:
        return self._client("events")

    @property
    def cloudformation(self) -> Any:
        return self._client("cloudformation")

    @property
    def cloudwatch(self) -> Any:
        return self._client("cloudwatch")


def async_session(settings: AwsSettings) -> Any:
    """An aioboto3 session for the asyncio client, from the same settings."""
    import aioboto3  # only the async client needs it

    return aioboto3.Session(
        profile_name=settings.profile,
        region_name=settings.region,
        aws_access_key_id=settings.access_key_id,
        aws_secret_access_key=settings.secret_access_key,
    )
