"""Per-tenant quota limits: defaults from the environment, overrides from a JSON file.

Precedence for every scalar is environment, then file, then the built-in default;
per-tenant overrides come only from the file and replace just the fields they name.
"""

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from voxflow.config import Config, Var
from voxflow.config import variables as env
from voxflow.config.choices import QuotaMode
from voxflow.errors import SettingsError

__all__ = ["SQS_MAX_DELAY_S", "QuotaMode", "QuotaSettings", "TenantLimits"]

# SQS's largest DelaySeconds: a delayed request can wait no longer than this.
SQS_MAX_DELAY_S = 900


@dataclass(frozen=True)
class TenantLimits:
    """Two token buckets: characters and requests, each a rate and a burst (capacity)."""

    chars_per_s: float = env.QUOTA_CHARS_PER_S.default
    # The burst bounds the longest request: one larger than it is never admitted.
    chars_burst: float = env.QUOTA_CHARS_BURST.default
    requests_per_s: float = env.QUOTA_REQUESTS_PER_S.default
    requests_burst: float = env.QUOTA_REQUESTS_BURST.default

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


_LIMIT_ENV: dict[str, Var[float]] = {
    "chars_per_s": env.QUOTA_CHARS_PER_S,
    "chars_burst": env.QUOTA_CHARS_BURST,
    "requests_per_s": env.QUOTA_REQUESTS_PER_S,
    "requests_burst": env.QUOTA_REQUESTS_BURST,
}


@dataclass(frozen=True)
class QuotaSettings:
    table: str
    default: TenantLimits = field(default_factory=TenantLimits)
    tenants: Mapping[str, TenantLimits] = field(default_factory=dict)
    mode: QuotaMode = env.QUOTA_MODE.default
    max_delay_s: float = env.QUOTA_MAX_DELAY_S.default

    def __post_init__(self) -> None:
        if not 0 < self.max_delay_s <= SQS_MAX_DELAY_S:
            raise SettingsError(f"quota max_delay_s must be in (0, {SQS_MAX_DELAY_S}]")

    def limits_for(self, tenant: str) -> TenantLimits:
        return self.tenants.get(tenant, self.default)

    @classmethod
    def of(cls, config: Config) -> "QuotaSettings | None":
        """None when VOXFLOW_QUOTAS_TABLE is unset: quotas are off. A variable that is set
        wins over the quota file, which wins over the variable's default."""
        table = config[env.QUOTAS_TABLE]
        if not table:
            return None
        quotas_file = config[env.QUOTAS_FILE]
        document = _read_file(quotas_file) if quotas_file else {}
        default = _limits(TenantLimits(), document.get("default", {}), "default")
        from_env = {name: config[var] for name, var in _LIMIT_ENV.items() if config.is_set(var)}
        default = replace(default, **from_env)
        tenants = document.get("tenants", {})
        if not isinstance(tenants, dict):
            raise SettingsError("quota file: 'tenants' must be an object")
        mode = config[env.QUOTA_MODE]
        if not config.is_set(env.QUOTA_MODE) and "mode" in document:
            try:
                mode = QuotaMode(document["mode"])
            except ValueError as error:
                raise SettingsError(
                    f"quota file: mode must be reject or delay, not {document['mode']!r}"
                ) from error
        max_delay = config[env.QUOTA_MAX_DELAY_S]
        if not config.is_set(env.QUOTA_MAX_DELAY_S) and "max_delay_s" in document:
            max_delay = _number(document["max_delay_s"], "max_delay_s")
        return cls(
            table=table,
            default=default,
            tenants={
                str(name): _limits(default, overrides, f"tenants.{name}")
                for name, overrides in tenants.items()
            },
            mode=mode,
            max_delay_s=max_delay,
        )


def _read_file(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise SettingsError(f"VOXFLOW_QUOTAS_FILE {str(path)!r} is unreadable: {error}") from error
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
