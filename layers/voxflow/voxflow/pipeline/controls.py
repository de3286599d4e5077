"""Tenant quotas, content policy, audit, fallback audio and the tenant table, as the
pipeline holds them.

Each is off unless its setting is there (VOXFLOW_QUOTAS_TABLE, VOXFLOW_POLICY_FILE,
VOXFLOW_AUDIT_TABLE, VOXFLOW_FALLBACK_AUDIO=1, VOXFLOW_TENANTS_TABLE); off, it makes no
AWS call at all. The tenant table is read through a short cache (voxflow.tenants.cached).
Without a tenant table no direct sender is bound: requests are still held to the tenant
their event source names (voxflow.pipeline.tenancy).
"""

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pynamodb.transactions import TransactWrite

from voxflow.audio import AudioFormat
from voxflow.audit import COMPLETED, DEGRADED, FAILED, AuditLog, AuditSettings
from voxflow.aws import AwsClients, AwsSettings
from voxflow.config import Config
from voxflow.config import variables as env
from voxflow.events import ItemRequest, SynthesisCompleted, SynthesisFailed
from voxflow.fallback import FallbackAudio
from voxflow.policy import ContentPolicy, policy_of
from voxflow.quotas import QuotaSettings, TokenBucket
from voxflow.service_settings import ServiceSettings
from voxflow.store import AudioStore, Job
from voxflow.tenants import TenantDirectory, TenantTable
from voxflow.tenants.cached import CachedDirectory


@dataclass(frozen=True)
class Controls:
    quotas: TokenBucket | None = None
    policy: ContentPolicy | None = None
    audit: AuditLog | None = None
    fallback: FallbackAudio | None = None
    tenants: TenantDirectory | None = None

    @classmethod
    def of(
        cls, config: Config, service: ServiceSettings, aws: AwsSettings, clients: AwsClients
    ) -> "Controls":
        quotas = QuotaSettings.of(config)
        audit = AuditSettings.of(config)
        return cls(
            quotas=TokenBucket.bound(quotas, aws) if quotas else None,
            policy=policy_of(config),
            audit=AuditLog.bound(audit, aws) if audit else None,
            fallback=(
                FallbackAudio(AudioStore.of(service, clients))
                if config[env.FALLBACK_AUDIO]
                else None
            ),
            tenants=(
                CachedDirectory(
                    TenantTable(clients.dynamodb, service.tenants_table),
                    config[env.TENANT_CACHE_TTL_S],
                )
                if service.tenants_table
                else None
            ),
        )

    def record_received(self, item: ItemRequest) -> None:
        if self.audit is not None:
            self.audit.received(item.request_id, tenant=item.tenant, **_received(item))

    def record_outcome(
        self, job: Job, event: SynthesisCompleted | SynthesisFailed, region: str
    ) -> None:
        """The audit record's terminal half; the same values again on a redelivery."""
        if self.audit is not None:
            self.audit.finished(job.request_id, tenant=job.tenant, **_outcome(job, event, region))

    def record_whole(
        self,
        transaction: TransactWrite,
        item: ItemRequest,
        job: Job,
        event: SynthesisCompleted,
        region: str,
    ) -> None:
        """Both halves of the audit record, in ``transaction``: a request answered at once."""
        if self.audit is not None:
            self.audit.write_whole(
                transaction,
                item.request_id,
                tenant=item.tenant,
                received=_received(item),
                finished=_outcome(job, event, region),
            )

    def fallback_event(
        self,
        job: Job,
        retryable: bool,
        region: str,
    ) -> SynthesisCompleted | None:
        """The busy clip instead of SynthesisFailed when synthesis is impossible for now
        (``retryable``: retries exhausted, or over quota) and fallback audio is on; else
        None. Final failures (bad input, content rejected, a request larger than the
        tenant's burst) stay failures: "try again shortly" would not be true."""
        if self.fallback is None or not job.format or not retryable:
            return None
        return self.fallback.result(
            job.request_id,
            AudioFormat.parse(job.format),
            region=region,
            tenant=job.tenant,
            metadata=json.loads(job.metadata_json),
            batch_id=job.batch_id,
        )


def _received(item: ItemRequest) -> dict[str, Any]:
    return {
        "text": item.text,
        "voice": item.voice,
        "format": AudioFormat.parse(str(item.format)).value,
        "batch_id": item.batch_id,
    }


def _outcome(job: Job, event: SynthesisCompleted | SynthesisFailed, region: str) -> dict[str, Any]:
    ended = job.completed_at or datetime.now(UTC)
    timings = {"total_s": (ended - job.created_at).total_seconds()}
    if isinstance(event, SynthesisCompleted):
        return {
            "status": DEGRADED if event.degraded else COMPLETED,
            "region": region,
            "timings": {**timings, **event.timings},
            "cache": None if event.degraded else event.cache,
        }
    return {
        "status": FAILED,
        "region": region,
        "timings": timings,
        "code": event.code,
        "retryable": event.retryable,
    }
