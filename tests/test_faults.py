"""Fault injection (voxflow_local.faults) against moto server over HTTP: injected throttles
and 5xx reach botocore before its retries, and the retries get the calls through."""

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import botocore.session
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.retries.standard import ExponentialBackoff
from pynamodb.attributes import UnicodeAttribute
from pynamodb.models import Model

from voxflow.aws import AwsClients, AwsSettings
from voxflow.store.models import bind
from voxflow_local import faults
from voxflow_local.faults.injector import KINDS
from voxflow_local.moto_server import MotoServer


class Item(Model):
    class Meta:
        table_name = "unbound"

    key = UnicodeAttribute(hash_key=True)
    value = UnicodeAttribute()


def attempts(total: int) -> Config:
    return Config(retries={"mode": "standard", "total_max_attempts": total})


@pytest.fixture(scope="module")
def settings() -> Iterator[AwsSettings]:
    with MotoServer() as moto:
        yield AwsSettings.local(moto.url)


@pytest.fixture
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retries as botocore makes them, without their sleeps (the test stays fast)."""
    monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda *_: 0.0)


def test_half_the_attempts_fail_before_retries(settings: AwsSettings) -> None:
    injector = faults.FaultInjector({"s3": 0.5}, seed=7)
    s3 = AwsClients(
        settings, config=Config(retries={"mode": "standard", "total_max_attempts": 1})
    ).s3
    injector.attach(s3)
    bucket = f"faults-{uuid.uuid4().hex[:8]}"
    AwsClients(settings).s3.create_bucket(Bucket=bucket)  # not hooked: a plain client

    codes = []
    for number in range(100):
        try:
            s3.put_object(Bucket=bucket, Key=f"k{number}", Body=b"x")
        except ClientError as error:
            codes.append(error.response["Error"]["Code"])
    assert injector.calls["s3"] == 100
    assert 35 <= injector.injected["s3"] <= 65
    assert len(codes) == injector.injected["s3"]  # every injected answer reached the caller
    assert set(codes) <= {code for _, code in KINDS["s3"]}
    listed = AwsClients(settings).s3.list_objects_v2(Bucket=bucket)["KeyCount"]
    assert listed == 100 - len(codes)  # an injected attempt never reached the server


def test_retries_get_every_call_through(settings: AwsSettings, no_backoff: None) -> None:
    injector = faults.FaultInjector({"s3": 0.5}, seed=11)
    s3 = AwsClients(
        settings, config=Config(retries={"mode": "standard", "total_max_attempts": 12})
    ).s3
    injector.attach(s3)
    bucket = f"faults-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    for number in range(20):
        s3.put_object(Bucket=bucket, Key=f"k{number}", Body=str(number).encode())
    bodies = [s3.get_object(Bucket=bucket, Key=f"k{n}")["Body"].read() for n in range(20)]

    assert bodies == [str(n).encode() for n in range(20)]
    assert injector.injected["s3"] >= 10
    # Each injected attempt was followed by one more: the calls made = 41 + injected.
    assert injector.calls["s3"] == 41 + injector.injected["s3"]


def test_env_var_hooks_pynamodb_and_counts_to_a_file(
    settings: AwsSettings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_backoff: None
) -> None:
    # 0.2: pynamodb makes 6 attempts, so a call fails only if all 6 are hit (6e-5).
    began = time.time()
    monkeypatch.setenv(faults.FAULTS_ENV, "dynamodb:0.2")
    monkeypatch.setenv(faults.FAULTS_SEED_ENV, "3")
    monkeypatch.setenv(faults.FAULTS_DIR_ENV, str(tmp_path))
    try:
        # As the local runner and worker do before a handler builds its clients.
        injector = faults.install_from_env()
        assert injector is not None
        table = f"faults-{uuid.uuid4().hex[:8]}"
        model = bind(Item, table, settings)
        model.create_table(read_capacity_units=1, write_capacity_units=1, wait=True)
        for number in range(25):
            model(f"k{number}", value=str(number)).save()
        values = [model.get(f"k{n}").value for n in range(25)]
        injector.flush()
    finally:
        faults.uninstall()

    assert values == [str(n) for n in range(25)]
    counts = faults.read_counts(tmp_path)
    assert counts["injected"]["dynamodb"] >= 3
    assert 0.05 <= counts["injected"]["dynamodb"] / counts["calls"]["dynamodb"] <= 0.45
    assert "s3" not in counts["calls"]  # only the services named are hooked
    # Each fault with its time, for the load chart: as many as injected, in order.
    times = faults.read_fault_times(tmp_path)
    assert len(times) == counts["injected"]["dynamodb"]
    assert [at for at, _ in times] == sorted(at for at, _ in times)
    assert began <= times[0][0] <= times[-1][0] <= time.time()
    assert {kind.split(":")[0] for _, kind in times} == {"dynamodb"}


def test_unset_env_var_hooks_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(faults.FAULTS_ENV, raising=False)
    plain = botocore.session.Session.create_client
    s3 = AwsClients(AwsSettings.local("http://127.0.0.1:9")).s3
    assert faults.installed() is None
    assert botocore.session.Session.create_client is plain
    handlers = list(s3.meta.events._emitter._lookup_cache.get("before-send.s3.PutObject", []))
    assert not any("FaultInjector" in repr(handler) for handler in handlers)


def test_rates_are_validated() -> None:
    assert faults.parse_rates("s3:0.05, dynamodb:0.1") == {"s3": 0.05, "dynamodb": 0.1}
    with pytest.raises(ValueError, match="no faults for"):
        faults.parse_rates("sqs:0.1")
    with pytest.raises(ValueError, match="must be in"):
        faults.parse_rates("s3:1.5")
