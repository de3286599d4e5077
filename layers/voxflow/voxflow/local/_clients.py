"""The one place voxflow.local builds boto3 clients.

Kept apart from voxflow.aws.clients for now: the local stack needs plain clients
against an explicit endpoint with dummy credentials and never a profile, so
nothing it does can reach a real AWS account. Switching to voxflow.aws.clients
later means changing this function only.
"""

from typing import Any

# moto accepts any credentials; fixed ones keep a developer's real ones out of reach.
LOCAL_ACCESS_KEY_ID = "testing"
LOCAL_SECRET_ACCESS_KEY = "testing"


def _client(service: str, endpoint: str, region: str) -> Any:
    import boto3  # type: ignore[import-untyped, unused-ignore]
    from botocore.config import Config  # type: ignore[import-untyped, unused-ignore]

    # Path-style S3 addressing: bucket subdomains of 127.0.0.1 do not resolve.
    config = Config(s3={"addressing_style": "path"}, retries={"mode": "standard"})
    return boto3.session.Session().client(
        service,
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id=LOCAL_ACCESS_KEY_ID,
        aws_secret_access_key=LOCAL_SECRET_ACCESS_KEY,
        config=config,
    )
