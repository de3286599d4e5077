"""New work first on the local stack's shared cores: the backlog's runners wait their turn.

On Lambda, the functions that resume what a lost region left (takeovers from the
StandbyQueue, their chunks from the RecoveryChunksQueue) run beside the new requests'
functions, each invocation on CPU of its own, behind moto-free AWS services that do not
slow down for another caller: the backlog never delays a new request. Here every runner
and one moto share two cores. A lower CPU priority (``BACKGROUND_NICENESS``) was not
enough: the backlog's runners still took a fifth of the CPU in the half minute after a
drill's kill, because the new requests' runners wait on moto between calls and leave
cycles free, and the backlog's calls then queue in moto ahead of theirs. New requests
waited 25 s (p50) for plan; with the backlog held back during that half minute, 2.6 s
(issue 17, benchmarks/NOTES.md).

So a backlog runner takes a batch only once the foreground queues of its region (every
other queue a runner polls) have held no message, waiting or in flight, for ``QUIET_S``
(``ForegroundGate``, the poller's ``defer``); otherwise it checks again ``RECHECK_S``
later. A batch already taken is finished. The backlog runs as soon as new work drains,
and in full when there is none. The foreground's state comes from the local moto's stream-heads path
(voxflow_local.stream_heads), one cheap call."""

import json
import logging
import time
from collections.abc import Callable, Iterable
from urllib.error import URLError
from urllib.request import urlopen

from voxflow_local import stream_heads
from voxflow_local.model import LocalFunction

logger = logging.getLogger(__name__)

BACKGROUND_QUEUES = frozenset({"StandbyQueue", "RecoveryChunksQueue"})
BACKGROUND_NICENESS = 10
RECHECK_S = 0.2
QUIET_S = 1.0


def foreground_queue_names(functions: Iterable[LocalFunction]) -> tuple[str, ...]:
    """The queues of the functions' runners that are not the backlog's."""
    names = {
        source.queue_url.rsplit("/", 1)[-1]
        for function in functions
        for source in function.event_sources
        if source.queue_logical_id not in BACKGROUND_QUEUES
    }
    return tuple(sorted(names))


class ForegroundGate:
    """True while new work is waiting in, or being worked from, the foreground queues,
    and for ``quiet_s`` after: between two new requests the queues are empty for a
    moment, and a backlog batch taken then (four long chunks at nice 10) ran through the
    whole half minute after a drill's kill, 4.3-4.6 CPU s of it (benchmarks/NOTES.md,
    session 13)."""

    def __init__(
        self,
        endpoint_url: str,
        region: str,
        queue_names: Iterable[str],
        *,
        quiet_s: float = QUIET_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._url = stream_heads.url(endpoint_url, region, queue_names)
        self._answered = True
        self._quiet_s = quiet_s
        self._clock = clock
        self._busy_at: float | None = None

    def busy(self) -> bool:
        now = self._clock()
        if self._working():
            self._busy_at = now
            return True
        return self._busy_at is not None and now - self._busy_at < self._quiet_s

    def _working(self) -> bool:
        try:
            with urlopen(self._url, timeout=2) as answer:
                counts = json.load(answer).get("busy", {})
        except (URLError, TimeoutError, ConnectionError, ValueError) as error:
            # moto down or without the path: nothing to wait for, poll as Lambda would.
            if self._answered:
                logger.info("foreground unknown (%s): not waiting for it", error)
            self._answered = False
            return False
        self._answered = True
        return any(int(count) > 0 for count in counts.values())
