"""The pipeline's deployment settings: resource names from the function's environment.

Read and validated once per cold start; a missing name fails the cold start
with a message that names the variable, not the first request with a KeyError.
"""

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from voxflow.errors import SettingsError

DEFAULT_REPLY_PREFIX = "voxflow-replies-"
# What a queue name (and a bus name, which may also hold dots) can start with.
_QUEUE_PREFIX = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_BUS_PREFIX = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


class CacheIsolation(StrEnum):
    """Whose cache a request's keys are in (docs/operations.md has the tradeoff)."""

    SHARED = "shared"  # every tenant's audio serves every tenant
    TENANT = "tenant"  # keys salted with the tenant: no hit crosses tenants

    def key_tenant(self, tenant: str) -> str | None:
        """The tenant the request and chunk keys are salted with; None: no salt."""
        return tenant if self is CacheIsolation.TENANT else None


@dataclass(frozen=True)
class ServiceSettings:
    bus_name: str
    chunks_queue_url: str
    bucket: str
    cache_table: str
    jobs_table: str
    region_name: str
    url_expiry_s: int = 3600
    cache_ttl_s: int = 30 * 86400
    # Chunk audio under chunks/ expires by the bucket's lifecycle (ChunkRetentionDays,
    # 7 by default): its index entries must expire before the objects do.
    chunk_ttl_s: int = 6 * 86400
    job_ttl_s: int = 7 * 86400
    # The queues' redrive maxReceiveCount: the last attempt reports the failure.
    max_receive_count: int = 3
    # The long lane (docs/pipeline.md): chunks of jobs with more than short_job_chunks
    # chunks go there, so short requests never wait behind them. None: one lane.
    long_chunks_queue_url: str | None = None
    short_job_chunks: int = 3
    cache_isolation: CacheIsolation = CacheIsolation.SHARED
    # Direct SQS senders' tenants (voxflow.tenants); None: no sender is bound.
    tenants_table: str | None = None
    # Reply targets (voxflow.pipeline.reply_targets): the name prefixes a request's
    # reply_to must use (IAM lets the functions send only there), and the names of the
    # stack's own queues, which are never reply targets.
    reply_queue_prefix: str = DEFAULT_REPLY_PREFIX
    reply_bus_prefix: str = DEFAULT_REPLY_PREFIX
    own_queues: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if not 1 <= self.url_expiry_s <= 7 * 86400:
            raise SettingsError("VOXFLOW_URL_EXPIRY_S must be 1..604800 (S3's presign limit)")
        if self.max_receive_count < 1:
            raise SettingsError("VOXFLOW_MAX_RECEIVE_COUNT must be >= 1")
        if self.short_job_chunks < 1:
            raise SettingsError("VOXFLOW_SHORT_JOB_CHUNKS must be >= 1")
        if not _QUEUE_PREFIX.match(self.reply_queue_prefix):
            raise SettingsError("VOXFLOW_REPLY_QUEUE_PREFIX must be 1-64 of A-Z a-z 0-9 _ -")
        if not _BUS_PREFIX.match(self.reply_bus_prefix):
            raise SettingsError("VOXFLOW_REPLY_BUS_PREFIX must be 1-64 of A-Z a-z 0-9 _ . -")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "ServiceSettings":
        env = os.environ if environ is None else environ
        required = {
            "bus_name": "VOXFLOW_BUS_NAME",
            "chunks_queue_url": "VOXFLOW_CHUNKS_QUEUE_URL",
            "bucket": "VOXFLOW_BUCKET",
            "cache_table": "VOXFLOW_CACHE_TABLE",
            "jobs_table": "VOXFLOW_JOBS_TABLE",
        }
        missing = [name for name in required.values() if not env.get(name)]
        if missing:
            raise SettingsError(f"missing environment variables: {', '.join(missing)}")
        values: dict[str, str | int | CacheIsolation | frozenset[str]] = {
            field: env[name] for field, name in required.items()
        }
        values["region_name"] = (
            env.get("VOXFLOW_REGION_NAME") or env.get("AWS_REGION") or "us-east-1"
        )
        for field, name in (
            ("url_expiry_s", "VOXFLOW_URL_EXPIRY_S"),
            ("cache_ttl_s", "VOXFLOW_CACHE_TTL_S"),
            ("job_ttl_s", "VOXFLOW_JOB_TTL_S"),
            ("max_receive_count", "VOXFLOW_MAX_RECEIVE_COUNT"),
            ("short_job_chunks", "VOXFLOW_SHORT_JOB_CHUNKS"),
        ):
            if env.get(name):
                try:
                    values[field] = int(env[name])
                except ValueError as error:
                    raise SettingsError(f"{name}={env[name]!r} is not an integer") from error
        for field, name in (
            ("long_chunks_queue_url", "VOXFLOW_LONG_CHUNKS_QUEUE_URL"),
            ("tenants_table", "VOXFLOW_TENANTS_TABLE"),
            ("reply_queue_prefix", "VOXFLOW_REPLY_QUEUE_PREFIX"),
            ("reply_bus_prefix", "VOXFLOW_REPLY_BUS_PREFIX"),
        ):
            if env.get(name):
                values[field] = env[name]
        if env.get("VOXFLOW_OWN_QUEUES"):
            values["own_queues"] = frozenset(
                name.strip() for name in env["VOXFLOW_OWN_QUEUES"].split(",") if name.strip()
            )
        if env.get("VOXFLOW_CHUNK_RETENTION_DAYS"):
            try:
                days = int(env["VOXFLOW_CHUNK_RETENTION_DAYS"])
            except ValueError as error:
                raise SettingsError("VOXFLOW_CHUNK_RETENTION_DAYS is not an integer") from error
            values["chunk_ttl_s"] = max(1, days - 1) * 86400
        if env.get("VOXFLOW_CACHE_ISOLATION"):
            isolation = env["VOXFLOW_CACHE_ISOLATION"]
            try:
                values["cache_isolation"] = CacheIsolation(isolation)
            except ValueError as error:
                raise SettingsError(
                    f"VOXFLOW_CACHE_ISOLATION={isolation!r} is not shared or tenant"
                ) from error
        return cls(**values)  # type: ignore[arg-type]
