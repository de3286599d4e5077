"""The local health checker: sets the primary's health alarm from worker heartbeats.

moto stores alarms but never evaluates them, so this thread does what CloudWatch
would: about every second it looks for ``WorkerHeartbeat`` datapoints (namespace
``voxflow``, dimension ``Region``) in the primary's CloudWatch, and sets the alarm
``${stack}-primary-health`` to ALARM when none came for ``stale_after_s``, to OK
when one did. It writes the state only when its own verdict changes, so a state an
operator sets by hand (to force a failover) holds until the heartbeats change.

While the primary does not answer (its moto frozen) nothing can be read or set
there; readers treat an unreachable primary as unhealthy anyway.
"""

import logging
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Self

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from voxflow.aws import AwsClients, AwsSettings
from voxflow_local.lifecycle import Lifecycle

logger = logging.getLogger("voxflow_local.health")

HEARTBEAT_NAMESPACE = "voxflow"
HEARTBEAT_METRIC = "WorkerHeartbeat"
DEFAULT_HEARTBEAT_S = 1.0
State = Literal["OK", "ALARM"]
_CONFIG = Config(
    connect_timeout=1, read_timeout=1, retries={"mode": "standard", "total_max_attempts": 1}
)


def health_alarm_name(stack_name: str) -> str:
    return f"{stack_name}-primary-health"


class HeartbeatHealthChecker(Lifecycle):
    def __init__(
        self,
        endpoint_url: str,
        region: str,
        alarm_name: str,
        *,
        heartbeat_s: float = DEFAULT_HEARTBEAT_S,
        stale_after_s: float | None = None,
        interval_s: float = 1.0,
    ) -> None:
        self.region = region
        self.alarm_name = alarm_name
        self.stale_after_s = stale_after_s if stale_after_s is not None else 3 * heartbeat_s
        self.interval_s = interval_s
        self._cloudwatch: Any = AwsClients(
            AwsSettings.local(endpoint_url, region), config=_CONFIG
        ).client("cloudwatch")
        self._verdict: State | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.transitions: list[tuple[float, State]] = []  # (time.time(), state) as set

    def heartbeat_seen(self) -> bool:
        """Whether any worker of the region put a heartbeat in the last ``stale_after_s``."""
        now = datetime.now(UTC)
        response = self._cloudwatch.get_metric_statistics(
            Namespace=HEARTBEAT_NAMESPACE,
            MetricName=HEARTBEAT_METRIC,
            Dimensions=[{"Name": "Region", "Value": self.region}],
            StartTime=now - timedelta(seconds=self.stale_after_s),
            EndTime=now + timedelta(seconds=1),
            Period=1,
            Statistics=["SampleCount"],
        )
        # moto widens the window to whole periods: check the datapoints' own times too.
        since = now - timedelta(seconds=self.stale_after_s + 1)
        return any(
            point.get("SampleCount", 0) > 0 and point["Timestamp"] >= since
            for point in response["Datapoints"]
        )

    def check(self) -> State | None:
        """One look: sets the alarm if the verdict changed; None if the region is unreachable."""
        try:
            verdict: State = "OK" if self.heartbeat_seen() else "ALARM"
            if verdict != self._verdict:
                self.set_state(verdict, f"heartbeats {'seen' if verdict == 'OK' else 'stale'}")
        except (BotoCoreError, ClientError) as error:
            logger.info("health check of %s failed: %s", self.region, error)
            return None
        return verdict

    def set_state(self, state: State, reason: str) -> None:
        self._ensure_alarm()
        self._cloudwatch.set_alarm_state(
            AlarmName=self.alarm_name, StateValue=state, StateReason=reason
        )
        self._verdict = state
        self.transitions.append((time.time(), state))
        logger.info("%s → %s (%s)", self.alarm_name, state, reason)

    def forget(self) -> None:
        """Next check writes its verdict whatever the last one was (after a recovery)."""
        self._verdict = None

    def _ensure_alarm(self) -> None:
        alarms = self._cloudwatch.describe_alarms(AlarmNames=[self.alarm_name])["MetricAlarms"]
        if alarms:
            return
        # The template makes it in the primary; a deployment without one still gets routing.
        logger.warning("no alarm %s: creating a heartbeat alarm", self.alarm_name)
        self._cloudwatch.put_metric_alarm(
            AlarmName=self.alarm_name,
            Namespace=HEARTBEAT_NAMESPACE,
            MetricName=HEARTBEAT_METRIC,
            Dimensions=[{"Name": "Region", "Value": self.region}],
            Statistic="SampleCount",
            Period=60,
            EvaluationPeriods=1,
            Threshold=1,
            ComparisonOperator="LessThanThreshold",
            TreatMissingData="breaching",
        )

    def start(self) -> Self:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="health-checker", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.check()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
            self._thread = None
