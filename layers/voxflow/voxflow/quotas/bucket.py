"""Token buckets in DynamoDB: one item per tenant, changed only by conditional writes.

Each take reads the tenant's item, refills it for the time since its last write,
subtracts, and writes it back on condition that nobody wrote in between (a version
number). A writer that loses the race reads again. So the writes form one sequence,
and no interleaving grants more than burst + rate × elapsed, whatever the concurrency.
DynamoDB expressions cannot take a minimum, which a refill needs; hence read, compute,
conditional write rather than a single UpdateItem.
"""

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from voxflow.errors import Throttled
from voxflow.quotas.limits import QuotaMode, QuotaSettings, TenantLimits

_CONDITION_FAILED = "ConditionalCheckFailedException"
# An idle tenant's item may expire once its buckets would have refilled anyway.
_EXPIRY_SLACK_S = 3600


@dataclass(frozen=True)
class Grant:
    """Tokens taken. ``wait_s`` > 0 only in delay mode: start the work no sooner."""

    wait_s: float = 0.0


@dataclass(frozen=True)
class _State:
    chars: float
    requests: float
    refilled_at: float
    version: int | None  # None: no item yet


class TokenBucket:
    def __init__(
        self,
        dynamodb: Any,
        settings: QuotaSettings,
        *,
        clock: Callable[[], float] = time.time,
        max_attempts: int = 25,
    ) -> None:
        self._dynamodb = dynamodb
        self.settings = settings
        self._clock = clock
        self._max_attempts = max_attempts

    def take(self, tenant: str, chars: int, requests: int = 1) -> Grant:
        """Take ``chars`` and ``requests`` tokens or raise Throttled (see QuotaMode)."""
        limits = self.settings.limits_for(tenant)
        if chars > limits.chars_burst or requests > limits.requests_burst:
            raise Throttled(tenant, None)
        for attempt in range(self._max_attempts):
            now = self._clock()
            state = self._refilled(self._read(tenant, limits, now), limits, now)
            chars_left = state.chars - chars
            requests_left = state.requests - requests
            wait_s = max(
                -chars_left / limits.chars_per_s, -requests_left / limits.requests_per_s, 0.0
            )
            if wait_s > 0 and (
                self.settings.mode is QuotaMode.REJECT or wait_s > self.settings.max_delay_s
            ):
                over = (
                    wait_s
                    if self.settings.mode is QuotaMode.REJECT
                    else wait_s - (self.settings.max_delay_s)
                )
                raise Throttled(tenant, over)
            if self._write(tenant, limits, state, chars_left, requests_left):
                return Grant(wait_s)
            # Lost the race to another writer: back off a little, then read again.
            time.sleep(random.uniform(0, 0.005 * (attempt + 1)))
        # Sustained contention on one tenant is itself a sign of overload.
        raise Throttled(tenant, 1.0)

    def _read(self, tenant: str, limits: TenantLimits, now: float) -> _State:
        item = self._dynamodb.get_item(
            TableName=self.settings.table, Key={"tenant": {"S": tenant}}, ConsistentRead=True
        ).get("Item")
        if item is None:
            return _State(limits.chars_burst, limits.requests_burst, now, None)
        return _State(
            float(item["chars"]["N"]),
            float(item["requests"]["N"]),
            float(item["refilled_at"]["N"]),
            int(item["version"]["N"]),
        )

    @staticmethod
    def _refilled(state: _State, limits: TenantLimits, now: float) -> _State:
        # Clocks of different workers disagree a little: time never runs backwards here.
        elapsed = max(0.0, now - state.refilled_at)
        return _State(
            min(limits.chars_burst, state.chars + limits.chars_per_s * elapsed),
            min(limits.requests_burst, state.requests + limits.requests_per_s * elapsed),
            max(now, state.refilled_at),
            state.version,
        )

    def _write(
        self, tenant: str, limits: TenantLimits, state: _State, chars: float, requests: float
    ) -> bool:
        version = 0 if state.version is None else state.version + 1
        condition: dict[str, Any] = (
            {"ConditionExpression": "attribute_not_exists(tenant)"}
            if state.version is None
            else {
                "ConditionExpression": "version = :seen",
                "ExpressionAttributeValues": {":seen": {"N": str(state.version)}},
            }
        )
        expires_at = int(state.refilled_at + limits.fill_time_s + _EXPIRY_SLACK_S)
        try:
            self._dynamodb.put_item(
                TableName=self.settings.table,
                Item={
                    "tenant": {"S": tenant},
                    "chars": {"N": _decimal(chars)},
                    "requests": {"N": _decimal(requests)},
                    "refilled_at": {"N": _decimal(state.refilled_at)},
                    "version": {"N": str(version)},
                    "expires_at": {"N": str(expires_at)},
                },
                **condition,
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == _CONDITION_FAILED:
                return False
            raise
        return True


def _decimal(value: float) -> str:
    # Fixed point: DynamoDB numbers take no exponent such as 1e-07.
    return f"{value:.6f}"


def create_quotas_table(dynamodb: Any, name: str) -> None:
    """The table as template.yaml declares it, for stacks that lack it (tests, local)."""
    dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "tenant", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "tenant", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
