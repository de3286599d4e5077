"""A deployment's voices: the built-in ones, and its catalog when it has one."""

from typing import Any

from voxflow.settings import EngineSettings
from voxflow.voices.cached import CachedCatalog
from voxflow.voices.catalog import VoicesTable
from voxflow.voices.loader import DownloadTimer, VoiceLoader
from voxflow.voices.registry import VoiceRegistry
from voxflow.voices.store import VoiceObjects


def deployment_registry(
    settings: EngineSettings,
    voices_table: str | None,
    *,
    dynamodb: Any,
    s3: Any,
    bucket: str,
    on_download: DownloadTimer | None = None,
) -> VoiceRegistry:
    """``dynamodb`` and ``s3``: clients, used only when a catalog voice is asked for."""
    registry = VoiceRegistry.default(settings.voices_file, settings.cache_dir)
    if voices_table:
        registry.with_catalog(
            CachedCatalog(VoicesTable(dynamodb, voices_table), settings.voice_catalog_ttl_s),
            VoiceLoader(VoiceObjects(s3, bucket), settings.voice_dir, on_download),
            settings.voice_memory_mb << 20,
        )
    return registry
