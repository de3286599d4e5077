"""Two regions on this machine: the primary and the secondary stack, each on its own moto.

Start order follows docs/regions.md and the deployer: the secondary first (it has
no tables of its own), then the primary with ``region_endpoints`` (its global
tables put their replicas in the secondary's moto); then the replicator (objects,
items, events) and the health checker (the primary's alarm from worker
heartbeats). In the primary the chunks queue is served by worker processes
(``python -m voxflow.worker``), as the GPU containers do on AWS.

An outage is ``fail_primary()``: the primary's moto frozen (SIGSTOP: requests to it
time out, as to a region that is down) and its workers and runners killed
(SIGKILL). ``recover_primary()`` thaws moto and starts fresh workers and runners.

Each region has its state file: the primary's at ``state_file`` (what ``voxflow
publish`` and ``python -m voxflow_local down`` read), the secondary's beside it
(``<name>-secondary.json``); ``down`` stops both.
"""

import logging
import os
import signal
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Self

from botocore.exceptions import BotoCoreError, ClientError

from voxflow.config import variables
from voxflow_local.deploy import DEFAULT_STACK_NAME, DEFAULT_TEMPLATE
from voxflow_local.edge import EDGE_SIGNING_KEY_NAME, EdgeKeys, EdgeProxy, Origin
from voxflow_local.health import (
    DEFAULT_HEARTBEAT_S,
    HeartbeatHealthChecker,
    State,
    health_alarm_name,
)
from voxflow_local.lifecycle import Lifecycle
from voxflow_local.model import DeployedStack
from voxflow_local.replicator import DEFAULT_LAG_S, ReplicaSite, Replicator
from voxflow_local.stack import LocalStack

logger = logging.getLogger("voxflow_local.regions")

PRIMARY_REGION = "us-east-1"
SECONDARY_REGION = "us-west-2"
PRIMARY_PORT = 5000
SECONDARY_PORT = 5001


def secondary_state_file(state_file: Path) -> Path:
    return state_file.with_name(f"{state_file.stem}-secondary{state_file.suffix}")


