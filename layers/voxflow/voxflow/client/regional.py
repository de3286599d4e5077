"""The client across two regions: publishes like a global endpoint, hears both regions.

Publishing goes to the primary's bus while its health alarm (read in the primary,
through ``voxflow.regions.health``) is OK, else to the secondary's bus; a publish
the primary does not take in time goes to the secondary. The reply queue has the
same name in both regions (each region answers on its own, docs/regions.md), and
one thread per region receives from it, so a region that does not answer never
delays the other's replies. Replies are deduplicated by request id; the outcome
says which region answered and how many terminal events came.

Given the global endpoint's id (on AWS), publishing goes through the endpoint instead,
which routes by its Route 53 health check and replicates to the other bus; the client
still hears both regions (docs/regions.md, "Global endpoint").
"""

import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from voxflow.aws import AwsClients
from voxflow.client.endpoint import checked_endpoint_id, put_events_arguments
from voxflow.client.messages import (
    Outcome,
    SeenMessages,
    delete_entries,
    fresh_replies,
    record_reply,
    request_entry,
)
from voxflow.client.status import job_status
from voxflow.client.sync_client import WaitTimedOut
from voxflow.client.target import StackTarget
from voxflow.errors import VoxflowError

logger = logging.getLogger("voxflow.client")

# For the clients of both regions: a region that does not answer must fail fast.
FAST_FAIL = Config(
    connect_timeout=1, read_timeout=3, retries={"mode": "standard", "total_max_attempts": 1}
)

# How often, at most, a publisher probes a primary that does not answer (1, 2, 4 s):
# also how late it sees the primary back (failback).
UNREACHABLE_PROBE_MAX_S = 4.0


@dataclass(frozen=True)
class RegionalStack:
    """One region of a deployment: where it is and its resource names."""

    clients: AwsClients
    target: StackTarget

    @property
    def region(self) -> str:
        return self.clients.settings.region


@dataclass(frozen=True)
class GlobalTarget:
    primary: RegionalStack
    secondary: RegionalStack
    health_alarm: str  # in the primary: OK means the primary takes the requests

    def regions(self) -> tuple[RegionalStack, RegionalStack]:
        return self.primary, self.secondary


# Published.region when the global endpoint, not this client, chose the bus.
THROUGH_ENDPOINT = "global-endpoint"


@dataclass(frozen=True)
class Published:
    request_id: str
    region: str  # whose bus took it (THROUGH_ENDPOINT: the endpoint chose)
    at: float  # time.time()


