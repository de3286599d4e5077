"""The web console (docs/console.md): static files the HTTP API serves at /console, and
the regions' health it shows (GET /v1/health)."""

from voxflow.console.assets import Asset, asset
from voxflow.console.health import regions_health

__all__ = ["Asset", "asset", "regions_health"]
