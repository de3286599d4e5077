"""The catalog read through a short cache: a hot voice costs no DynamoDB read per request.

A new request resolves its voice against the catalog (enabled? which model?); without
this, every request of every warm function read the table once. Entries, and the
absence of one, are kept for ``ttl_s``: a voice disabled, removed or added elsewhere
is seen here at most ``ttl_s`` later (VOXFLOW_VOICE_CATALOG_TTL_S). Changes made
through this object are seen at once.
"""

import threading
import time
from collections.abc import Callable

from voxflow.voices.catalog import CatalogEntry, VoiceCatalog


class CachedCatalog:
    def __init__(
        self,
        catalog: VoiceCatalog,
        ttl_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._catalog = catalog
        self._ttl_s = ttl_s
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[float, CatalogEntry | None]] = {}
        self._listing: tuple[float, list[CatalogEntry]] | None = None

    def entry(self, voice_id: str) -> CatalogEntry | None:
        now = self._clock()
        with self._lock:
            cached = self._entries.get(voice_id)
        if cached is not None and now - cached[0] < self._ttl_s:
            return cached[1]
        found = self._catalog.entry(voice_id)
        with self._lock:
            self._entries[voice_id] = (now, found)
        return found

    def entries(self) -> list[CatalogEntry]:
        now = self._clock()
        with self._lock:
            listing = self._listing
        if listing is not None and now - listing[0] < self._ttl_s:
            return list(listing[1])
        found = self._catalog.entries()
        with self._lock:
            self._listing = (now, found)
        return list(found)

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
        with self._lock:
            self._entries.pop(voice_id, None)
            self._listing = None
