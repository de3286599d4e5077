"""voxflow.store.batch_read: reads of two tables in one BatchGetItem, on moto server over
HTTP, and what a hit's first round reads with it."""

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.request import urlopen

import pytest

from voxflow.aws import AwsClients, AwsSettings
from voxflow.quotas import QuotaSettings, TenantLimits, TokenBucket, create_quotas_table
from voxflow.quotas.bucket import TenantBuckets
from voxflow.store import CacheEntry
from voxflow.store.batch_read import KEYS_PER_CALL, BatchRead
from voxflow.store.cache import CacheIndex
from voxflow.store.models import bind
from voxflow_local.call_tally import PATH as CALLS_PATH
from voxflow_local.moto_server import MotoServer

LIMITS = TenantLimits(chars_per_s=10, chars_burst=100, requests_per_s=1, requests_burst=5)


@pytest.fixture(scope="module")
def clients(moto: MotoServer) -> AwsClients:
    return AwsClients(AwsSettings.local(moto.url))


@pytest.fixture
def cache_model(clients: AwsClients) -> type[CacheEntry]:
    model = bind(CacheEntry, f"cache-{uuid.uuid4().hex[:8]}", clients.settings)
    model.create_table(billing_mode="PAY_PER_REQUEST", wait=True)
    return model


@pytest.fixture
def quotas(clients: AwsClients) -> TokenBucket:
    table = f"quotas-{uuid.uuid4().hex[:8]}"
    create_quotas_table(clients.dynamodb, table)
    return TokenBucket.bound(QuotaSettings(table, default=LIMITS), clients.settings)


def _index(model: type[CacheEntry]) -> CacheIndex:
    return CacheIndex(model, ttl_s=3600, chunk_ttl_s=3600)


def _entry(index: CacheIndex, key: str) -> CacheEntry:
    return index.record(
        key,
        kind="request",
        s3_key=f"audio/{key}.mp3",
        content_type="audio/mpeg",
        audio_format="mp3",
        sample_rate=22050,
        duration_s=1.5,
        size=1000,
    )


def _batch_gets(moto: MotoServer) -> int:
    """The BatchGetItem calls moto has answered (voxflow_local.call_tally)."""
    with urlopen(moto.url + CALLS_PATH) as response:
        calls: dict[str, Any] = json.load(response)["calls"]
    return int(calls.get("DynamoDB_20120810.BatchGetItem", [0])[0])


def test_entries_and_a_quota_item_come_back_from_one_call(
    moto: MotoServer, cache_model: type[CacheEntry], quotas: TokenBucket
) -> None:
    index = _index(cache_model)
    stored = _entry(index, "known")
    charged = quotas.read("acme")
    quotas.charge(charged, 40)
    charged.save()
    before = _batch_gets(moto)
    read = BatchRead()
    entries = index.lookup_in(read, ["known", "unknown", "known"])
    acme = quotas.read_in(read, "acme")
    with pytest.raises(ValueError, match="in this read already"):
        read.add(cache_model, ["again"])
    read.run()
    assert _batch_gets(moto) == before + 1
    assert list(entries()) == ["known"]
    assert entries()["known"].s3_key == stored.s3_key
    assert float(acme().chars) < LIMITS.chars_burst  # the item as stored, not full buckets
    assert float(acme().chars) == pytest.approx(float(quotas.read("acme").chars))
    assert acme().version == quotas.read("acme").version


def test_a_tenant_without_an_item_gets_full_buckets_that_save_only_if_still_none(
    cache_model: type[CacheEntry], quotas: TokenBucket
) -> None:
    read = BatchRead()
    entries = _index(cache_model).lookup_in(read, ["nothing"])
    item = quotas.read_in(read, "newcomer")
    read.run()
    assert entries() == {}
    assert isinstance(item(), TenantBuckets)
    assert float(item().chars) == LIMITS.chars_burst
    assert item().version is None


def test_an_expired_entry_is_not_an_entry(cache_model: type[CacheEntry]) -> None:
    index = _index(cache_model)
    old = _entry(index, "old")
    old.expires_at = datetime.now(UTC) - timedelta(hours=1)
    old.save()
    read = BatchRead()
    entries = index.lookup_in(read, ["old"])
    read.run()
    assert entries() == {}


def test_parts_are_given_only_after_the_read_and_one_call_takes_a_hundred_keys(
    cache_model: type[CacheEntry], quotas: TokenBucket
) -> None:
    read = BatchRead()
    entries = _index(cache_model).lookup_in(read, [f"k{n}" for n in range(KEYS_PER_CALL)])
    with pytest.raises(RuntimeError, match="not run"):
        entries()
    quotas.read_in(read, "acme")
    with pytest.raises(ValueError, match="one BatchGetItem takes 100"):
        read.run()


class _Throttling:
    """A DynamoDB client whose BatchGetItem leaves the quota table's key unprocessed
    ``times`` times, as DynamoDB does under throttling; its other calls are the real ones."""

    def __init__(self, client: Any, table: str, times: int) -> None:
        self._client, self._table, self.left, self.calls = client, table, times, 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:  # noqa: N803
        self.calls += 1
        if self.left and self._table in RequestItems:
            self.left -= 1
            held = {self._table: RequestItems[self._table]}
            rest = {t: r for t, r in RequestItems.items() if t != self._table}
            response: dict[str, Any] = (
                self._client.batch_get_item(RequestItems=rest) if rest else {"Responses": {}}
            )
            return {**response, "UnprocessedKeys": held}
        return dict(self._client.batch_get_item(RequestItems=RequestItems))


@pytest.mark.parametrize("throttled", [1, 10])
def test_unprocessed_keys_are_asked_again_then_read_one_by_one(
    monkeypatch: pytest.MonkeyPatch,
    cache_model: type[CacheEntry],
    quotas: TokenBucket,
    throttled: int,
) -> None:
    index = _index(cache_model)
    _entry(index, "known")
    stored = quotas.read("acme")
    quotas.charge(stored, 10)
    stored.save()
    connection = cache_model._get_connection().connection
    throttling = _Throttling(connection.client, quotas.settings.table, throttled)
    monkeypatch.setattr(type(connection), "client", property(lambda _self: throttling))
    read = BatchRead()
    entries = index.lookup_in(read, ["known"])
    acme = quotas.read_in(read, "acme")
    read.run()
    monkeypatch.undo()
    assert list(entries()) == ["known"]
    assert acme().version == stored.version  # found, not full buckets
    # Asked again three times at most; after that, read by GetItem.
    assert throttling.calls == min(throttled, 3) + 1
