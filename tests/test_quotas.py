"""Tenant quotas: token buckets in DynamoDB on moto server over HTTP, under concurrency."""

import json
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from voxflow.aws import AwsClients, AwsSettings
from voxflow.errors import SettingsError, Throttled
from voxflow.local.moto_server import MotoServer
from voxflow.quotas import (
    QuotaMode,
    QuotaSettings,
    TenantLimits,
    TokenBucket,
    create_quotas_table,
)


@pytest.fixture(scope="module")
def clients() -> Iterator[AwsClients]:
    with MotoServer() as moto:
        yield AwsClients(AwsSettings.local(moto.url))


@pytest.fixture
def table(clients: AwsClients) -> str:
    name = f"quotas-{uuid.uuid4().hex[:8]}"
    create_quotas_table(clients.dynamodb, name)
    return name


def bucket(clients: AwsClients, table: str, limits: TenantLimits, **options: Any) -> TokenBucket:
    return TokenBucket(clients.dynamodb, QuotaSettings(table, default=limits, **options))


def test_concurrent_takes_never_exceed_burst_plus_refill(clients: AwsClients, table: str) -> None:
    limits = TenantLimits(
        chars_per_s=200, chars_burst=1000, requests_per_s=1000, requests_burst=1000
    )
    quotas = bucket(clients, table, limits)
    granted: list[int] = []
    throttled: list[float] = []
    lock = threading.Lock()
    # One client per thread, as separate workers would have; built before the clock starts.
    buckets = [
        TokenBucket(AwsClients(clients.settings).dynamodb, quotas.settings) for _ in range(8)
    ]
    for own in buckets:
        own.take("warm-up", 1)  # connects
    started = time.time()
    deadline = started + 2.5

    def hammer(own: TokenBucket) -> None:
        while time.time() < deadline:
            try:
                own.take("busy", 40)
            except Throttled as error:
                with lock:
                    throttled.append(error.retry_after_s or 0.0)
            else:
                with lock:
                    granted.append(40)

    threads = [threading.Thread(target=hammer, args=(own,)) for own in buckets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.time() - started

    ceiling = limits.chars_burst + limits.chars_per_s * elapsed
    assert sum(granted) <= ceiling + 1e-3 * len(granted)
    # The bucket let through its whole burst and then some of its refill (how much
    # depends on how busy the machine is: only the ceiling is exact).
    assert sum(granted) > limits.chars_burst
    assert throttled
    # Short of tokens: wait for 40 of them; lost every race (contention): 1 s.
    assert all(0 < wait <= 40 / 200 or wait == 1.0 for wait in throttled)
    # Another tenant is untouched by the busy one.
    for _ in range(5):
        assert quotas.take("quiet", 100).wait_s == 0


def test_request_rate_is_its_own_bucket(clients: AwsClients, table: str) -> None:
    limits = TenantLimits(chars_per_s=1e6, chars_burst=1e6, requests_per_s=0.5, requests_burst=3)
    quotas = bucket(clients, table, limits)
    for _ in range(3):
        quotas.take("t", 1)
    with pytest.raises(Throttled) as caught:
        quotas.take("t", 1)
    assert caught.value.code == "THROTTLED"
    assert caught.value.retry_after_s == pytest.approx(2.0, abs=0.2)


def test_request_larger_than_burst_is_never_admitted(clients: AwsClients, table: str) -> None:
    quotas = bucket(clients, table, TenantLimits(chars_burst=100))
    with pytest.raises(Throttled) as caught:
        quotas.take("t", 101)
    assert caught.value.retry_after_s is None
    assert quotas.take("t", 100).wait_s == 0  # the failed take cost nothing


def test_delay_mode_schedules_work_within_the_rate(clients: AwsClients, table: str) -> None:
    limits = TenantLimits(chars_per_s=100, chars_burst=100, requests_per_s=100, requests_burst=100)
    quotas = bucket(clients, table, limits, mode=QuotaMode.DELAY, max_delay_s=3)
    waits = [quotas.take("t", 100).wait_s for _ in range(4)]
    assert waits[0] == 0
    # Each further 100 characters waits about one more second.
    for index, wait in enumerate(waits[1:], start=1):
        assert wait == pytest.approx(index, abs=0.3)
    with pytest.raises(Throttled):  # a fifth would wait past max_delay_s
        quotas.take("t", 100)


def test_settings_from_env_and_file(tmp_path: Path) -> None:
    assert QuotaSettings.from_env({}) is None
    path = tmp_path / "quotas.json"
    path.write_text(
        json.dumps(
            {
                "mode": "delay",
                "default": {"chars_per_s": 50, "requests_burst": 5},
                "tenants": {"big": {"chars_per_s": 5000}},
            }
        )
    )
    settings = QuotaSettings.from_env(
        {
            "VOXFLOW_QUOTAS_TABLE": "q",
            "VOXFLOW_QUOTAS_FILE": str(path),
            "VOXFLOW_QUOTA_REQUESTS_PER_S": "2",
        }
    )
    assert settings is not None
    assert settings.mode is QuotaMode.DELAY
    assert settings.limits_for("anyone") == TenantLimits(
        chars_per_s=50, requests_per_s=2, requests_burst=5
    )
    assert settings.limits_for("big").chars_per_s == 5000
    assert settings.limits_for("big").requests_burst == 5  # inherits the default
    with pytest.raises(SettingsError):
        QuotaSettings.from_env({"VOXFLOW_QUOTAS_TABLE": "q", "VOXFLOW_QUOTA_MODE": "maybe"})
    with pytest.raises(SettingsError):
        QuotaSettings.from_env({"VOXFLOW_QUOTAS_TABLE": "q", "VOXFLOW_QUOTA_CHARS_PER_S": "-1"})
