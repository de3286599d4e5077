"""The regional side of one deployment, as the pipeline uses it."""

import time
from dataclasses import dataclass, field

from voxflow.regions.config import RegionConfig
from voxflow.regions.decision import Decision, JobState, decide, owner_of
from voxflow.regions.health import PrimaryHealth, StaticHealth
from voxflow.regions.peer import PeerJobs
from voxflow.regions.standby import StandbyQueue


@dataclass
class Regions:
    config: RegionConfig = field(default_factory=RegionConfig)
    health: PrimaryHealth = field(default_factory=StaticHealth)
    # Where standby copies wait: StandbyQueue, which plan serves after RequestsQueue,
    # so that after a failover its takeovers never hold up new requests (issue 17).
    standby_queue: StandbyQueue | None = None
    # RequestsQueue, where a first delivery plan had no time for goes back. None: the
    # standby queue (a deployment whose copies share RequestsQueue).
    requests_queue: StandbyQueue | None = None
    # The other region's jobs table (the stale-request guard); None: the guard is off.
    peer_jobs: PeerJobs | None = None

    @property
    def here(self) -> str:
        return self.config.region

    @property
    def regional(self) -> bool:
        return self.config.regional

    def primary_healthy(self) -> bool:
        return self.health.is_healthy()

    def active_here(self, primary_healthy: bool) -> bool:
        return self.config.active_region(primary_healthy) == self.here

    def decide(
        self, job: JobState | None, primary_healthy: bool, standby_expired: bool
    ) -> Decision:
        return decide(
            job,
            self.here,
            primary_healthy,
            primary_region=self.config.primary_region,
            secondary_region=self.config.secondary_region,
            standby_expired=standby_expired,
        )

    def owns(self, job: JobState) -> bool:
        if not self.regional:
            return True
        return owner_of(job, self.config.primary_region) == self.here

    def standby_expired(self, first_seen: float, now: float | None = None) -> bool:
        if not self.regional:
            return False
        return (time.time() if now is None else now) - first_seen >= self.config.standby_max_s

    def stale(self, requested_at: float | None, now: float | None = None) -> bool:
        """Whether a request published at ``requested_at`` (epoch seconds; None: not
        known) is old enough that the other region may have answered it already."""
        if self.peer_jobs is None or requested_at is None:
            return False
        age = (time.time() if now is None else now) - requested_at
        return age > self.config.stale_request_s

    def guards(self, requested_at: float | None) -> bool:
        """Whether the stale-request guard applies: the request is stale and the other
        region is worth asking. Not in the secondary while the primary is down: every new
        request there grows stale behind a failover's backlog, and each then read its job
        before creating it and skipped plan's read-ahead, two calls more a request while
        plan was the bottleneck (issue 17), for a peer it would not ask anyway."""
        return self.stale(requested_at) and self.peer_reachable(self.primary_healthy())

    def peer_reachable(self, primary_healthy: bool) -> bool:
        """Whether the other region is worth asking: an unhealthy primary is not (its
        answers replicated before it went, and asking costs a timeout)."""
        return self.here == self.config.primary_region or primary_healthy

    def send_to_standby(self, body: str, first_seen: float) -> None:
        if self.standby_queue is None:
            raise RuntimeError("standby needs VOXFLOW_REQUESTS_QUEUE_URL")
        self.standby_queue.send_again(body, first_seen)
