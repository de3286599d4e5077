"""The primary's canary: one real request through the region's own pipeline.

Each run publishes a SynthesisRequested whose text is new (so it can never be a
cache hit and really runs synthesis), waits on the jobs table for its terminal
status, and puts ``CanarySuccess`` (1 or 0) and ``CanaryLatency`` (seconds) in
namespace ``voxflow`` with the dimension ``Region``: what the health alarm
watches beside the workers' heartbeats (docs/regions.md). The metrics go out
through PutMetricData so their dimensions are exactly those the alarm names,
and so the local stack's moto sees them too.
"""

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from pynamodb.exceptions import PynamoDBException

from voxflow.aws import AwsClients, AwsSettings
from voxflow.config import Config
from voxflow.config import variables as env
from voxflow.errors import SettingsError
from voxflow.events import SynthesisRequested, to_event_entry
from voxflow.metrics import NAMESPACE
from voxflow.store import JobStore
from voxflow.store.jobs import COMPLETED, FAILED
from voxflow.store.models import Job, bind

logger = logging.getLogger(__name__)

TENANT = "voxflow-canary"
_TERMINAL = (COMPLETED, FAILED)
# The canary only reads jobs; the store wants a TTL for jobs it would create.
_JOB_TTL_S = 86400


@dataclass(frozen=True)
class CanarySettings:
    bus_name: str
    jobs_table: str
    region: str
    timeout_s: float = env.CANARY_TIMEOUT_S.default  # a slower answer counts as a failure
    poll_s: float = 0.25

    def __post_init__(self) -> None:
        if not 0 < self.timeout_s <= 600:
            raise SettingsError(
                f"VOXFLOW_CANARY_TIMEOUT_S must be in (0, 600], not {self.timeout_s}"
            )

    @classmethod
    def of(cls, config: Config) -> "CanarySettings":
        config.check((env.BUS_NAME, env.JOBS_TABLE))
        return cls(
            config[env.BUS_NAME],
            config[env.JOBS_TABLE],
            env.this_region(config),
            config[env.CANARY_TIMEOUT_S],
        )


@dataclass(frozen=True)
class CanaryResult:
    request_id: str
    text: str
    status: str  # the job's: completed, failed, pending; "missing" if none was made in time
    success: bool
    latency_s: float  # publish to terminal status, or to the deadline
    region: str
    metrics_sent: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "success": int(self.success), "latency_s": round(self.latency_s, 3)}


def canary_text(now_ns: int | None = None) -> str:
    """A phrase no earlier run spoke: its digits are read out one by one (one short chunk)."""
    millis = (time.time_ns() if now_ns is None else now_ns) // 1_000_000
    return f"Health check {millis}."


class Canary:
    def __init__(
        self,
        clients: AwsClients,
        jobs: JobStore,
        settings: CanarySettings,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._clients = clients  # its clients are built on first use, not at cold start
        self._jobs = jobs
        self.settings = settings
        self._clock = clock
        self._sleep = sleep

    @classmethod
    def of(cls, config: Config) -> "Canary":
        settings = CanarySettings.of(config)
        aws = AwsSettings.of(config)
        jobs = JobStore(bind(Job, settings.jobs_table, aws), _JOB_TTL_S)
        return cls(AwsClients(aws), jobs, settings)

    def run(self) -> CanaryResult:
        request = SynthesisRequested(
            request_id=f"canary-{uuid.uuid4().hex}", tenant=TENANT, text=canary_text()
        )
        started = self._clock()
        status = self._publish(request)
        if status is None:
            status = self._wait(request.request_id, started + self.settings.timeout_s)
        result = CanaryResult(
            request_id=request.request_id,
            text=request.text or "",
            status=status,
            success=status == COMPLETED,
            latency_s=self._clock() - started,
            region=self.settings.region,
        )
        if not self._put_metrics(result):
            result = CanaryResult(**{**asdict(result), "metrics_sent": False})
        return result

    def _publish(self, request: SynthesisRequested) -> str | None:
        """None once published; else the status to report."""
        # Source voxflow.tenant.voxflow-canary: the canary is a tenant like any other.
        entry = to_event_entry(request, self.settings.bus_name)
        try:
            response = self._clients.events.put_events(Entries=[entry])
        except Exception as error:  # botocore raises per-service error classes
            logger.warning("canary: put_events failed: %s: %s", type(error).__name__, error)
            return "not_published"
        if response.get("FailedEntryCount"):
            logger.warning("canary: put_events rejected the request: %s", response["Entries"])
            return "not_published"
        return None

    def _wait(self, request_id: str, deadline: float) -> str:
        status = "missing"
        while True:
            try:
                job = self._jobs.get(request_id)
            except PynamoDBException as error:  # a slow table is the region's problem too
                logger.warning("canary: reading the job failed: %s", error)
                job = None
            if job is not None:
                status = job.status
                if status in _TERMINAL:
                    return status
            remaining = deadline - self._clock()
            if remaining <= 0:
                return status
            self._sleep(min(self.settings.poll_s, remaining))

    def _put_metrics(self, result: CanaryResult) -> bool:
        dimensions = [{"Name": "Region", "Value": result.region}]
        try:
            self._clients.cloudwatch.put_metric_data(
                Namespace=NAMESPACE,
                MetricData=[
                    {
                        "MetricName": "CanarySuccess",
                        "Dimensions": dimensions,
                        "Value": float(result.success),
                        "Unit": "Count",
                    },
                    {
                        "MetricName": "CanaryLatency",
                        "Dimensions": dimensions,
                        "Value": result.latency_s,
                        "Unit": "Seconds",
                    },
                ],
            )
        except Exception as error:  # botocore raises per-service error classes
            logger.error("canary: put_metric_data failed: %s: %s", type(error).__name__, error)
            return False
        return True
