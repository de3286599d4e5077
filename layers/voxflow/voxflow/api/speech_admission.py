"""The HTTP API's admission and cache reads, in rounds of concurrent calls.

Before: the audit record's first half, and the tenant's quota item with the cache
index's entries (one BatchGetItem of both tables), together (reads, and a write that
does not depend on them); the content
policy (no call); then the quota charge, on the version read, together with the cached
objects' reads (a refusal discards them). After the answer: the audit record's terminal
half and the hit counts, together. A hit waits for three rounds of calls instead of
seven calls one after another (benchmarks/NOTES.md, session 8).
"""

import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from voxflow.events import ItemRequest
from voxflow.pipeline.admission import read_entries_and_quota, read_together
from voxflow.pipeline.context import Pipeline
from voxflow.pipeline.regional import usable
from voxflow.quotas.bucket import TenantBuckets
from voxflow.store import CacheEntry

# Independent calls of one request; boto3 clients are thread-safe.
_CALLS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="voxflow-api")


@dataclass
class Admitted:
    """A request let in: what the cache has of it, and calls still under way."""

    entries: dict[str, CacheEntry]  # usable cache entries among the keys read
    objects: dict[str, "Future[bytes]"]  # cached objects being read, by cache key
    lookup_ms: float
    after: list["Future[Any]"] = field(default_factory=list)  # to wait for before returning

    def audio(self, key: str) -> bytes:
        return self.objects[key].result()

    def later(self, call: Callable[..., Any], *args: Any) -> None:
        """Run ``call`` alongside the rest of the answer (the hit count)."""
        self.after.append(_CALLS.submit(call, *args))

    def wait(self) -> None:
        for call in self.after:
            call.result()
        self.after.clear()


def admit(
    item: ItemRequest,
    billed_chars: int,
    keys: list[str],
    pipeline: Pipeline,
    *,
    fetch: tuple[str, ...] = (),
    on_miss: Callable[[], None] | None = None,
) -> Admitted:
    """Let ``item`` in, or raise ContentRejected or Throttled (a refused request's audit
    record has its first half, as any). ``keys``: the cache keys to look up; ``fetch``:
    those of them whose objects are read while the quota is charged, if all ``keys``
    are cached (a hit's answer; a miss reads nothing); ``on_miss``: called as soon as
    the lookup finds one of ``keys`` missing, before the policy and the quota charge (a
    streamed miss starts its first chunk there: voxflow.api.speech_head)."""
    controls = pipeline.controls
    started = time.perf_counter()
    received = _CALLS.submit(controls.record_received, item)
    quotas = controls.quotas
    try:
        found, quota_read = _read(keys, item.tenant, pipeline)
        entries = {key: entry for key in keys if (entry := usable(found.get(key), pipeline))}
        if on_miss is not None and len(entries) < len(keys):
            on_miss()
    finally:
        received.result()
    lookup_ms = (time.perf_counter() - started) * 1000
    objects: dict[str, Future[bytes]] = {}
    if len(entries) == len(keys):
        objects = {key: _CALLS.submit(pipeline.audio.get, entries[key].s3_key) for key in fetch}
    if controls.policy is not None:
        controls.policy.check(item.text, item.tenant).raise_if_rejected()
    if quotas is not None and quota_read is not None:
        grant = quotas.take(item.tenant, billed_chars, read=quota_read())
        # Delay mode: the event path delays the chunk tasks; a caller waiting on the
        # line is delayed the same (the wait is capped by the quota's setting).
        time.sleep(grant.wait_s)
    return Admitted(entries, objects, lookup_ms)


def _read(
    keys: list[str], tenant: str, pipeline: Pipeline
) -> tuple[dict[str, CacheEntry], Callable[[], TenantBuckets | None] | None]:
    """The cache entries of ``keys``, and the tenant's quota item once asked for: one
    BatchGetItem of both tables where the keys fit in one
    (voxflow.pipeline.admission.read_entries_and_quota); else the two reads side by side."""
    quotas = pipeline.controls.quotas
    if read_together(keys, pipeline):
        found, quota_item = read_entries_and_quota(keys, tenant, pipeline)
        return found, lambda: quota_item
    quota_read = _CALLS.submit(quotas.read, tenant) if quotas is not None else None
    found = pipeline.cache.lookup_many(keys, consistent=True)
    return found, quota_read.result if quota_read is not None else None


def finish_audit(
    pipeline: Pipeline,
    item: ItemRequest,
    status: str,
    started: float,
    *,
    cache: str | None = None,
    code: str | None = None,
) -> None:
    """The audit record's terminal half (nothing without an audit table)."""
    audit = pipeline.controls.audit
    if audit is None:
        return
    audit.finished(
        item.request_id,
        tenant=item.tenant,
        status=status,
        region=pipeline.settings.region_name,
        timings={"total_s": time.perf_counter() - started},
        code=code,
        cache=cache,
    )
