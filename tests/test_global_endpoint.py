"""Publishing through the EventBridge global endpoint, as botocore really sends it.

Moto has no global endpoint, so nothing here reaches a server: a ``before-send`` hook
answers each request with a botocore response, after real botocore (and the real AWS
CRT, the ``global-endpoint`` extra) has resolved its endpoint and signed it. What the
endpoint does with the event (health check, failover, replication) is AWS's part; the
local stack's stand-in for it, GlobalVoxflowClient, is tested by test_regions and the
drill (docs/regions.md, "Global endpoint").
"""

import argparse
import asyncio
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore import compat
from botocore.awsrequest import AWSPreparedRequest, AWSResponse

from voxflow.aws import AwsClients, AwsSettings
from voxflow.cli import remote
from voxflow.cli.main import build_parser
from voxflow.client import AsyncVoxflowClient, StackTarget, VoxflowClient
from voxflow.client.endpoint import EXTRA, GlobalEndpointUnavailable
from voxflow.errors import SettingsError

ENDPOINT_ID = "abcde.veo"
REGION = "us-east-1"
TARGET = StackTarget(bus_name="voxflow-bus", jobs_table="voxflow-jobs")
QUEUE_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/voxflow-replies-test"
FIELDS: dict[str, Any] = {
    "text": "Hello there.",
    "request_id": "req-global-1",
    "requested_at": datetime(2026, 12, 3, 15, 0, tzinfo=UTC),
}


def settings() -> AwsSettings:
    # AWS itself (no endpoint URL), with keys that sign but reach nothing.
    return AwsSettings(REGION, None, None, "AKIDEXAMPLE", "secret")


class Captured:
    """Every request the clients would send, answered here as AWS would answer it."""

    def __init__(self) -> None:
        self.requests: list[AWSPreparedRequest] = []

    def put_events(self) -> AWSPreparedRequest:
        found = [r for r in self.requests if r.headers.get("X-Amz-Target") == PUT_EVENTS]
        assert len(found) == 1
        return found[0]

    def answer(self, request: AWSPreparedRequest, **_: Any) -> AWSResponse:
        self.requests.append(request)
        target = request.headers.get("X-Amz-Target", b"")
        target = target.decode() if isinstance(target, bytes) else target
        request.headers["X-Amz-Target"] = target
        body = ANSWERS[target]
        return AWSResponse(request.url, 200, {}, _Raw(json.dumps(body).encode()))


PUT_EVENTS = "AWSEvents.PutEvents"
ANSWERS: dict[str, dict[str, Any]] = {
    PUT_EVENTS: {"FailedEntryCount": 0, "Entries": [{"EventId": "e-1"}]},
    "AmazonSQS.CreateQueue": {"QueueUrl": QUEUE_URL},
    "AmazonSQS.DeleteQueue": {},
}


class _Raw:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Any:
        yield self._data


def sync_publish(endpoint_id: str | None) -> Captured:
    captured = Captured()
    clients = AwsClients(settings())
    for service in ("events", "sqs"):
        clients.client(service).meta.events.register("before-send", captured.answer)
    with VoxflowClient(clients, TARGET, endpoint_id=endpoint_id) as client:
        assert client.publish(**FIELDS) == FIELDS["request_id"]
    return captured


def host(request: AWSPreparedRequest) -> str:
    url: str = request.url
    return url.split("/")[2]


def header(request: AWSPreparedRequest, name: str) -> str:
    value: str | bytes = request.headers[name]
    return value.decode() if isinstance(value, bytes) else value


def body(request: AWSPreparedRequest) -> dict[str, Any]:
    raw = request.body
    assert isinstance(raw, bytes)
    loaded: dict[str, Any] = json.loads(raw)
    return loaded


def test_publish_with_endpoint_id_goes_to_the_endpoint_signed_sigv4a() -> None:
    sent = sync_publish(ENDPOINT_ID).put_events()
    assert host(sent) == f"{ENDPOINT_ID}.endpoint.events.amazonaws.com"
    assert header(sent, "Authorization").startswith("AWS4-ECDSA-P256-SHA256 ")
    assert header(sent, "X-Amz-Region-Set") == "*"  # one signature for either region's bus


