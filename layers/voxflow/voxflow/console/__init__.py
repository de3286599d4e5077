"""The web console (docs/console.md): static files the HTTP API serves at /console (and
``voxflow console publish`` puts in the console site's bucket: site.py), and what it
shows from GET /v1/health: the regions' health, the queues (queues.py) and, from
CloudWatch, their oldest messages' ages and the cache hit ratio (metrics.py)."""

from voxflow.console.assets import Asset, asset
from voxflow.console.health import regions_health

__all__ = ["Asset", "asset", "regions_health"]
