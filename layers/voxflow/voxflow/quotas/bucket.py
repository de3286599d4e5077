"""Token buckets in DynamoDB: one item per tenant, changed only by conditional writes.

Each take reads the tenant's item, refills it for the time since its last write,
subtracts, and writes it back on condition that nobody wrote in between: the item's
version attribute (pynamodb's optimistic lock: save() requires the version it read and
increments it). A writer that loses the race reads again. So the writes form one
sequence, and no interleaving grants more than burst + rate × elapsed, whatever the
concurrency. DynamoDB expressions cannot take a minimum, which a refill needs; hence
read, compute, conditional write rather than a single UpdateItem.
"""

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pynamodb.attributes import NumberAttribute, TTLAttribute, UnicodeAttribute, VersionAttribute
from pynamodb.exceptions import DoesNotExist, PutError
from pynamodb.models import Model

from voxflow.aws.settings import AwsSettings
from voxflow.errors import Throttled
from voxflow.quotas.limits import QuotaMode, QuotaSettings, TenantLimits
from voxflow.store.batch_read import BatchRead
from voxflow.store.models import bind

_CONDITION_FAILED = "ConditionalCheckFailedException"
# An idle tenant's item may expire once its buckets would have refilled anyway.
_EXPIRY_SLACK_S = 3600


class FixedPointAttribute(NumberAttribute):
    """A float stored with six decimals and no exponent: DynamoDB numbers take no
    exponent such as 1e-07, which is how python writes a small float."""

    def serialize(self, value: float) -> str:
        return f"{value:.6f}"


class TenantBuckets(Model):
    """One tenant's two buckets: the tokens left at ``refilled_at``, and the version."""

    class Meta:
        table_name = "unbound"

    tenant = UnicodeAttribute(hash_key=True)
    chars = FixedPointAttribute()
    requests = FixedPointAttribute()
    refilled_at = FixedPointAttribute()  # epoch seconds
    version = VersionAttribute()
    expires_at = TTLAttribute()


@dataclass(frozen=True)
class Grant:
    """Tokens taken. ``wait_s`` > 0 only in delay mode: start the work no sooner."""

    wait_s: float = 0.0


@dataclass(frozen=True)
class _State:
    chars: float
    requests: float
    refilled_at: float


class TokenBucket:
    def __init__(
        self,
        model: type[TenantBuckets],
        settings: QuotaSettings,
        *,
        clock: Callable[[], float] = time.time,
        max_attempts: int = 25,
    ) -> None:
        self._model = model
        self.settings = settings
        self._clock = clock
        self._max_attempts = max_attempts

    @classmethod
    def bound(cls, settings: QuotaSettings, aws: AwsSettings, **options: Any) -> "TokenBucket":
        """A bucket on ``settings.table`` where ``aws`` says."""
        return cls(bind(TenantBuckets, settings.table, aws), settings, **options)

    def take(
        self, tenant: str, chars: int, requests: int = 1, *, read: TenantBuckets | None = None
    ) -> Grant:
        """Take ``chars`` and ``requests`` tokens or raise Throttled (see QuotaMode).
        ``read``: the tenant's item as ``read`` returned it a moment ago (the first
        attempt writes on its version instead of reading again)."""
        limits = self.settings.limits_for(tenant)
        if chars > limits.chars_burst or requests > limits.requests_burst:
            raise Throttled(tenant, None)
        for attempt in range(self._max_attempts):
            item = read if attempt == 0 and read is not None else self._read(tenant, limits)
            grant = self.charge(item, chars, requests)
            if self._write(item):
                return grant
            # Lost the race to another writer: back off a little, then read again.
            time.sleep(random.uniform(0, 0.005 * (attempt + 1)))
        # Sustained contention on one tenant is itself a sign of overload.
        raise Throttled(tenant, 1.0)

    def read(self, tenant: str) -> TenantBuckets:
        """The tenant's item (full buckets, unsaved, if it has none)."""
        return self._read(tenant, self.settings.limits_for(tenant))

    def charge(self, item: TenantBuckets, chars: int, requests: int = 1) -> Grant:
        """Take the tokens from ``item`` in memory, refilled to now, or raise Throttled;
        the caller saves it, on condition of the version it was read with."""
        limits = self.settings.limits_for(item.tenant)
        if chars > limits.chars_burst or requests > limits.requests_burst:
            raise Throttled(item.tenant, None)
        # After the read: a slow read (a cold connection) is not time the bucket refills.
        now = self._clock()
        state = self._refilled(item, limits, now)
        chars_left = state.chars - chars
        requests_left = state.requests - requests
        wait_s = max(-chars_left / limits.chars_per_s, -requests_left / limits.requests_per_s, 0.0)
        if wait_s > 0 and (
            self.settings.mode is QuotaMode.REJECT or wait_s > self.settings.max_delay_s
        ):
            over = (
                wait_s
                if self.settings.mode is QuotaMode.REJECT
                else wait_s - (self.settings.max_delay_s)
            )
            raise Throttled(item.tenant, over)
        item.chars, item.requests, item.refilled_at = chars_left, requests_left, state.refilled_at
        expires_at = state.refilled_at + limits.fill_time_s + _EXPIRY_SLACK_S
        item.expires_at = datetime.fromtimestamp(int(expires_at), UTC)
        return Grant(wait_s)

    def read_in(self, batch: BatchRead, tenant: str) -> Callable[[], TenantBuckets]:
        """``read`` as a part of ``batch``: the tenant's item, once it ran."""
        found = batch.add(self._model, [tenant])
        return lambda: found().get(tenant) or self._full(tenant, self.settings.limits_for(tenant))

    def _read(self, tenant: str, limits: TenantLimits) -> TenantBuckets:
        try:
            return self._model.get(tenant, consistent_read=True)
        except DoesNotExist:
            return self._full(tenant, limits)

    def _full(self, tenant: str, limits: TenantLimits) -> TenantBuckets:
        """A tenant without an item: full buckets; version None: saved only if there is
        still no item."""
        return self._model(
            tenant, chars=limits.chars_burst, requests=limits.requests_burst, refilled_at=0.0
        )

    @staticmethod
    def _refilled(item: TenantBuckets, limits: TenantLimits, now: float) -> _State:
        # Clocks of different workers disagree a little: time never runs backwards here.
        elapsed = max(0.0, now - item.refilled_at)
        return _State(
            min(limits.chars_burst, item.chars + limits.chars_per_s * elapsed),
            min(limits.requests_burst, item.requests + limits.requests_per_s * elapsed),
            max(now, item.refilled_at),
        )

    @staticmethod
    def _write(item: TenantBuckets) -> bool:
        """Save on condition of the version read; False if another writer came first."""
        try:
            item.save()
        except PutError as error:
            if error.cause_response_code == _CONDITION_FAILED:
                return False
            raise
        return True


def create_quotas_table(dynamodb: Any, name: str) -> None:
    """The table as template.yaml declares it, for stacks that lack it (tests, local)."""
    dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "tenant", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "tenant", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
