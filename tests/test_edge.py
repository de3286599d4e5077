"""The local edge (voxflow_local.edge), standing in for CloudFront: signed URLs checked as
CloudFront checks them, and origin failover from the primary's bucket to the
secondary's when the primary answers 403/404/5xx or not at all (its moto frozen).

The first tests use two bare moto servers over HTTP and the product's own signer; the
last runs the two-region stack with ``edge=True``: a URL the primary handed out keeps
playing, the same bytes, after the primary is lost.
"""

import contextlib
import os
import signal
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from voxflow.aws import AwsClients, AwsSettings
from voxflow.client import GlobalVoxflowClient
from voxflow.store.urls import CloudFrontUrls, RsaPrivateKey
from voxflow_local.drill.run import global_target
from voxflow_local.edge import EdgeKeys, EdgeProxy, Origin
from voxflow_local.moto_server import MotoServer
from voxflow_local.regions import TwoRegionStack

PRIMARY, SECONDARY = "us-east-1", "us-west-2"


@dataclass
class Edge:
    proxy: EdgeProxy
    primary: MotoServer
    buckets: dict[str, str]
    s3: dict[str, object]

    def urls(self, lifetime_s: int = 300) -> CloudFrontUrls:
        key = RsaPrivateKey.from_pem(self.proxy.keys.private_pem)
        return CloudFrontUrls(self.proxy.url, self.proxy.keys.key_id, key, lifetime_s)

    def put(self, region: str, key: str, data: bytes) -> None:
        self.s3[region].put_object(  # type: ignore[attr-defined]
            Bucket=self.buckets[region], Key=key, Body=data, ContentType="audio/mpeg"
        )


def get(url: str) -> tuple[int, bytes, str]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, response.read(), response.headers.get("X-Voxflow-Origin", "")
    except urllib.error.HTTPError as error:
        return error.code, error.read(), ""


def wait_until_stopped(pid: int, timeout_s: float = 10.0) -> None:
    """Until every thread of ``pid`` is in the stopped state: kill() returns before."""
    deadline = time.monotonic() + timeout_s
    while True:
        states = set()
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(FileNotFoundError):  # a thread that ended meanwhile
                states.add((task / "stat").read_text().rsplit(")", 1)[1].split()[0])
        if states <= {"T", "t"}:
            return
        assert time.monotonic() < deadline, f"process {pid} not stopped: {states}"
        time.sleep(0.01)


@pytest.fixture(scope="module")
def edge() -> Iterator[Edge]:
    with MotoServer(region=PRIMARY) as primary, MotoServer(region=SECONDARY) as secondary:
        buckets, clients = {}, {}
        for region, moto in ((PRIMARY, primary), (SECONDARY, secondary)):
            clients[region] = AwsClients(AwsSettings.local(moto.url, region)).s3
            buckets[region] = f"audio-{uuid.uuid4().hex[:8]}"
            clients[region].create_bucket(
                Bucket=buckets[region],
                **(
                    {}
                    if region == PRIMARY
                    else {"CreateBucketConfiguration": {"LocationConstraint": region}}
                ),
            )
        proxy = EdgeProxy(EdgeKeys.generate(), origin_timeout_s=1.0)
        proxy.set_origins(
            [
                Origin(PRIMARY, primary.url, buckets[PRIMARY]),
                Origin(SECONDARY, secondary.url, buckets[SECONDARY]),
            ]
        )
        with proxy:
            yield Edge(proxy, primary, buckets, clients)


def test_a_signed_url_is_served_by_the_primary(edge: Edge) -> None:
    edge.put(PRIMARY, "audio/a.mp3", b"primary bytes")
    edge.put(SECONDARY, "audio/a.mp3", b"replica bytes")
    status, body, origin = get(edge.urls().sign("audio/a.mp3", "audio/mpeg").url)
    assert (status, body, origin) == (200, b"primary bytes", PRIMARY)


def test_a_missing_object_fails_over_to_the_secondary_and_one_in_neither_is_an_error(
    edge: Edge,
) -> None:
    edge.put(SECONDARY, "audio/replicated-only.mp3", b"replica")
    assert get(edge.urls().sign("audio/replicated-only.mp3", "audio/mpeg").url) == (
        200,
        b"replica",
        SECONDARY,
    )
    status, _, _ = get(edge.urls().sign("audio/nowhere.mp3", "audio/mpeg").url)
    assert status == 502


def test_bad_signatures_other_keys_and_expired_urls_are_refused(edge: Edge) -> None:
    edge.put(PRIMARY, "audio/mine.mp3", b"mine")
    url = edge.urls().sign("audio/mine.mp3", "audio/mpeg").url
    assert get(url)[0] == 200
    assert get(url.replace("audio/mine.mp3", "audio/a.mp3"))[0] == 403
    assert get(url.replace("Key-Pair-Id=", "Key-Pair-Id=X"))[0] == 403
    other = EdgeKeys.generate()
    foreign = CloudFrontUrls(
        edge.proxy.url, edge.proxy.keys.key_id, RsaPrivateKey.from_pem(other.private_pem), 300
    )
    assert get(foreign.sign("audio/mine.mp3", "audio/mpeg").url)[0] == 403
    short = edge.urls(lifetime_s=1).sign("audio/mine.mp3", "audio/mpeg").url
    time.sleep(2.1)
    assert get(short)[0] == 403
    assert get(url.split("?")[0])[0] == 403  # unsigned


def test_a_frozen_primary_fails_over_within_the_origin_timeout(edge: Edge) -> None:
    edge.put(PRIMARY, "audio/frozen.mp3", b"same bytes")
    edge.put(SECONDARY, "audio/frozen.mp3", b"same bytes")
    url = edge.urls().sign("audio/frozen.mp3", "audio/mpeg").url
    assert get(url) == (200, b"same bytes", PRIMARY)
    assert edge.primary.pid is not None
    os.kill(edge.primary.pid, signal.SIGSTOP)
    try:
        wait_until_stopped(edge.primary.pid)
        started = time.monotonic()
        assert get(url) == (200, b"same bytes", SECONDARY), f"edge counts: {edge.proxy.counts}"
        assert time.monotonic() - started < 10
    finally:
        os.kill(edge.primary.pid, signal.SIGCONT)


@pytest.mark.slow
def test_a_url_the_primary_handed_out_plays_the_same_bytes_after_the_primary_is_lost(
    tmp_path: Path,
) -> None:
    with TwoRegionStack(
        primary_port=None, secondary_port=None, log_dir=tmp_path / "logs", edge=True
    ) as stack:
        assert stack.edge is not None
        stack.wait_primary_healthy()
        time.sleep(1.5)  # past the client's health cache
        with GlobalVoxflowClient(global_target(stack)) as client:
            published = client.publish("Edge delivery survives a failover.", format="mp3")
            outcome = client.wait([published.request_id], timeout_s=180)[published.request_id]
        completed = outcome.completed
        assert completed is not None
        assert outcome.region == PRIMARY
        assert completed.url.startswith(f"{stack.edge.url}/audio/")
        status, before, origin = get(completed.url)
        assert (status, len(before), origin) == (200, completed.bytes, PRIMARY)
        # The object reaches the secondary's bucket by replication, then the region goes.
        secondary_s3 = stack.secondary.client("s3")
        bucket = stack.secondary.stack.resources["AudioBucket"]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            listed = secondary_s3.list_objects_v2(Bucket=bucket, Prefix=completed.key)
            if listed.get("KeyCount", 0):
                break
            time.sleep(0.5)
        stack.fail_primary()
        status, after, origin = get(completed.url)
        assert (status, origin) == (200, SECONDARY)
        assert after == before
