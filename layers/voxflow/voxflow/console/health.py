"""Both regions' health as this region sees it, for the console and anyone polling.

The only measured signal is the primary's: its canary feeds the health alarm, which
every region reads (voxflow.regions.health). The secondary has no canary; what it is
doing follows from the alarm: standing by while the primary is healthy, serving when
it is not. A standalone deployment is one region, always serving.
"""

from datetime import UTC, datetime
from typing import Any

from voxflow.regions import Regions

HEALTHY = "healthy"
UNHEALTHY = "unhealthy"
NOT_MEASURED = "not measured"


def regions_health(regions: Regions, now: datetime | None = None) -> dict[str, Any]:
    config = regions.config
    checked_at = (now or datetime.now(UTC)).isoformat(timespec="seconds")
    if not config.regional:
        region = {
            "region": config.region,
            "role": config.role.value,
            "health": HEALTHY,
            "serving": True,
            "here": True,
        }
        return {
            "region": config.region,
            "serving": config.region,
            "checked_at": checked_at,
            "regions": [region],
        }
    healthy = regions.primary_healthy()
    serving = config.active_region(healthy)
    return {
        "region": config.region,
        "serving": serving,
        "checked_at": checked_at,
        "regions": [
            {
                "region": name,
                "role": role,
                "health": health,
                "serving": name == serving,
                "here": name == config.region,
            }
            for name, role, health in (
                (config.primary_region, "primary", HEALTHY if healthy else UNHEALTHY),
                (config.secondary_region, "secondary", NOT_MEASURED),
            )
        ],
    }
