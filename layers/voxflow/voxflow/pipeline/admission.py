"""Admission: what plan does before any work on a request this region works on.

The audit record's first half, the content policy, then the tenant's quota (charged
once, when the job is created, so a redelivery is not charged again). Its first read,
the request's cache entries with the tenant's quota item, is one BatchGetItem of both
tables (``read_entries_and_quota``), for plan and the HTTP API alike. Quota tokens are
the spoken characters, the normalized text's length: what synthesis costs. Whitespace
padding is free, and a digit string costs the words it is read as.
"""

import math

from voxflow.errors import Throttled
from voxflow.events import ItemRequest
from voxflow.pipeline.context import Pipeline
from voxflow.pipeline.failures import fail_request
from voxflow.pipeline.identity import item_fingerprint
from voxflow.quotas.bucket import TenantBuckets
from voxflow.regions import Decision
from voxflow.store import CacheEntry
from voxflow.store.batch_read import KEYS_PER_CALL, BatchRead


def read_together(keys: list[str], pipeline: Pipeline) -> bool:
    """Whether the cache entries of ``keys`` and the quota item fit in one BatchGetItem."""
    return len(set(keys)) + (pipeline.controls.quotas is not None) <= KEYS_PER_CALL


def read_entries_and_quota(
    keys: list[str], tenant: str, pipeline: Pipeline
) -> tuple[dict[str, CacheEntry], TenantBuckets | None]:
    """The live cache entries among ``keys`` and ``tenant``'s quota item (None with
    quotas off), in one consistent BatchGetItem (voxflow.store.batch_read): two calls
    side by side cost the slower one's wall time and two requests' work. Only where
    ``read_together`` holds."""
    quotas = pipeline.controls.quotas
    together = BatchRead()
    known = pipeline.cache.lookup_in(together, keys)
    quota_item = quotas.read_in(together, tenant) if quotas is not None else None
    together.run()
    return known(), quota_item() if quota_item is not None else None


def admit(
    item: ItemRequest,
    decision: Decision,
    pipeline: Pipeline,
    *,
    spoken_chars: int,
    quota_read: TenantBuckets | None = None,
) -> int | None:
    """DelaySeconds for the request's chunk tasks (0: at once; >0: quota delay mode);
    None: over quota, and already answered (THROTTLED, or the fallback clip).
    ``spoken_chars``: the length of the text plan normalized, the quota's charge;
    ``quota_read``: the tenant's quota item as plan read it ahead, if it did.
    Raises ContentRejected (final) for text the policy rejects."""
    controls = pipeline.controls
    controls.record_received(item)
    if controls.policy is not None:
        controls.policy.check(item.text, item.tenant).raise_if_rejected()
    if controls.quotas is None or decision is not Decision.CREATE:
        return 0
    try:
        grant = controls.quotas.take(item.tenant, spoken_chars, read=quota_read)
    except Throttled as error:
        pipeline.meter.count("RequestsThrottled")
        fail_request(
            pipeline,
            item.request_id,
            error.code,
            str(error),
            tenant=item.tenant,
            metadata=dict(item.metadata),
            batch_id=item.batch_id,
            reply_to=item.reply_to,
            fingerprint=item_fingerprint(item),
            # Worth a retry later, unless the request exceeds the tenant's burst.
            retryable=error.retry_after_s is not None,
        )
        return None
    if grant.wait_s > 0:
        pipeline.meter.count("RequestsDelayed")
    return math.ceil(grant.wait_s)
