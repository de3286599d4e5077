"""Is the primary healthy? The health alarm's state, read in the primary region.

An unreachable primary counts as unhealthy, and must say so fast: the client has
~1 s timeouts and no retries, and the answer is kept for a second so that a batch
of requests asks CloudWatch once. "Unreachable" is kept longer, and longer again
each time in a row: every probe of a region that does not answer costs a whole
timeout, which a secondary taking over would otherwise pay every few seconds (in
the drill, a second of every plan batch). The first verdict is kept only a few
seconds, so that a blip costs little; a region that stays down is probed every
``UNREACHABLE_HOLD_MAX_S`` at most, which is also how late its recovery is seen.

A publisher (``GlobalVoxflowClient``) asks ``in_background``: while the primary did
not answer, a stale verdict is still returned at once and one thread asks again, so
probing a frozen primary (a whole timeout each time) never holds up a publish. A
primary that answers is asked in the caller's thread, as before (milliseconds).
"""

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any, Protocol

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from voxflow.aws import AwsClients, AwsSettings
from voxflow.regions.config import RegionConfig

logger = logging.getLogger(__name__)

HEALTHY_STATE = "OK"  # ALARM and INSUFFICIENT_DATA both mean "not known to be healthy"
UNREACHABLE_HOLD_S = 3.0
UNREACHABLE_HOLD_MAX_S = 30.0
FAST_FAIL = Config(
    connect_timeout=1, read_timeout=1, retries={"mode": "standard", "total_max_attempts": 1}
)


class PrimaryHealth(Protocol):
    def is_healthy(self) -> bool: ...


class StaticHealth:
    """A fixed answer: standalone (always healthy) and tests."""

    def __init__(self, healthy: bool = True) -> None:
        self.healthy = healthy

    def is_healthy(self) -> bool:
        return self.healthy


class AlarmHealth:
    """The health alarm's state through ``cloudwatch()``, a client for the primary region."""

    def __init__(
        self,
        cloudwatch: Callable[[], Any],
        alarm_name: str,
        *,
        cache_s: float = 1.0,
        unreachable_cache_s: float = UNREACHABLE_HOLD_S,
        unreachable_cache_max_s: float = UNREACHABLE_HOLD_MAX_S,
        clock: Callable[[], float] = time.monotonic,
        in_background: bool = False,
    ) -> None:
        self._cloudwatch = cloudwatch
        self.alarm_name = alarm_name
        self._cache_s = cache_s
        self._unreachable_cache_s = unreachable_cache_s
        self._unreachable_cache_max_s = max(unreachable_cache_s, unreachable_cache_max_s)
        self._unreachable_in_a_row = 0
        self._clock = clock
        self._lock = threading.Lock()
        # (answered at, healthy, for how long the answer holds)
        self._answer: tuple[float, bool, float] | None = None
        self._reachable = True  # did the last probe get an answer?
        self._in_background = in_background
        self._asking: threading.Thread | None = None
        self.probes = 0  # describe_alarms calls made

    def is_healthy(self) -> bool:
        if self._in_background:
            return self._healthy_without_waiting()
        with self._lock:  # one caller asks; the others wait a second at most and reuse it
            now = self._clock()
            if self._answer is not None and now - self._answer[0] < self._answer[2]:
                return self._answer[1]
            return self._refresh()

    def _refresh(self) -> bool:
        healthy, reachable = self._ask()
        self._answer = (self._clock(), healthy, self._hold(reachable))
        self._reachable = reachable
        return healthy

    def _healthy_without_waiting(self) -> bool:
        """The last answer while fresh; when stale, asked again in the caller's thread if
        the primary answered last time, else in one thread of its own meanwhile."""
        with self._lock:
            answer = self._answer
            if answer is None or (self._reachable and self._clock() - answer[0] >= answer[2]):
                return self._refresh()
            if self._clock() - answer[0] >= answer[2] and self._asking is None:
                self._asking = threading.Thread(
                    target=self._refresh_in_background, name="health-probe", daemon=True
                )
                self._asking.start()
            return answer[1]

    def _refresh_in_background(self) -> None:
        healthy, reachable = self._ask()  # outside the lock: publishers go on meanwhile
        with self._lock:
            self._answer = (self._clock(), healthy, self._hold(reachable))
            self._reachable = reachable
            self._asking = None

    @property
    def probing(self) -> bool:
        """A probe is under way in the background."""
        return self._asking is not None

    def wait_probe(self, timeout_s: float = 10.0) -> None:
        """Wait for a probe under way (tests, and callers that want a fresh answer)."""
        asking = self._asking
        if asking is not None:
            asking.join(timeout_s)

    def _hold(self, reachable: bool) -> float:
        """How long this answer is kept: doubling while the region stays unreachable."""
        if reachable:
            self._unreachable_in_a_row = 0
            return self._cache_s
        self._unreachable_in_a_row += 1
        doubled = self._unreachable_cache_s * 2.0 ** (self._unreachable_in_a_row - 1)
        return min(doubled, self._unreachable_cache_max_s)

    def _ask(self) -> tuple[bool, bool]:
        """(healthy, reachable)."""
        self.probes += 1
        try:
            response = self._cloudwatch().describe_alarms(
                AlarmNames=[self.alarm_name], AlarmTypes=["MetricAlarm", "CompositeAlarm"]
            )
        except (BotoCoreError, ClientError) as error:
            logger.warning("primary health unknown (%s): counted as unhealthy", error)
            return False, False
        alarms = [*response.get("MetricAlarms", []), *response.get("CompositeAlarms", [])]
        if not alarms:
            logger.warning(
                "health alarm %r not found: primary counted as unhealthy", self.alarm_name
            )
            return False, True
        return all(alarm.get("StateValue") == HEALTHY_STATE for alarm in alarms), True


def primary_health(config: RegionConfig, aws: AwsSettings) -> PrimaryHealth:
    """The health source for ``config``'s role; builds no client until first asked."""
    if not config.regional or config.health_alarm is None:
        return StaticHealth(True)
    primary = replace(
        aws,
        region=config.primary_region,
        # Locally the primary is another endpoint; on AWS the region implies it.
        endpoint_url=config.primary_endpoint_url or aws.endpoint_url,
    )
    clients = AwsClients(primary, config=FAST_FAIL)
    return AlarmHealth(lambda: clients.cloudwatch, config.health_alarm)


def active_region(config: RegionConfig, health: PrimaryHealth) -> str:
    """The region that creates new jobs right now."""
    if not config.regional:
        return config.region
    return config.active_region(health.is_healthy())
