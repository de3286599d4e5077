"""The other region's jobs table, read for the stale-request guard (docs/failover.md).

A request can reach a region long after it was published: an event replicated to a
primary that has just recovered, a redelivery. The other region may have answered
it already while the job's item has not replicated here yet; this region would find
no job, create one and answer a second time. So before it creates a job for a stale
request, a region reads the other region's item. Only stale requests pay for the
read (fresh ones cannot have been answered elsewhere yet). A peer that does not answer
means a look again later (standby), not a second answer; but a loaded peer is slow, not
lost (the drill's secondary after failback: 1 s reads with no retry failed for minutes
while the secondary stood by too), so the read waits 3 s and is tried twice, and a
request held this way for VOXFLOW_PEER_SILENT_MAX_S is created here after all
(voxflow.pipeline.regional).
"""

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from voxflow.aws import AwsClients, AwsSettings
from voxflow.regions.config import RegionConfig
from voxflow.regions.health import UNREACHABLE_HOLD_S

# Longer than the health probe's 1 s and one retry: a region that answers the alarm
# read slowly is still up, and standing by on its silence stalls the request.
PEER_READ = Config(
    connect_timeout=1, read_timeout=3, retries={"mode": "standard", "total_max_attempts": 2}
)


class PeerUnavailable(RuntimeError):
    """The other region's table did not answer."""


@dataclass(frozen=True)
class PeerJob:
    """What the guard reads of the other region's job (a regions.JobState)."""

    status: str
    owner_region: str | None
    tenant: str | None
    fingerprint: str | None


class PeerJobs:
    def __init__(
        self,
        dynamodb: Callable[[], Any],
        table: str,
        *,
        hold_s: float = UNREACHABLE_HOLD_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``hold_s``: after a read that failed, the peer counts as not answering for
        this long without being asked (a batch pays one timeout, not one per request)."""
        self._dynamodb = dynamodb
        self.table = table
        self._hold_s = hold_s
        self._clock = clock
        self._failed_at: float | None = None

    def get(self, request_id: str) -> PeerJob | None:
        if self._failed_at is not None and self._clock() - self._failed_at < self._hold_s:
            raise PeerUnavailable("held after a failed read")
        try:
            response = self._dynamodb().get_item(
                TableName=self.table,
                Key={"request_id": {"S": request_id}},
                ProjectionExpression="#s, owner_region, tenant, fingerprint",
                ExpressionAttributeNames={"#s": "status"},
            )
        except (BotoCoreError, ClientError) as error:
            self._failed_at = self._clock()
            raise PeerUnavailable(type(error).__name__) from error
        self._failed_at = None
        item = response.get("Item")
        if item is None:
            return None

        def text(name: str) -> str | None:
            value = item.get(name, {}).get("S")
            return str(value) if value is not None else None

        return PeerJob(
            status=text("status") or "",
            owner_region=text("owner_region"),
            tenant=text("tenant"),
            fingerprint=text("fingerprint"),
        )


def peer_jobs(config: RegionConfig, aws: AwsSettings, table: str) -> PeerJobs | None:
    """The other region's jobs table for ``config``; None where the guard is off. Builds
    no client until first asked."""
    if not config.regional or config.stale_request_s == 0:
        return None
    peer = replace(
        aws,
        region=config.other_region,
        endpoint_url=config.other_endpoint_url or aws.endpoint_url,
    )
    clients = AwsClients(peer, config=PEER_READ)
    return PeerJobs(lambda: clients.dynamodb, table)
