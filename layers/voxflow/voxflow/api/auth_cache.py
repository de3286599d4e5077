"""Who a key is, remembered for a few seconds in the warm function.

A hit used to read the tenant table (a bearer key's hash, an issued SigV4 key, or the
binding of a settings key) before anything else: one DynamoDB round trip that no other
call can overlap, since every later call needs the tenant. As powertools' parameters
utility keeps a value for ``max_age`` (5 s by default), the answer is kept ``ttl_s``
(VOXFLOW_API_AUTH_CACHE_S). The price is the bound on revocation: a key revoked, or a
binding added or removed, holds in every warm function within ``ttl_s`` of the change
(docs/api.md). A key not found is never kept, so a key just created works at once.
"""

import threading
import time
from collections.abc import Callable, Hashable
from typing import TypeVar

V = TypeVar("V")

_MAX_ENTRIES = 4096  # a burst of distinct keys cannot grow the process without bound


class AuthCache:
    def __init__(self, ttl_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        """``ttl_s`` 0: every call reads (the cache is off)."""
        self.ttl_s = ttl_s
        self._clock = clock
        self._kept: dict[Hashable, tuple[float, object]] = {}
        self._lock = threading.Lock()

    def get(
        self, key: Hashable, load: Callable[[], V], keep: Callable[[V], bool] = lambda _: True
    ) -> V:
        """``load()``'s answer for ``key``, read again once it is ``ttl_s`` old; an
        answer for which ``keep`` is false is not kept. ``load``'s errors pass through."""
        if self.ttl_s <= 0:
            return load()
        now = self._clock()
        with self._lock:
            kept = self._kept.get(key)
        if kept is not None and now < kept[0]:
            return kept[1]  # type: ignore[return-value]  # what load() answered for key
        value = load()
        if keep(value):
            with self._lock:
                if len(self._kept) >= _MAX_ENTRIES:
                    self._kept = {k: v for k, v in self._kept.items() if now < v[0]}
                    if len(self._kept) >= _MAX_ENTRIES:
                        self._kept.clear()
                self._kept[key] = (now + self.ttl_s, value)
        return value
