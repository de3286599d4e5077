"""The pipeline's deployment settings: resource names from the function's environment.

Read and validated once per cold start through voxflow.config; a missing name fails the
cold start with a message that names the variable, not the first request with a KeyError.
"""

import re
from dataclasses import dataclass

from voxflow.config import Config
from voxflow.config import variables as env
from voxflow.config.choices import CacheIsolation, UrlSigner
from voxflow.errors import SettingsError

__all__ = [
    "DEFAULT_REPLY_PREFIX",
    "CacheIsolation",
    "ServiceSettings",
    "UrlSigner",
    "chunk_ttl_s",
]

DEFAULT_REPLY_PREFIX = env.REPLY_QUEUE_PREFIX.default
# What a queue name (and a bus name, which may also hold dots) can start with.
_QUEUE_PREFIX = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_BUS_PREFIX = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_BUCKET_PREFIX = re.compile(r"^[a-z0-9][a-z0-9.-]{0,39}$")


def chunk_ttl_s(retention_days: int) -> int:
    """Chunk audio under chunks/ expires by the bucket's lifecycle (ChunkRetentionDays):
    its index entries must expire a day before the objects do."""
    return max(1, retention_days - 1) * 86400


@dataclass(frozen=True)
class ServiceSettings:
    bus_name: str
    chunks_queue_url: str
    bucket: str
    cache_table: str
    jobs_table: str
    region_name: str
    url_expiry_s: int = env.URL_EXPIRY_S.default
    cache_ttl_s: int = env.CACHE_TTL_S.default
    chunk_ttl_s: int = chunk_ttl_s(env.CHUNK_RETENTION_DAYS.default)
    job_ttl_s: int = env.JOB_TTL_S.default
    # The queues' redrive maxReceiveCount: the last attempt reports the failure.
    max_receive_count: int = env.MAX_RECEIVE_COUNT.default
    # The long lane (docs/pipeline.md): chunks of jobs with more than short_job_chunks
    # chunks go there, so short requests never wait behind them. None: one lane.
    long_chunks_queue_url: str | None = env.LONG_CHUNKS_QUEUE_URL.default
    # The recovery lane: work resumed for a job another region or worker left (a
    # takeover, the sweeper), served after new work. None: the long lane.
    recovery_chunks_queue_url: str | None = env.RECOVERY_CHUNKS_QUEUE_URL.default
    short_job_chunks: int = env.SHORT_JOB_CHUNKS.default
    # Chunks being made here and the jobs waiting for them (voxflow.store.claims); None:
    # every job queues each chunk it lacks.
    chunk_claims_table: str | None = env.CHUNK_CLAIMS_TABLE.default
    cache_isolation: CacheIsolation = env.CACHE_ISOLATION.default
    # Direct SQS senders' tenants (voxflow.tenants); None: no sender is bound.
    tenants_table: str | None = env.TENANTS_TABLE.default
    # The voice catalog (voxflow.voices.catalog); None: the built-in voices only.
    voices_table: str | None = env.VOICES_TABLE.default
    # Stored pronunciation lexicons (voxflow.lexicons); None: a request naming one
    # fails LEXICON_NOT_FOUND.
    lexicons_table: str | None = env.LEXICONS_TABLE.default
    # Reply targets (voxflow.pipeline.reply_targets): the name prefixes a request's
    # reply_to must use (IAM lets the functions send only there), and the names of the
    # stack's own queues, which are never reply targets.
    reply_queue_prefix: str = env.REPLY_QUEUE_PREFIX.default
    reply_bus_prefix: str = env.REPLY_BUS_PREFIX.default
    output_bucket_prefix: str = env.OUTPUT_BUCKET_PREFIX.default
    reply_topic_prefix: str = env.REPLY_TOPIC_PREFIX.default
    own_queues: frozenset[str] = env.OWN_QUEUES.default
    # Who signs audio URLs (voxflow.store.urls); the edge's three only for `cloudfront`.
    url_signer: UrlSigner = env.URL_SIGNER.default
    edge_url: str | None = env.EDGE_URL.default
    edge_key_id: str | None = env.EDGE_KEY_ID.default
    edge_key_secret: str | None = env.EDGE_KEY_SECRET.default

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
        if not _BUCKET_PREFIX.match(self.output_bucket_prefix):
            raise SettingsError("VOXFLOW_OUTPUT_BUCKET_PREFIX must be 1-40 of a-z 0-9 . -")
        if not _QUEUE_PREFIX.match(self.reply_topic_prefix):
            raise SettingsError("VOXFLOW_REPLY_TOPIC_PREFIX must be 1-64 of A-Z a-z 0-9 _ -")
        if self.url_signer is UrlSigner.CLOUDFRONT:
            missing = [
                name
                for name, value in (
                    (env.EDGE_URL.name, self.edge_url),
                    (env.EDGE_KEY_ID.name, self.edge_key_id),
                    (env.EDGE_KEY_SECRET.name, self.edge_key_secret),
                )
                if not value
            ]
            if missing:
                raise SettingsError(f"VOXFLOW_URL_SIGNER=cloudfront needs {', '.join(missing)}")

    def edge_signing(self) -> tuple[str, str, str]:
        """(base URL, key id, secret id) of the edge distribution's signed URLs."""
        if not (self.edge_url and self.edge_key_id and self.edge_key_secret):
            raise SettingsError("the edge's URL, key id and secret are not all set")
        return self.edge_url, self.edge_key_id, self.edge_key_secret

    @classmethod
    def of(cls, config: Config) -> "ServiceSettings":
        config.check(
            (env.BUS_NAME, env.CHUNKS_QUEUE_URL, env.BUCKET, env.CACHE_TABLE, env.JOBS_TABLE)
        )
        return cls(
            bus_name=config[env.BUS_NAME],
            chunks_queue_url=config[env.CHUNKS_QUEUE_URL],
            bucket=config[env.BUCKET],
            cache_table=config[env.CACHE_TABLE],
            jobs_table=config[env.JOBS_TABLE],
            region_name=env.this_region(config),
            url_expiry_s=config[env.URL_EXPIRY_S],
            cache_ttl_s=config[env.CACHE_TTL_S],
            chunk_ttl_s=chunk_ttl_s(config[env.CHUNK_RETENTION_DAYS]),
            job_ttl_s=config[env.JOB_TTL_S],
            max_receive_count=config[env.MAX_RECEIVE_COUNT],
            long_chunks_queue_url=config[env.LONG_CHUNKS_QUEUE_URL],
            recovery_chunks_queue_url=config[env.RECOVERY_CHUNKS_QUEUE_URL],
            short_job_chunks=config[env.SHORT_JOB_CHUNKS],
            cache_isolation=config[env.CACHE_ISOLATION],
            tenants_table=config[env.TENANTS_TABLE],
            voices_table=config[env.VOICES_TABLE],
            lexicons_table=config[env.LEXICONS_TABLE],
            chunk_claims_table=config[env.CHUNK_CLAIMS_TABLE],
            reply_queue_prefix=config[env.REPLY_QUEUE_PREFIX],
            reply_bus_prefix=config[env.REPLY_BUS_PREFIX],
            output_bucket_prefix=config[env.OUTPUT_BUCKET_PREFIX],
            reply_topic_prefix=config[env.REPLY_TOPIC_PREFIX],
            own_queues=config[env.OWN_QUEUES],
            url_signer=config[env.URL_SIGNER],
            edge_url=config[env.EDGE_URL],
            edge_key_id=config[env.EDGE_KEY_ID],
            edge_key_secret=config[env.EDGE_KEY_SECRET],
        )
