"""Answers read from a table, kept a few seconds in a warm function, as powertools'
parameters utility keeps a value for ``max_age``: the price is a bound, ``ttl_s``, on
how late a change made elsewhere is seen. Its users say what they keep and their bound:
who an API key is (voxflow.api.routes, VOXFLOW_API_AUTH_CACHE_S), a sender's tenant on
the event path (voxflow.tenants.cached), the voice catalog (voxflow.voices.cached).
"""

import threading
import time
from collections.abc import Callable, Hashable
from typing import TypeVar

V = TypeVar("V")

_MAX_ENTRIES = 4096  # a burst of distinct keys cannot grow the process without bound


class TtlCache:
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

    def forget(self, key: Hashable) -> None:
        """The next ``get`` of ``key`` reads again (a change made through its owner)."""
        with self._lock:
            self._kept.pop(key, None)
