"""The closed sets some variables choose from; the modules that use them re-export them."""

from enum import StrEnum
from typing import Literal

Device = Literal["auto", "cpu", "cuda"]
ExecutionMode = Literal["sequential", "parallel"]
# cuDNN's convolution algorithm choice on CUDA (onnxruntime's cudnn_conv_algo_search).
ConvAlgoSearch = Literal["DEFAULT", "HEURISTIC", "EXHAUSTIVE"]


class CacheIsolation(StrEnum):
    """Whose cache a request's keys are in (docs/operations.md has the tradeoff)."""

    SHARED = "shared"  # every tenant's audio serves every tenant
    TENANT = "tenant"  # keys salted with the tenant: no hit crosses tenants

    def key_tenant(self, tenant: str) -> str | None:
        """The tenant the request and chunk keys are salted with; None: no salt."""
        return tenant if self is CacheIsolation.TENANT else None


class Role(StrEnum):
    STANDALONE = "standalone"
    PRIMARY = "primary"
    SECONDARY = "secondary"


class QuotaMode(StrEnum):
    REJECT = "reject"  # over quota: SynthesisFailed THROTTLED (retryable)
    DELAY = "delay"  # over quota: the work waits until the tokens are there


class UrlSigner(StrEnum):
    """Who signs audio URLs (voxflow.store.urls)."""

    S3 = "s3"  # presigned GETs of this region's bucket
    CLOUDFRONT = "cloudfront"  # signed URLs of the edge distribution, both buckets behind it
