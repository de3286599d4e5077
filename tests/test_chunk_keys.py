"""A job's chunk keys packed into one binary value (voxflow.store.chunk_keys), against a
moto server over HTTP: new items carry 32 bytes a key, items written before (a list of
strings) still read, and a job with no chunks (an answer's) stores an empty value."""

import hashlib
import uuid
from collections.abc import Iterator

import pytest

from voxflow.aws import AwsClients, AwsSettings
from voxflow.store.chunk_keys import DIGEST_BYTES, chunk_keys_in, pack, unpack
from voxflow.store.jobs import JobStore
from voxflow.store.models import Job, bind
from voxflow_local.moto_server import MotoServer

KEYS = [hashlib.sha256(f"chunk {index}".encode()).hexdigest() for index in range(31)]


def test_keys_pack_to_their_digests_and_back() -> None:
    packed = pack(KEYS)
    assert len(packed) == DIGEST_BYTES * len(KEYS)
    assert unpack(packed) == KEYS
    assert unpack(pack([])) == []
    assert chunk_keys_in({"B": packed}) == KEYS
    assert chunk_keys_in({"L": [{"S": key} for key in KEYS]}) == KEYS


@pytest.mark.parametrize("key", ["c-0", "ab" * 31, "ab" * 33, "zz" * 32])
def test_a_key_that_is_not_a_sha256_digest_is_refused(key: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 (bytes.fromhex's or ours)
        pack([KEYS[0], key])


def test_a_packed_value_of_partial_digests_is_refused() -> None:
    with pytest.raises(ValueError, match="whole"):
        unpack(pack(KEYS[:2])[:-1])


@pytest.fixture(scope="module")
def store() -> Iterator[tuple[JobStore, AwsClients, str]]:
    with MotoServer() as moto:
        aws = AwsSettings.local(moto.url)
        table = f"jobs-{uuid.uuid4().hex[:8]}"
        model = bind(Job, table, aws)
        model.create_table(billing_mode="PAY_PER_REQUEST", wait=True)
        yield JobStore(model, 3600), AwsClients(aws), table


def test_a_job_stores_its_keys_packed_and_reads_them_back(
    store: tuple[JobStore, AwsClients, str],
) -> None:
    jobs, clients, table = store
    job = jobs.new(
        "packed", tenant="t", voice="joe", format="wav", key=KEYS[0], sample_rate=22050,
        params_json="{}", chunk_keys=KEYS, chunk_count=len(KEYS),
    )  # fmt: skip
    assert jobs.create(job)
    raw = clients.dynamodb.get_item(TableName=table, Key={"request_id": {"S": "packed"}})
    assert raw["Item"]["chunk_keys"] == {"B": pack(KEYS)}
    stored = jobs.get("packed")
    assert stored is not None
    assert stored.chunk_keys == KEYS
    # A count's write returns the item (ALL_NEW), keys unpacked.
    progress = jobs.record_chunk("packed", 3)
    assert progress.job is not None
    assert progress.job.chunk_keys == KEYS


def test_a_job_written_with_a_list_of_keys_reads_as_before(
    store: tuple[JobStore, AwsClients, str],
) -> None:
    jobs, clients, table = store
    clients.dynamodb.put_item(
        TableName=table,
        Item={
            "request_id": {"S": "listed"},
            "status": {"S": "pending"},
            "tenant": {"S": "t"},
            "voice": {"S": "joe"},
            "format": {"S": "wav"},
            "key": {"S": KEYS[0]},
            "sample_rate": {"N": "22050"},
            "params_json": {"S": "{}"},
            "chunk_keys": {"L": [{"S": key} for key in KEYS[:3]]},
            "chunk_count": {"N": "3"},
            "created_at": {"S": "2026-12-05T00:00:00.000000+0000"},
        },
    )
    stored = jobs.get("listed")
    assert stored is not None
    assert stored.chunk_keys == KEYS[:3]
    progress = jobs.record_chunk("listed", 0)  # written again: still in its old form
    assert progress.job is not None
    assert progress.job.chunk_keys == KEYS[:3]


def test_an_answer_without_chunks_stores_an_empty_value(
    store: tuple[JobStore, AwsClients, str],
) -> None:
    jobs, _, _ = store
    assert jobs.create(jobs.new_answer("answer", tenant="t"))
    stored = jobs.get("answer")
    assert stored is not None
    assert stored.chunk_keys == []
