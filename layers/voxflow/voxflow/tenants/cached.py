"""The tenant table read through a short cache: a warm plan function looks a sender up
once per ``ttl_s``, not once per message (the event-path hit's first round, issue 17).

Bindings and the absence of one are kept for ``ttl_s`` (VOXFLOW_TENANT_CACHE_TTL_S,
5 s by default, as powertools' parameters utility keeps a value): a principal bound,
moved or unbound with ``voxflow tenants`` is seen by every warm plan function at most
``ttl_s`` later; 0 reads the table per message, as before.
"""

import threading
import time
from collections.abc import Callable

from voxflow.tenants.table import TenantDirectory


class CachedDirectory:
    def __init__(
        self,
        directory: TenantDirectory,
        ttl_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._directory = directory
        self._ttl_s = ttl_s
        self._clock = clock
        self._lock = threading.Lock()
        self._tenants: dict[str, tuple[float, str | None]] = {}

    def tenant_of(self, principal: str) -> str | None:
        now = self._clock()
        with self._lock:
            cached = self._tenants.get(principal)
        if cached is not None and now - cached[0] < self._ttl_s:
            return cached[1]
        found = self._directory.tenant_of(principal)
        if self._ttl_s > 0:
            with self._lock:
                self._tenants[principal] = (now, found)
        return found
