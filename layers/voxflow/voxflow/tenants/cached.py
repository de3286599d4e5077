"""The tenant table read through a short cache: a warm plan function looks a sender up
once per ``ttl_s``, not once per message (the event-path hit's first round, issue 17).

Bindings and the absence of one are kept for ``ttl_s`` (VOXFLOW_TENANT_CACHE_TTL_S,
5 s by default, as powertools' parameters utility keeps a value): a principal bound,
moved or unbound with ``voxflow tenants`` is seen by every warm plan function at most
``ttl_s`` later; 0 reads the table per message, as before.
"""

import time
from collections.abc import Callable

from voxflow.tenants.table import TenantDirectory
from voxflow.ttl_cache import TtlCache


class CachedDirectory:
    def __init__(
        self,
        directory: TenantDirectory,
        ttl_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._directory = directory
        self._tenants = TtlCache(ttl_s, clock=clock)

    def tenant_of(self, principal: str) -> str | None:
        return self._tenants.get(principal, lambda: self._directory.tenant_of(principal))
