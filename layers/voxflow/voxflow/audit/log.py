"""Writing and reading audit records.

Two writes per request, each an UpdateItem of its own attributes, so either may come
first, and a redelivery writes the same values again: idempotent without conditions.
``at`` and ``expires_at`` are set only if absent, so they keep the first sighting.
A request answered at once writes both as one conditional put (``write_whole``).
"""

import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pynamodb.exceptions import DoesNotExist
from pynamodb.expressions.update import Action
from pynamodb.transactions import TransactWrite

from voxflow.audit.models import TENANT_INDEX, AuditRecord
from voxflow.aws.settings import AwsSettings
from voxflow.config import Config
from voxflow.config import variables as env
from voxflow.errors import SettingsError
from voxflow.store.models import bind

COMPLETED = "completed"
DEGRADED = "degraded"
FAILED = "failed"


@dataclass(frozen=True)
class AuditSettings:
    table: str
    keep_text: bool = env.AUDIT_TEXT.default
    ttl_days: int = env.AUDIT_TTL_DAYS.default

    def __post_init__(self) -> None:
        if self.ttl_days < 1:
            raise SettingsError("VOXFLOW_AUDIT_TTL_DAYS must be >= 1")

    @classmethod
    def of(cls, config: Config) -> "AuditSettings | None":
        """None when VOXFLOW_AUDIT_TABLE is unset: no audit."""
        table = config[env.AUDIT_TABLE]
        if not table:
            return None
        return cls(table, keep_text=config[env.AUDIT_TEXT], ttl_days=config[env.AUDIT_TTL_DAYS])


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class AuditLog:
    def __init__(self, model: type[AuditRecord], settings: AuditSettings) -> None:
        self._model = model
        self.settings = settings

    @classmethod
    def bound(cls, settings: AuditSettings, aws: AwsSettings) -> "AuditLog":
        model = bind(AuditRecord, settings.table, aws)
        if aws.access_key_id is not None:
            # A local endpoint's dummy keys (AwsSettings.local); on AWS, the role's.
            setattr(model.Meta, "aws_access_key_id", aws.access_key_id)  # noqa: B010
            setattr(model.Meta, "aws_secret_access_key", aws.secret_access_key)  # noqa: B010
        return cls(model, settings)

    def received(
        self,
        request_id: str,
        *,
        tenant: str,
        text: str,
        voice: str,
        format: str,
        batch_id: str | None,
    ) -> None:
        """What was asked: the text's hash and length (the text itself only if configured)."""
        actions = self._received(text=text, voice=voice, format=format, batch_id=batch_id)
        self._model(request_id).update(actions=[*self._identity(tenant), *actions])

    def finished(
        self,
        request_id: str,
        *,
        tenant: str,
        status: str,
        region: str,
        timings: Mapping[str, float],
        code: str | None = None,
        retryable: bool | None = None,
        cache: str | None = None,
    ) -> None:
        """How it ended: one terminal outcome (a redelivery writes the same one again)."""
        actions = self._finished(
            status=status,
            region=region,
            timings=timings,
            code=code,
            retryable=retryable,
            cache=cache,
        )
        self._model(request_id).update(actions=[*self._identity(tenant), *actions])

    def write_whole(
        self,
        transaction: TransactWrite,
        request_id: str,
        *,
        tenant: str,
        received: Mapping[str, Any],
        finished: Mapping[str, Any],
    ) -> None:
        """Both halves in one write of ``transaction`` (a request answered at once: a
        cache hit). ``received`` and ``finished``: ``received``'s and ``finished``'s
        keyword arguments besides the id and tenant. A put of the whole record, on
        condition that there is none: the values the two updates would set, in one
        item (moto parses a twelve-action update expression for ~30 ms under load,
        against a few for a put); a record there already fails the transaction, and
        the general path, whose updates merge with it, takes the request."""
        now = datetime.now(UTC)
        record = self._model(
            request_id,
            tenant=tenant,
            at=now,
            expires_at=now + timedelta(days=self.settings.ttl_days),
            finished_at=now,
            **self._received_values(**received),
            **self._finished_values(**finished),
        )
        transaction.save(record, condition=self._model.request_id.does_not_exist())

    def _received(
        self, *, text: str, voice: str, format: str, batch_id: str | None
    ) -> list[Action]:
        values = self._received_values(text=text, voice=voice, format=format, batch_id=batch_id)
        return self._set(values)

    def _received_values(
        self, *, text: str, voice: str, format: str, batch_id: str | None
    ) -> dict[str, Any]:
        """What ``received`` sets, by attribute (the text itself only if configured)."""
        values = {
            "text_sha256": text_sha256(text),
            "chars": len(text),
            "voice": voice,
            "format": format,
            "batch_id": batch_id,
            "text": text if self.settings.keep_text else None,
        }
        return {name: value for name, value in values.items() if value is not None}

    def _finished(
        self,
        *,
        status: str,
        region: str,
        timings: Mapping[str, float],
        code: str | None = None,
        retryable: bool | None = None,
        cache: str | None = None,
    ) -> list[Action]:
        model = self._model
        values = self._finished_values(
            status=status,
            region=region,
            timings=timings,
            code=code,
            retryable=retryable,
            cache=cache,
        )
        return [
            *self._set(values),
            model.finished_at.set(model.finished_at | datetime.now(UTC)),
        ]

    def _finished_values(
        self,
        *,
        status: str,
        region: str,
        timings: Mapping[str, float],
        code: str | None = None,
        retryable: bool | None = None,
        cache: str | None = None,
    ) -> dict[str, Any]:
        """What ``finished`` sets, by attribute, besides the first finish time."""
        values = {
            "status": status,
            "region": region,
            "timings": dict(timings),
            "code": code,
            "retryable": retryable,
            "cache": cache,
        }
        return {name: value for name, value in values.items() if value is not None}

    def _set(self, values: Mapping[str, Any]) -> list[Action]:
        return [getattr(self._model, name).set(value) for name, value in values.items()]

    def _identity(self, tenant: str) -> list[Action]:
        now = datetime.now(UTC)
        model = self._model
        return [
            model.tenant.set(tenant),
            model.at.set(model.at | now),
            model.expires_at.set(model.expires_at | now + timedelta(days=self.settings.ttl_days)),
        ]

    def get(self, request_id: str) -> AuditRecord | None:
        try:
            return self._model.get(request_id, consistent_read=True)
        except DoesNotExist:
            return None

    def query(self, tenant: str, start: datetime, end: datetime) -> Iterator[AuditRecord]:
        """The tenant's records first seen in [start, end], oldest first."""
        return self._model.query(
            tenant, self._model.at.between(start, end), index_name=TENANT_INDEX
        )
