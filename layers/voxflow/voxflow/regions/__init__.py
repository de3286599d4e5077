"""Two regions: roles, the primary's health, and who works on a request (docs/regions.md)."""

from voxflow.regions.config import RegionConfig, Role
from voxflow.regions.decision import Decision, JobState, decide, owner_of
from voxflow.regions.health import (
    AlarmHealth,
    PrimaryHealth,
    StaticHealth,
    active_region,
    primary_health,
)
from voxflow.regions.peer import PeerJob, PeerJobs, PeerUnavailable, peer_jobs
from voxflow.regions.regions import Regions
from voxflow.regions.standby import (
    FIRST_SEEN_ATTRIBUTE,
    StandbyQueue,
    StandbySendFailed,
    first_seen_of,
    standby_delay_s,
)

__all__ = [
    "FIRST_SEEN_ATTRIBUTE",
    "AlarmHealth",
    "Decision",
    "JobState",
    "PeerJob",
    "PeerJobs",
    "PeerUnavailable",
    "PrimaryHealth",
    "RegionConfig",
    "Regions",
    "Role",
    "StandbyQueue",
    "StandbySendFailed",
    "StaticHealth",
    "active_region",
    "decide",
    "first_seen_of",
    "owner_of",
    "peer_jobs",
    "primary_health",
    "standby_delay_s",
]
