"""Tenant quotas: token buckets in DynamoDB on moto server over HTTP, under concurrency."""

import json
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from plan_harness import plan_harness

from voxflow.aws import AwsClients, AwsSettings
from voxflow.client import StackTarget, VoxflowClient
from voxflow.config import Config
from voxflow.errors import SettingsError, Throttled
from voxflow.events import SynthesisCompleted, SynthesisFailed
from voxflow.quotas import (
    QuotaMode,
    QuotaSettings,
    TenantLimits,
    TokenBucket,
    create_quotas_table,
)
from voxflow.quotas.bucket import TenantBuckets
from voxflow.store.models import bind
from voxflow.text import normalize_text
from voxflow.voices import VoiceRegistry
from voxflow_local.moto_server import MotoServer
from voxflow_local.stack import LocalStack


@pytest.fixture(scope="module")
def clients(moto: MotoServer) -> AwsClients:
    return AwsClients(AwsSettings.local(moto.url))


@pytest.fixture
def table(clients: AwsClients) -> str:
    name = f"quotas-{uuid.uuid4().hex[:8]}"
    create_quotas_table(clients.dynamodb, name)
    return name


def bucket(clients: AwsClients, table: str, limits: TenantLimits, **options: Any) -> TokenBucket:
    return TokenBucket.bound(QuotaSettings(table, default=limits, **options), clients.settings)


def test_concurrent_takes_never_exceed_burst_plus_refill(clients: AwsClients, table: str) -> None:
    limits = TenantLimits(
        chars_per_s=200, chars_burst=1000, requests_per_s=1000, requests_burst=1000
    )
    quotas = bucket(clients, table, limits)
    granted: list[int] = []
    throttled: list[float] = []
    lock = threading.Lock()
    # One client per thread, as separate workers would have; built before the clock starts.
    buckets = [TokenBucket.bound(quotas.settings, clients.settings) for _ in range(8)]
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


def stored(clients: AwsClients, table: str, tenant: str) -> dict[str, Any]:
    item: dict[str, Any] = clients.dynamodb.get_item(
        TableName=table, Key={"tenant": {"S": tenant}}, ConsistentRead=True
    )["Item"]
    return item


def test_a_write_on_a_stale_read_is_refused_and_taken_again(
    clients: AwsClients, table: str
) -> None:
    """Another writer between this take's read and its write: the version condition
    refuses the write, the take reads again and charges on top of the other's charge."""
    limits = TenantLimits(chars_per_s=1, chars_burst=100, requests_per_s=1, requests_burst=100)
    settings = QuotaSettings(table, default=limits)

    def at_1000() -> float:  # no refill: the charges alone count
        return 1000.0

    other = TokenBucket.bound(settings, clients.settings, clock=at_1000)
    model = bind(TenantBuckets, table, clients.settings)
    writes: list[int | None] = []

    class Interleaved(model):  # type: ignore[valid-type,misc]
        def save(self, *args: Any, **kwargs: Any) -> Any:
            writes.append(self.version)
            if len(writes) == 1:
                other.take("t", 10)  # lands between our read and our write
            return super().save(*args, **kwargs)

    TokenBucket(Interleaved, settings, clock=at_1000).take("t", 5)
    assert writes == [None, 1]  # first as a new item (lost to the other's), then on v1
    item = stored(clients, table, "t")
    assert float(item["chars"]["N"]) == 85  # 100 - 10 - 5: no update lost
    assert float(item["requests"]["N"]) == 98
    assert item["version"]["N"] == "2"


def test_items_written_by_hand_marshalled_puts_still_count(clients: AwsClients, table: str) -> None:
    """An item as the bucket wrote it before pynamodb (version from 0, fixed point)."""
    clients.dynamodb.put_item(
        TableName=table,
        Item={
            "tenant": {"S": "t"},
            "chars": {"N": "40.500000"},
            "requests": {"N": "3.000000"},
            "refilled_at": {"N": "1000.000000"},
            "version": {"N": "0"},
            "expires_at": {"N": "1005000"},
        },
    )
    limits = TenantLimits(chars_per_s=1, chars_burst=100, requests_per_s=1, requests_burst=100)
    quotas = TokenBucket.bound(
        QuotaSettings(table, default=limits), clients.settings, clock=lambda: 1000.25
    )
    assert quotas.take("t", 40).wait_s == 0
    with pytest.raises(Throttled):  # 0.75 left: 40.5 + 0.25 refilled - 40
        quotas.take("t", 1)
    item = stored(clients, table, "t")
    assert item["version"]["N"] == "1"
    assert item["chars"]["N"] == "0.750000"  # fixed point, never 7.5e-01
    assert item["refilled_at"]["N"] == "1000.250000"
    assert item["expires_at"]["N"] == str(int(1000.25 + limits.fill_time_s + 3600))