class GlobalVoxflowClient:
    def __init__(
        self,
        target: GlobalTarget,
        *,
        health_cache_s: float = 1.0,
        endpoint_id: str | None = None,
    ) -> None:
        from voxflow.regions import health

        self.endpoint_id = checked_endpoint_id(endpoint_id)
        self.target = target
        # Its own client: the shortest timeouts, as the services' health checks use.
        cloudwatch = AwsClients(target.primary.clients.settings, config=health.FAST_FAIL)
        self.health = health.AlarmHealth(
            lambda: cloudwatch.client("cloudwatch"),
            target.health_alarm,
            cache_s=health_cache_s,
            # A frozen primary costs a whole timeout per probe: probed in the background
            # (publishing goes on with the last answer) and less often while it stays
            # unreachable, so that failback is still seen within UNREACHABLE_PROBE_MAX_S.
            unreachable_cache_s=health_cache_s,
            unreachable_cache_max_s=max(health_cache_s, UNREACHABLE_PROBE_MAX_S),
            in_background=True,
        )
        self.reply_queue_name = f"voxflow-replies-{uuid.uuid4().hex[:16]}"
        self._reply_urls: dict[str, str] = {}
        # Outcomes that became terminal, for waits and their on_terminal callbacks.
        self._terminals: queue.Queue[Outcome] = queue.Queue()
        self._outcomes: dict[str, Outcome] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def __enter__(self) -> "GlobalVoxflowClient":
        return self.open()

    def __exit__(self, *_: object) -> None:
        self.close()

    def open(self) -> "GlobalVoxflowClient":
        for stack in self.target.regions():
            self._reply_urls[stack.region] = stack.clients.sqs.create_queue(
                QueueName=self.reply_queue_name
            )["QueueUrl"]
        for stack in self.target.regions():
            thread = threading.Thread(
                target=self._receive, args=(stack,), name=f"replies-{stack.region}", daemon=True
            )
            thread.start()
            self._threads.append(thread)
        return self

    def active(self) -> RegionalStack:
        """Where a request goes now: the primary while healthy, else the secondary."""
        return self.target.primary if self.health.is_healthy() else self.target.secondary

    def wait_for_primary(self, timeout_s: float = 30.0) -> bool:
        """Until publishing goes to the primary again (failback): its answer is probed in
        the background, and a recovered primary is seen within one probe's hold."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.health.is_healthy():
                return True
            self.health.wait_probe(max(0.0, deadline - time.monotonic()))
            time.sleep(0.2)
        return False

    def publish(self, text: str | None = None, **fields: Any) -> Published:
        """Publish one request where the global endpoint would; say where it went."""
        if text is not None:
            fields["text"] = text
        if self.endpoint_id is not None:
            return self._publish_through_endpoint(self.endpoint_id, fields)
        first = self.active()
        order = [first] if first is self.target.secondary else list(self.target.regions())
        request_id = fields.setdefault("request_id", uuid.uuid4().hex)
        with self._lock:
            self._outcomes.setdefault(request_id, Outcome(request_id))
        errors = []
        for stack in order:
            # The reply queue named as the region that takes it; the other answers on its own.
            _, entry = request_entry(
                stack.target.bus_name, self._reply_urls[stack.region], **fields
            )
            try:
                response = stack.clients.events.put_events(Entries=[entry])
            except (BotoCoreError, ClientError) as error:
                errors.append(f"{stack.region}: {error}")
                continue
            if response.get("FailedEntryCount"):
                errors.append(f"{stack.region}: {response['Entries']}")
                continue
            return Published(request_id, stack.region, time.time())
        raise VoxflowError(f"no region took the request: {'; '.join(errors)}")

    def _publish_through_endpoint(self, endpoint_id: str, fields: dict[str, Any]) -> Published:
        """One put: the endpoint picks the bus and replicates to the other one."""
        request_id = fields.setdefault("request_id", uuid.uuid4().hex)
        with self._lock:
            self._outcomes.setdefault(request_id, Outcome(request_id))
        # Either region answers on its own queue of this name (both were made in open()).
        stack = self.target.primary
        _, entry = request_entry(stack.target.bus_name, self._reply_urls[stack.region], **fields)
        try:
            response = stack.clients.events.put_events(**put_events_arguments(entry, endpoint_id))
        except (BotoCoreError, ClientError) as error:
            raise VoxflowError(f"the global endpoint did not take the request: {error}") from None
        if response.get("FailedEntryCount"):
            raise VoxflowError(f"the global endpoint rejected the request: {response['Entries']}")
        return Published(request_id, THROUGH_ENDPOINT, time.time())

    def outcome(self, request_id: str) -> Outcome:
        with self._lock:
            return self._outcomes.setdefault(request_id, Outcome(request_id))

    def wait(
        self,
        request_ids: list[str],
        timeout_s: float = 300.0,
        on_terminal: Callable[[Outcome], None] | None = None,
    ) -> dict[str, Outcome]:
        deadline = time.monotonic() + timeout_s
        while True:
            self._drain(deadline, on_terminal)
            outcomes = {request_id: self.outcome(request_id) for request_id in request_ids}
            pending = [r for r, o in outcomes.items() if o.terminal is None]
            if not pending:
                return outcomes
            if time.monotonic() >= deadline:
                raise WaitTimedOut(f"no terminal event within {timeout_s:.0f} s for {pending}")

    def _drain(self, deadline: float, on_terminal: Callable[[Outcome], None] | None) -> None:
        """Wait up to 0.5 s for outcomes that became terminal; hand each to ``on_terminal``."""
        try:
            outcome = self._terminals.get(timeout=max(0.0, min(0.5, deadline - time.monotonic())))
        except queue.Empty:
            return
        while True:
            if on_terminal is not None:
                on_terminal(outcome)
            try:
                outcome = self._terminals.get_nowait()
            except queue.Empty:
                return

    def _record(self, region: str, reply: Any) -> None:
        """Recorded as it arrives (the times in Outcome are arrival times, whoever waits)."""
        with self._lock:
            outcome = self._outcomes.setdefault(reply.request_id, Outcome(reply.request_id))
            had_terminal = outcome.terminal is not None
            record_reply(self._outcomes, reply, region)
        if not had_terminal and outcome.terminal is not None:
            self._terminals.put(outcome)

    def _receive(self, stack: RegionalStack) -> None:
        sqs, url = stack.clients.sqs, self._reply_urls[stack.region]
        seen = SeenMessages()
        while not self._stop.is_set():
            try:
                messages = sqs.receive_message(
                    QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1
                ).get("Messages", [])
                for reply in fresh_replies(messages, seen):
                    self._record(stack.region, reply)
                if messages:
                    sqs.delete_message_batch(QueueUrl=url, Entries=delete_entries(messages))
            except (BotoCoreError, ClientError) as error:
                logger.debug("replies from %s: %s", stack.region, error)
                self._stop.wait(0.5)  # the region is down: ask again shortly

    def status(self, request_id: str) -> dict[str, Any] | None:
        """The job record from the active region's replica of the jobs table."""
        stack = self.active()
        return job_status(stack.clients.dynamodb, stack.target.jobs_table, request_id)

    def close(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10.0)
        self._threads = []
        for stack in self.target.regions():
            url = self._reply_urls.pop(stack.region, None)
            if url is None:
                continue
            try:
                stack.clients.sqs.delete_queue(QueueUrl=url)
            except (BotoCoreError, ClientError) as error:  # a region that is down keeps it
                logger.warning("reply queue in %s not deleted: %s", stack.region, error)
