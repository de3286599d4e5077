"""The primary region's health canary (functions/health)."""

from voxflow.health.canary import Canary, CanaryResult, CanarySettings

__all__ = ["Canary", "CanaryResult", "CanarySettings"]