def test_settings_from_env_and_file(tmp_path: Path) -> None:
    assert QuotaSettings.of(Config.load({})) is None
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
    settings = QuotaSettings.of(
        Config.load(
            {
                "VOXFLOW_QUOTAS_TABLE": "q",
                "VOXFLOW_QUOTAS_FILE": str(path),
                "VOXFLOW_QUOTA_REQUESTS_PER_S": "2",
            }
        )
    )
    assert settings is not None
    assert settings.mode is QuotaMode.DELAY
    assert settings.limits_for("anyone") == TenantLimits(
        chars_per_s=50, requests_per_s=2, requests_burst=5
    )
    assert settings.limits_for("big").chars_per_s == 5000
    assert settings.limits_for("big").requests_burst == 5  # inherits the default
    with pytest.raises(SettingsError):
        QuotaSettings.of(Config.load({"VOXFLOW_QUOTAS_TABLE": "q", "VOXFLOW_QUOTA_MODE": "maybe"}))
    with pytest.raises(SettingsError):
        QuotaSettings.of(
            Config.load({"VOXFLOW_QUOTAS_TABLE": "q", "VOXFLOW_QUOTA_CHARS_PER_S": "-1"})
        )


# ---- what a request costs: plan's charge, on the real token bucket ----

PADDED = " " * 99_998 + "Hi"  # the longest text accepted: 100,000 characters
DIGITS = "1234567890" * 40  # read digit by digit: "one two three ..."


def chars_left(clients: AwsClients, table: str, tenant: str) -> float | None:
    """None: the tenant has never been granted a token."""
    item = clients.dynamodb.get_item(TableName=table, Key={"tenant": {"S": tenant}}).get("Item")
    return None if item is None else float(item["chars"]["N"])


def test_plan_charges_the_spoken_characters(
    moto: MotoServer, clients: AwsClients, table: str, registry: VoiceRegistry
) -> None:
    """Padding is free and digits cost the words they become, under a burst of 3,000
    that the padded text's raw length (100,000) would exceed."""
    quotas = bucket(clients, table, TenantLimits(chars_per_s=1, chars_burst=3000))
    harness = plan_harness(moto.url, registry, quotas=quotas)

    padded = harness.plan(PADDED, tenant="padded")
    assert padded.status == "pending"  # admitted, not THROTTLED
    assert [task.text for task in harness.outbox.tasks] == ["Hi"]
    # A tenant's first take starts from a full bucket at that moment: exact to the token.
    assert chars_left(clients, table, "padded") == 3000 - 2

    spoken = normalize_text(DIGITS)
    assert len(spoken) == 1999  # 400 digits are 400 words
    harness.plan(DIGITS, tenant="digits")
    assert chars_left(clients, table, "digits") == 3000 - len(spoken)
    assert harness.outbox.details("SynthesisFailed") == []


def test_digits_over_the_burst_in_speech_are_throttled(
    moto: MotoServer, clients: AwsClients, table: str, registry: VoiceRegistry
) -> None:
    """400 digits fit a burst of 1,000 as characters, not as the 1,999 spoken ones."""
    quotas = bucket(clients, table, TenantLimits(chars_burst=1000))
    harness = plan_harness(moto.url, registry, quotas=quotas)
    job = harness.plan(DIGITS, tenant="digits")
    (failed,) = harness.outbox.details("SynthesisFailed")
    assert (failed["request_id"], failed["code"]) == (job.request_id, "THROTTLED")
    assert failed["retryable"] is False  # larger than the burst: never admitted
    assert harness.outbox.tasks == []


@pytest.mark.slow
@pytest.mark.integration
def test_quotas_charge_speech_end_to_end(tmp_path: Path) -> None:
    """template.yaml on moto server, plan and synthesize running: the padded text is
    spoken under a burst its raw length exceeds 100-fold, the digits are refused for
    the speech they would become."""
    limits = {"chars_burst": 1000, "chars_per_s": 1}
    quotas_file = tmp_path / "quotas.json"
    quotas_file.write_text(json.dumps({"tenants": {"padded": limits, "digits": limits}}))
    env = {"VOXFLOW_QUOTAS_TABLE": "voxflow-quotas-spoken", "VOXFLOW_QUOTAS_FILE": str(quotas_file)}
    with LocalStack(
        functions=["PlanFunction", "SynthesizeFunction"],
        retry_visibility_s=1,
        extra_env=env,
        log_dir=tmp_path / "logs",
    ) as stack:
        create_quotas_table(stack.client("dynamodb"), env["VOXFLOW_QUOTAS_TABLE"])
        clients = AwsClients(AwsSettings.local(stack.url, stack.region))
        target = StackTarget.from_resources(stack.stack.resources)
        with VoxflowClient(clients, target) as client:
            padded = client.publish(PADDED, tenant="padded", format="wav")
            digits = client.publish(DIGITS, tenant="digits", format="wav")
            outcomes = client.wait([padded, digits], timeout_s=180)
        left = chars_left(clients, env["VOXFLOW_QUOTAS_TABLE"], "padded")

    spoken = outcomes[padded].terminal
    assert isinstance(spoken, SynthesisCompleted), spoken
    assert spoken.duration_s < 2  # "Hi"
    assert left == 1000 - 2
    refused = outcomes[digits].terminal
    assert isinstance(refused, SynthesisFailed)
    assert (refused.code, refused.retryable) == ("THROTTLED", False)
