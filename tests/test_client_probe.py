"""GlobalVoxflowClient and a frozen primary: its health probe (a whole timeout each)
runs in the background and backs off, so publishing never waits for it.

An earlier drill had 13 of 200 requests not accepted: the client asked a frozen
primary's CloudWatch every second, in the publishing thread."""

import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError

from voxflow.aws import AwsSettings
from voxflow.client import GlobalTarget, GlobalVoxflowClient, RegionalStack
from voxflow.client.target import StackTarget
from voxflow.regions import AlarmHealth

PRIMARY, SECONDARY = "us-east-1", "us-west-2"


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class _FrozenCloudWatch:
    """describe_alarms answers OK; while ``frozen`` it hangs until released, then fails
    as a read timeout would."""

    def __init__(self) -> None:
        self.frozen = False
        self.calls = 0
        self.in_call = threading.Event()
        self.release = threading.Event()

    def describe_alarms(self, **_: Any) -> dict[str, Any]:
        self.calls += 1
        if self.frozen:
            self.in_call.set()
            self.release.wait(30)
            raise EndpointConnectionError(endpoint_url="http://primary")
        return {"MetricAlarms": [{"StateValue": "OK"}]}


def test_an_unanswered_verdict_is_given_at_once_while_the_next_probe_hangs() -> None:
    clock, cloudwatch = _Clock(), _FrozenCloudWatch()
    health = AlarmHealth(
        lambda: cloudwatch, "alarm", unreachable_cache_s=1.0, clock=clock, in_background=True
    )
    cloudwatch.frozen = True
    cloudwatch.release.set()
    assert not health.is_healthy()  # the first answer is waited for: unreachable
    cloudwatch.release.clear()
    clock.now = 1.5
    # Stale, and the primary did not answer: the verdict at once, while one thread
    # asks the frozen region.
    assert not health.is_healthy()
    assert cloudwatch.in_call.wait(10)
    assert not health.is_healthy()
    assert health.probing
    assert cloudwatch.calls == 2  # no second probe while one is under way
    cloudwatch.frozen = False
    cloudwatch.release.set()
    health.wait_probe()
    assert not health.is_healthy()  # that probe failed; the primary is back for the next
    clock.now = 10.0
    assert not health.is_healthy()
    health.wait_probe()
    assert health.is_healthy()


def test_a_primary_that_answers_is_asked_in_the_callers_thread() -> None:
    clock, cloudwatch = _Clock(), _FrozenCloudWatch()
    health = AlarmHealth(lambda: cloudwatch, "alarm", cache_s=1.0, clock=clock, in_background=True)
    for now in (0.0, 0.5, 1.0, 2.5):
        clock.now = now
        assert health.is_healthy()
    assert cloudwatch.calls == 3
    assert not health.probing


def test_a_frozen_primary_is_probed_in_the_background_less_and_less_often() -> None:
    clock, cloudwatch = _Clock(), _FrozenCloudWatch()
    health = AlarmHealth(
        lambda: cloudwatch,
        "alarm",
        unreachable_cache_s=1.0,
        unreachable_cache_max_s=4.0,
        clock=clock,
        in_background=True,
    )
    cloudwatch.frozen = True
    cloudwatch.release.set()  # each probe fails at once here
    asked = []
    while clock.now <= 20.0:
        before = cloudwatch.calls
        health.is_healthy()
        health.wait_probe()
        if cloudwatch.calls > before:
            asked.append(clock.now)
        clock.now += 0.5
    # Held 1, 2, then 4 s (the cap).
    assert asked == [0.0, 1.0, 3.0, 7.0, 11.0, 15.0, 19.0]


class _Events:
    def __init__(self) -> None:
        self.put: list[dict[str, Any]] = []

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:  # noqa: N803
        self.put.extend(Entries)
        return {"FailedEntryCount": 0, "Entries": [{"EventId": "1"}]}


class _Sqs:
    def __init__(self, stop: threading.Event) -> None:
        self._stop = stop

    def create_queue(self, QueueName: str) -> dict[str, str]:  # noqa: N803
        return {"QueueUrl": f"http://queue/{QueueName}"}

    def receive_message(self, **_: Any) -> dict[str, Any]:
        self._stop.wait(0.1)
        return {}

    def delete_queue(self, **_: Any) -> None:
        return None


class _Clients:
    """A region's clients where the test needs none of its own: only the health probe
    (built by the client from ``settings``) speaks HTTP, to the frozen primary."""

    def __init__(self, settings: AwsSettings, stop: threading.Event) -> None:
        self.settings = settings
        self.events = _Events()
        self.sqs = _Sqs(stop)


@pytest.fixture
def frozen_endpoint() -> Iterator[str]:
    """A port that takes connections and never answers, as a frozen region does."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"


def test_publishing_does_not_wait_for_a_frozen_primarys_probe(frozen_endpoint: str) -> None:
    stop = threading.Event()
    primary = _Clients(AwsSettings.local(frozen_endpoint, PRIMARY), stop)
    secondary = _Clients(AwsSettings.local("http://127.0.0.1:1", SECONDARY), stop)
    target = GlobalTarget(
        RegionalStack(primary, StackTarget("bus", "")),  # type: ignore[arg-type]
        RegionalStack(secondary, StackTarget("bus", "")),  # type: ignore[arg-type]
        "alarm",
    )
    with GlobalVoxflowClient(target) as client:
        # The first answer is waited for (one read timeout): unhealthy, the secondary.
        assert client.publish("First.").region == SECONDARY
        health = client.health
        assert isinstance(health, AlarmHealth)
        probes = health.probes
        stop.wait(1.2)  # past the first hold (1 s)
        published = client.publish("Second.")
        # The publish went out on the last answer while the new probe hangs on the
        # frozen primary for its read timeout (1 s).
        assert published.region == SECONDARY
        assert health.probing
        assert health.probes == probes + 1
        health.wait_probe()
    stop.set()
    assert len(secondary.events.put) == 2
    assert primary.events.put == []