def test_the_endpoint_gets_the_entry_the_regional_bus_gets() -> None:
    through_endpoint = sync_publish(ENDPOINT_ID).put_events()
    regional = sync_publish(None).put_events()
    assert host(regional) == f"events.{REGION}.amazonaws.com"
    assert header(regional, "Authorization").startswith("AWS4-HMAC-SHA256 ")
    assert "X-Amz-Region-Set" not in regional.headers
    sent = body(through_endpoint)
    assert sent.pop("EndpointId") == ENDPOINT_ID
    assert sent == body(regional)
    (entry,) = sent["Entries"]
    assert entry["EventBusName"] == TARGET.bus_name  # the same name in both regions
    detail = json.loads(entry["Detail"])
    assert detail["request_id"] == FIELDS["request_id"]
    assert detail["reply_to"]["queue_url"] == QUEUE_URL


class _AsyncRaw:
    def __init__(self, data: bytes) -> None:
        self._data = data

    async def read(self) -> bytes:
        return self._data


def test_async_client_publishes_through_the_endpoint_too(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from aiobotocore.awsrequest import AioAWSResponse  # type: ignore[import-untyped]

    from voxflow.aws import clients
    from voxflow.client import async_client

    requests: list[AWSPreparedRequest] = []

    async def answer(request: AWSPreparedRequest, **_: Any) -> AioAWSResponse:
        requests.append(request)
        reply = json.dumps(ANSWERS[header(request, "X-Amz-Target")]).encode()
        return AioAWSResponse(request.url, 200, {}, _AsyncRaw(reply))

    made = clients.async_session

    def hooked_session(aws: AwsSettings) -> Any:
        session = made(aws)
        session._session.register("before-send", answer)  # every client it makes
        return session

    monkeypatch.setattr(async_client, "async_session", hooked_session)

    async def publish() -> None:
        async with AsyncVoxflowClient(settings(), TARGET, endpoint_id=ENDPOINT_ID) as client:
            await client.publish(**FIELDS)

    asyncio.run(publish())
    (sent,) = [r for r in requests if header(r, "X-Amz-Target") == PUT_EVENTS]
    assert host(sent) == f"{ENDPOINT_ID}.endpoint.events.amazonaws.com"
    assert header(sent, "Authorization").startswith("AWS4-ECDSA-P256-SHA256 ")
    assert header(sent, "X-Amz-Region-Set") == "*"
    sent_body = body(sent)
    assert sent_body.pop("EndpointId") == ENDPOINT_ID
    assert sent_body == body(sync_publish(None).put_events())


def test_without_the_crt_an_endpoint_id_fails_at_construction(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(compat, "HAS_CRT", False)  # as botocore sees a missing awscrt
    clients = AwsClients(settings())
    with pytest.raises(GlobalEndpointUnavailable, match=r"voxflow\[global-endpoint\]") as error:
        VoxflowClient(clients, TARGET, endpoint_id=ENDPOINT_ID)
    assert error.value.code == "BAD_SETTINGS"
    assert EXTRA in str(error.value)
    with pytest.raises(GlobalEndpointUnavailable, match=r"voxflow\[global-endpoint\]"):
        AsyncVoxflowClient(settings(), TARGET, endpoint_id=ENDPOINT_ID)
    # The regional path needs no CRT.
    VoxflowClient(clients, TARGET).close()


@pytest.mark.parametrize("endpoint_id", ["", "abcde", "a.b/c", "https://abcde.veo"])
def test_a_malformed_endpoint_id_is_refused(endpoint_id: str) -> None:
    with pytest.raises(SettingsError, match="not a global endpoint id"):
        VoxflowClient(AwsClients(settings()), TARGET, endpoint_id=endpoint_id)


def test_cli_publish_passes_its_endpoint_id_to_the_client(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(StackTarget, "from_stack", staticmethod(lambda *_: TARGET))
    args = build_parser().parse_args(
        ["publish", "hi", "--aws", "--region", REGION, "--endpoint-id", ENDPOINT_ID]
    )
    client = remote._client(args)
    assert client.endpoint_id == ENDPOINT_ID
    assert client.target == TARGET


def test_cli_without_the_crt_says_which_extra_before_reading_the_stack(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(compat, "HAS_CRT", False)

    def no_stack_read(*_: Any) -> StackTarget:
        raise AssertionError("the stack was read before the endpoint id was checked")

    monkeypatch.setattr(StackTarget, "from_stack", staticmethod(no_stack_read))
    args = build_parser().parse_args(
        ["publish", "hi", "--aws", "--region", REGION, "--endpoint-id", ENDPOINT_ID]
    )
    with pytest.raises(GlobalEndpointUnavailable, match=r"voxflow\[global-endpoint\]"):
        remote._client(args)


def test_cli_refuses_an_endpoint_id_for_the_local_stack() -> None:
    args: argparse.Namespace = build_parser().parse_args(
        ["publish", "hi", "--endpoint-id", ENDPOINT_ID]
    )
    with pytest.raises(SettingsError, match="--aws"):
        remote._client(args)


def test_two_region_client_publishes_through_the_endpoint_and_hears_both_regions() -> None:
    import time

    from voxflow.client import GlobalTarget, GlobalVoxflowClient, RegionalStack
    from voxflow.client.regional import THROUGH_ENDPOINT

    requests: list[AWSPreparedRequest] = []

    def answer(request: AWSPreparedRequest, **_: Any) -> AWSResponse:
        requests.append(request)
        target = header(request, "X-Amz-Target")
        region = host(request).split(".")[1]
        reply: dict[str, Any] = {
            PUT_EVENTS: ANSWERS[PUT_EVENTS],
            "AmazonSQS.CreateQueue": {"QueueUrl": f"https://sqs.{region}.amazonaws.com/1/q"},
            "AmazonSQS.DeleteQueue": {},
            "AmazonSQS.ReceiveMessage": {},
        }[target]
        if target == "AmazonSQS.ReceiveMessage":
            time.sleep(0.2)  # as an empty long poll: the receiving threads do not spin
        return AWSResponse(request.url, 200, {}, _Raw(json.dumps(reply).encode()))

    def stack(region: str) -> RegionalStack:
        clients = AwsClients(AwsSettings(region, None, None, "AKIDEXAMPLE", "secret"))
        for service in ("events", "sqs"):
            clients.client(service).meta.events.register("before-send", answer)
        return RegionalStack(clients, TARGET)

    target = GlobalTarget(stack(REGION), stack("us-west-2"), health_alarm="voxflow-primary-health")
    client = GlobalVoxflowClient(target, endpoint_id=ENDPOINT_ID)

    def no_health_look() -> bool:
        raise AssertionError("with the endpoint, the endpoint routes, not the client")

    client.health.is_healthy = no_health_look  # type: ignore[method-assign]
    with client:
        published = client.publish(**FIELDS)
    assert published.region == THROUGH_ENDPOINT
    puts = [r for r in requests if header(r, "X-Amz-Target") == PUT_EVENTS]
    assert [host(r) for r in puts] == [f"{ENDPOINT_ID}.endpoint.events.amazonaws.com"]
    assert header(puts[0], "Authorization").startswith("AWS4-ECDSA-P256-SHA256 ")
    # Reply queues of one name in both regions: either region's answer is heard.
    made = {host(r) for r in requests if header(r, "X-Amz-Target") == "AmazonSQS.CreateQueue"}
    assert made == {f"sqs.{REGION}.amazonaws.com", "sqs.us-west-2.amazonaws.com"}
    (entry,) = body(puts[0])["Entries"]
    assert json.loads(entry["Detail"])["reply_to"]["queue_url"].startswith(f"https://sqs.{REGION}.")
