"""Per-tenant quota limits: defaults from the environment, overrides from a JSON file.

Precedence for every scalar is environment, then file, then the built-in default;
per-tenant overrides come only from the file and replace just the fields they name.
"""

import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

from voxflow.errors import SettingsError

# SQS's largest DelaySeconds: a delayed request can wait no longer than this.
SQS_MAX_DELAY_S = 900


class QuotaMode(StrEnum):
    REJECT = "reject"  # over quota: SynthesisFailed THROTTLED (retryable)
    DELAY = "delay"  # over quota: the work waits until the tokens are there


@dataclass(frozen=True)
class TenantLimits:
    """Two token buckets: characters and requests, each a rate and a burst (capacity)."""

    chars_per_s: float = 1000.0
    # The burst bounds the longest request: one larger than it is never admitted.
    chars_burst: float = 100_000.0
    requests_per_s: float = 10.0
    requests_burst: float = 50.0

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise SettingsError(f"quota limit {item.name} must be a number, not {value!r}")
            if not math.isfinite(value) or value <= 0:
                raise SettingsError(f"quota limit {item.name} must be a number > 0, not {value!r}")

    @property
    def fill_time_s(self) -> float:
        """How long an empty bucket takes to fill again (the slower of the two)."""
        return max(self.chars_burst / self.chars_per_s, self.requests_burst / self.requests_per_s)


_LIMIT_ENV = {
    "chars_per_s": "VOXFLOW_QUOTA_CHARS_PER_S",
    "chars_burst": "VOXFLOW_QUOTA_CHARS_BURST",
    "requests_per_s": "VOXFLOW_QUOTA_REQUESTS_PER_S",
    "requests_burst": "VOXFLOW_QUOTA_REQUESTS_BURST",
}


@dataclass(frozen=True)
class QuotaSettings:
    table: str
    default: TenantLimits = field(default_factory=TenantLimits)
    tenants: Mapping[str, TenantLimits] = field(default_factory=dict)
    mode: QuotaMode = QuotaMode.REJECT
    max_delay_s: float = SQS_MAX_DELAY_S

    def __post_init__(self) -> None:
        if not 0 < self.max_delay_s <= SQS_MAX_DELAY_S:
            raise SettingsError(f"quota max_delay_s must be in (0, {SQS_MAX_DELAY_S}]")

    def limits_for(self, tenant: str) -> TenantLimits:
        return self.tenants.get(tenant, self.default)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "QuotaSettings | None":
        """None when VOXFLOW_QUOTAS_TABLE is unset: quotas are off."""
        env = os.environ if environ is None else environ
        table = env.get("VOXFLOW_QUOTAS_TABLE")
        if not table:
            return None
        document = _read_file(env["VOXFLOW_QUOTAS_FILE"]) if env.get("VOXFLOW_QUOTAS_FILE") else {}
        default = _limits(TenantLimits(), document.get("default", {}), "default")
        from_env = {
            name: _number(env[var], var) for name, var in _LIMIT_ENV.items() if env.get(var)
        }
        default = replace(default, **from_env)
        tenants = document.get("tenants", {})
        if not isinstance(tenants, dict):
            raise SettingsError("quota file: 'tenants' must be an object")
        mode = env.get("VOXFLOW_QUOTA_MODE") or document.get("mode") or QuotaMode.REJECT
        try:
            parsed_mode = QuotaMode(mode)
        except ValueError as error:
            raise SettingsError(f"quota mode must be reject or delay, not {mode!r}") from error
        max_delay = env.get("VOXFLOW_QUOTA_MAX_DELAY_S") or document.get("max_delay_s")
        return cls(
            table=table,
            default=default,
            tenants={
                str(name): _limits(default, overrides, f"tenants.{name}")
                for name, overrides in tenants.items()
            },
            mode=parsed_mode,
            max_delay_s=(
                SQS_MAX_DELAY_S if max_delay is None else _number(max_delay, "max_delay_s")
            ),
        )


def _read_file(path: str) -> dict[str, Any]:
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise SettingsError(f"VOXFLOW_QUOTAS_FILE {path!r} is unreadable: {error}") from error
    if not isinstance(document, dict):
        raise SettingsError("VOXFLOW_QUOTAS_FILE must hold a JSON object")
    return document


def _limits(base: TenantLimits, overrides: object, where: str) -> TenantLimits:
    if not isinstance(overrides, dict):
        raise SettingsError(f"quota file: {where} must be an object")
    unknown = set(overrides) - set(_LIMIT_ENV)
    if unknown:
        raise SettingsError(f"quota file: {where} has unknown limits {sorted(unknown)}")
    return replace(base, **{name: _number(value, where) for name, value in overrides.items()})


def _number(value: object, where: str) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError) as error:
        raise SettingsError(f"quota {where}: {value!r} is not a number") from error
