"""Who works on a request: the table of docs/regions.md as one pure function."""

from enum import StrEnum
from typing import Protocol

PENDING = "pending"  # voxflow.store.jobs.PENDING; regions does not import the store


class Decision(StrEnum):
    CREATE = "create"  # no job: create it, owned here
    PROCEED = "proceed"  # pending and owned here: queue what is not done
    TAKE_OVER = "take_over"  # pending, its owner unhealthy: take it, queue what is missing
    STANDBY = "standby"  # someone else works on it (or will): look again later
    DROP = "drop"  # terminal: the owner already answered


class JobState(Protocol):
    """What the decision reads of a job (voxflow.store.Job has both)."""

    @property
    def status(self) -> str: ...

    @property
    def owner_region(self) -> str | None: ...


def owner_of(job: JobState, primary_region: str) -> str:
    # Jobs written before regions existed have no owner: they were the primary's.
    return job.owner_region or primary_region


def decide(
    job: JobState | None,
    here: str,
    primary_healthy: bool,
    *,
    primary_region: str,
    secondary_region: str,
    standby_expired: bool = False,
) -> Decision:
    """The decision for a request message in ``here``, per docs/regions.md.

    ``standby_expired``: the request has waited VOXFLOW_STANDBY_MAX_S; it is then
    planned here rather than left on standby (a duplicate beats a loss).
    """
    if job is None:
        active = primary_region if primary_healthy else secondary_region
        return Decision.CREATE if active == here or standby_expired else Decision.STANDBY
    if job.status != PENDING:
        return Decision.DROP
    owner = owner_of(job, primary_region)
    if owner == here:
        return Decision.PROCEED
    # Only the primary has a health signal; the secondary owns jobs only after it
    # took over or created them while the primary was down, and counts as healthy.
    owner_healthy = primary_healthy if owner == primary_region else True
    if owner_healthy and not standby_expired:
        return Decision.STANDBY
    return Decision.TAKE_OVER
