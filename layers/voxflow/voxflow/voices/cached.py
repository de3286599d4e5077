"""The catalog read through a short cache: a hot voice costs no DynamoDB read per request.

A new request resolves its voice against the catalog (enabled? which model?); without
this, every request of every warm function read the table once. Entries, and the
absence of one, are kept for ``ttl_s``: a voice disabled, removed or added elsewhere
is seen here at most ``ttl_s`` later (VOXFLOW_VOICE_CATALOG_TTL_S). Changes made
through this object are seen at once.
"""

import time
from collections.abc import Callable

from voxflow.ttl_cache import TtlCache
from voxflow.voices.catalog import CatalogEntry, VoiceCatalog

_LISTING = ("entries",)  # the whole listing's key: no voice id is a tuple


class CachedCatalog:
    def __init__(
        self,
        catalog: VoiceCatalog,
        ttl_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._catalog = catalog
        self._kept = TtlCache(ttl_s, clock=clock)

    def entry(self, voice_id: str) -> CatalogEntry | None:
        return self._kept.get(voice_id, lambda: self._catalog.entry(voice_id))

    def entries(self) -> list[CatalogEntry]:
        return list(self._kept.get(_LISTING, self._catalog.entries))

    def register(self, entry: CatalogEntry) -> CatalogEntry:
        try:
            return self._catalog.register(entry)
        finally:
            self._forget(entry.voice_id)

    def set_enabled(self, voice_id: str, enabled: bool) -> CatalogEntry | None:
        try:
            return self._catalog.set_enabled(voice_id, enabled)
        finally:
            self._forget(voice_id)

    def remove(self, voice_id: str) -> CatalogEntry | None:
        try:
            return self._catalog.remove(voice_id)
        finally:
            self._forget(voice_id)

    def _forget(self, voice_id: str) -> None:
        self._kept.forget(voice_id)
        self._kept.forget(_LISTING)