class TwoRegionStack(Lifecycle):
    def __init__(
        self,
        *,
        primary_port: int | None = PRIMARY_PORT,
        secondary_port: int | None = SECONDARY_PORT,
        primary_region: str = PRIMARY_REGION,
        secondary_region: str = SECONDARY_REGION,
        stack_name: str = DEFAULT_STACK_NAME,
        template_path: Path = DEFAULT_TEMPLATE,
        workers: int = 1,
        concurrency: int | Mapping[str, int] = 1,
        lag_s: float = DEFAULT_LAG_S,
        heartbeat_s: float = DEFAULT_HEARTBEAT_S,
        standby_retry_s: int = 1,
        standby_retry_max_s: int = 10,
        retry_visibility_s: int | None = 1,
        extra_env: Mapping[str, str] | None = None,
        state_file: Path | None = None,
        log_dir: Path | None = None,
        schedules: bool = False,
        edge: bool = False,
    ) -> None:
        """``edge``: audio URLs are signed for the edge proxy (voxflow_local.edge), which
        stands in for CloudFront and fails over from the primary's bucket to the
        secondary's, as EdgeDelivery cloudfront does on AWS. ``workers``: worker processes
        on the primary's chunks queue;
        ``concurrency``: runners per event source of the other functions (both regions);
        ``lag_s``: replication lag; ``heartbeat_s``: the workers' heartbeat period (the
        alarm fires after three missed); ``schedules``: run each region's scheduled rules
        (LocalStack)."""
        self.primary_region = primary_region
        self.secondary_region = secondary_region
        self.stack_name = stack_name
        self.lag_s = lag_s
        self.heartbeat_s = heartbeat_s
        self.state_file = state_file if state_file is not None else _temporary_path()
        regions = {
            "PrimaryRegion": primary_region,
            "SecondaryRegion": secondary_region,
            "PeerReady": "true",
        }
        common_env = {
            # Two regions' engines share this machine's cores: a dozen runners, each with
            # onnxruntime's two intra-op threads, outnumber the cores many times over when
            # a failover makes them busy together. With one thread each, the 200-request
            # drill's new requests took p50 10-13 s and p99 27-31 s, against 15-17 s and
            # 30-31 s with two (benchmarks/NOTES.md, session 15). On AWS each function
            # has its vCPUs to itself and keeps onnxruntime's choice. The caller's wins.
            variables.INTRA_OP_THREADS.name: os.environ.get(variables.INTRA_OP_THREADS.name, "1"),
            variables.STANDBY_RETRY_S.name: str(standby_retry_s),
            variables.STANDBY_RETRY_MAX_S.name: str(standby_retry_max_s),
            variables.HEARTBEAT_S.name: f"{heartbeat_s:g}",
            **(extra_env or {}),
        }
        self.secondary = LocalStack(
            port=secondary_port,
            region=secondary_region,
            stack_name=stack_name,
            template_path=template_path,
            parameters={"Role": "secondary", **regions},
            concurrency=concurrency,
            retry_visibility_s=retry_visibility_s,
            extra_env=common_env,  # the primary's endpoint is added once it is known
            state_file=secondary_state_file(self.state_file),
            log_dir=log_dir / secondary_region if log_dir is not None else None,
            schedules=schedules,
        )
        self.primary = LocalStack(
            port=primary_port,
            region=primary_region,
            stack_name=stack_name,
            template_path=template_path,
            parameters={"Role": "primary", **regions},
            concurrency=concurrency,
            retry_visibility_s=retry_visibility_s,
            extra_env=common_env,
            state_file=self.state_file,
            log_dir=log_dir / primary_region if log_dir is not None else None,
            region_endpoints={secondary_region: self.secondary.url},
            workers=workers,
            schedules=schedules,
        )
        self.edge: EdgeProxy | None = None
        if edge:
            self.edge = EdgeProxy(EdgeKeys.generate())
            edge_env = {
                variables.URL_SIGNER.name: "cloudfront",
                variables.EDGE_URL.name: self.edge.url,
                variables.EDGE_KEY_ID.name: self.edge.keys.key_id,
                variables.EDGE_KEY_SECRET.name: EDGE_SIGNING_KEY_NAME,
            }
            self.primary.extra_env.update(edge_env)
            self.secondary.extra_env.update(edge_env)
        self.secondary.extra_env[variables.PRIMARY_ENDPOINT_URL.name] = self.primary.url
        self.primary.extra_env[variables.SECONDARY_ENDPOINT_URL.name] = self.secondary.url
        self.replicator: Replicator | None = None
        self.health: HeartbeatHealthChecker | None = None
        self.primary_down = False
        self.recovery_drain_s = 120.0

    @property
    def alarm_name(self) -> str:
        return health_alarm_name(self.stack_name)

    def stacks(self) -> dict[str, LocalStack]:
        return {self.primary_region: self.primary, self.secondary_region: self.secondary}

    def start(self) -> Self:
        try:
            # The secondary's functions start only once the primary exists: they read its
            # alarm, and their tables are the replicas the primary's deployment makes.
            self.secondary.function_ids, wanted = set(), self.secondary.function_ids
            self.secondary.start()
            if self.edge is not None:
                # The functions read the signing key at cold start: it is stored first.
                self.primary.function_ids, wanted_here = set(), self.primary.function_ids
                self.primary.start()
                self._start_edge()
                self.primary.function_ids = wanted_here
                self.primary.start_functions()
                self.primary.wait_until_serving()
            else:
                self.primary.start()
            self.secondary.function_ids = wanted
            self.secondary.start_functions()
            self.replicator = Replicator(
                self._site(self.primary.stack), self._site(self.secondary.stack), lag_s=self.lag_s
            ).start()
            self.health = HeartbeatHealthChecker(
                self.primary.url,
                self.primary_region,
                self.alarm_name,
                heartbeat_s=self.heartbeat_s,
            )
            self.health.check()  # ALARM until the workers are warm: requests go to the secondary
            self.health.start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start_edge(self) -> None:
        assert self.edge is not None
        for stack in (self.primary, self.secondary):
            self.edge.keys.store(stack.client("secretsmanager"))
        self.edge.set_origins(
            [
                Origin(stack.region, stack.url, stack.stack.resources["AudioBucket"])
                for stack in (self.primary, self.secondary)
            ]
        )
        self.edge.start()

    def _site(self, stack: DeployedStack) -> ReplicaSite:
        return ReplicaSite(
            region=stack.region,
            endpoint_url=stack.endpoint_url,
            bucket=stack.resources["AudioBucket"],
            bus_name=stack.resources["EventBus"].rsplit("/", 1)[-1],
            # The same names in both regions; the secondary's are the primary's replicas.
            tables=tuple(
                f"{self.stack_name}-{name}"
                for name in ("cache", "jobs", "tenants", "voices", "lexicons", "tasks")
            ),
        )

    def wait_primary_healthy(self, timeout_s: float = 120.0) -> float:
        """Seconds until the health checker saw heartbeats (the workers are warm)."""
        started = time.monotonic()
        while time.monotonic() - started < timeout_s:
            if self.health is not None and self.health.check() == "OK":
                return time.monotonic() - started
            for line in self.primary.restart_dead_runners():
                logger.warning("restarted %s", line)
            time.sleep(0.5)
        raise TimeoutError(f"no worker heartbeat in {self.primary_region} within {timeout_s} s")

    def fail_primary(self) -> float:
        """The primary region goes down; returns the time.time() it did."""
        pid = self.primary.moto.pid
        if pid is None:
            raise RuntimeError("the primary is not running")
        os.kill(pid, signal.SIGSTOP)
        failed_at = time.time()
        self.primary_down = True
        self.primary.kill_functions()
        return failed_at

    def recover_primary(self) -> float:
        """The primary comes back (moto thawed, fresh workers and runners); returns when."""
        pid = self.primary.moto.pid
        if pid is None:
            raise RuntimeError("the primary is not running")
        os.kill(pid, signal.SIGCONT)
        recovered_at = time.time()
        self.primary_down = False
        if self.health is not None:
            # CloudWatch would have kept evaluating through the outage: the alarm is ALARM
            # now, and turns OK once the fresh workers beat.
            self._set_alarm_after_thaw("ALARM", "the region was down")
        if self.replicator is not None:
            # What the secondary did meanwhile (jobs it took over, finished or created for
            # new requests) reaches the primary before its functions look at their queues
            # again; otherwise a fresh worker could finish a job the secondary already
            # answered, or plan a replicated request whose job has not arrived yet. Objects
            # need not wait: a cache entry counts here only once its audio is here too.
            drained = self.replicator.wait_idle(
                self.recovery_drain_s, self.primary_region, channels=("events", "items")
            )
            if not drained:
                logger.warning("replication to %s still behind", self.primary_region)
        self.primary.start_functions()
        return recovered_at

    def _set_alarm_after_thaw(self, state: State, reason: str, timeout_s: float = 60.0) -> None:
        """A thawed moto first works through the connections queued while it was frozen;
        calls to it time out until then."""
        assert self.health is not None
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                self.health.set_state(state, reason)
                return
            except (BotoCoreError, ClientError) as error:
                if time.monotonic() > deadline:
                    raise
                logger.info("primary not answering yet after the thaw: %s", error)
                time.sleep(0.5)

    def client(self, region: str, service: str) -> Any:
        return self.stacks()[region].client(service)

    def stop(self) -> None:
        if self.health is not None:
            self.health.stop()
        if self.replicator is not None:
            self.replicator.stop()
        if self.primary_down and self.primary.moto.pid is not None:
            os.kill(self.primary.moto.pid, signal.SIGCONT)  # a frozen process cannot stop
            self.primary_down = False
        self.primary.stop()
        self.secondary.stop()
        if self.edge is not None:
            self.edge.stop()


def _temporary_path() -> Path:
    descriptor, path = tempfile.mkstemp(prefix="voxflow-regions-", suffix=".json")
    os.close(descriptor)
    return Path(path)
