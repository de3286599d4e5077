"""A cache hit answered in three rounds of AWS calls instead of ten (docs/pipeline.md).

1. The cache index (the request's key, its marks' and its chunks') and the tenant's
   quota item, in one BatchGetItem of both tables (``read_ahead``);
2. one transaction: the job created already terminal, its writer holding the send
   lease; the quota charge, on the version of the item read; both halves of the audit
   record. All or nothing: if the job exists already (a duplicate), or another writer
   changed the quota item, nothing is written and the general path takes the request.
   This is the guard of exactly one terminal event: nothing is sent before it;
3. the event to the service's bus and to the reply target, together. Only the writer
   the transaction picked sends, so the two need no order between them. A bus failure
   still fails the message (it is retried); the reply that went out beside it is
   marked on the job (``reply_sent``) before the error goes up, so the stored event
   is sent again to the bus only, never a second reply.

The calls that cannot be fewer: the index must be read before the transaction (the
event names the cached audio), and the transaction must succeed before anything is
sent. benchmarks/pipeline.py prints these three rounds straight to moto as the floor.

After the reply, the job is marked sent and the hit counted, together. A crash between
the transaction and the mark is what it was before: the send lease runs out and the
next delivery of the message, or the sweeper, sends the stored event once.

With two regions, only where the claim would create the job without reading anything
first (docs/regions.md, docs/failover.md): this region is the active one (or the request
waited out its standby) and the request is not stale. The transaction's condition is
then the claim's conditional create: one terminal event. A stale request (the guard
reads the peer's job) and a region that is not the active one (it reads the job to
decide) take the general path; so does a cache entry of the other region whose audio
has not replicated here.
"""

import json
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from botocore.exceptions import BotoCoreError, ClientError
from pynamodb.exceptions import TransactWriteError

from voxflow.errors import Throttled
from voxflow.events import ItemRequest, ReplyTo, SynthesisCompleted
from voxflow.pipeline.admission import read_entries_and_quota, read_together
from voxflow.pipeline.context import Pipeline
from voxflow.pipeline.publisher import PublishFailed
from voxflow.pipeline.regional import usable
from voxflow.pipeline.terminal import completed_event, reply_target
from voxflow.pipeline.timeline import PLANNED, Laps, record
from voxflow.quotas.bucket import TenantBuckets
from voxflow.store import CacheEntry, Job
from voxflow.store.jobs import COMPLETED, transaction_canceled

# Independent calls of one request at a time; boto3 clients are thread-safe.
_CALLS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="voxflow-hit")


@dataclass
class ReadAhead:
    """What plan read before claiming the request's job: reads only, nothing written."""

    known: dict[str, CacheEntry]  # the live cache entries among the keys read
    quota_item: TenantBuckets | None  # the tenant's quota item, if quotas are on
    # The live chunk claims among ``claim_keys`` (voxflow.store.claims), if they were read.
    claims: dict[str, str] | None = None


def read_ahead(
    item: ItemRequest,
    keys: list[str],
    pipeline: Pipeline,
    *,
    standby_expired: bool = False,
    claim_keys: list[str] | None = None,
) -> ReadAhead | None:
    """The cache entries of ``keys`` and the tenant's quota item (one consistent
    BatchGetItem of both tables, voxflow.store.batch_read), and the live claims on
    ``claim_keys`` (a long job's chunks: the claims' BatchGetItem, alongside, off a
    sharing job's first-chunk path); None where the general path reads for itself (more
    keys than one batch read takes; with two regions, a request the claim must read a
    job for before it may create one)."""
    if not read_together(keys, pipeline) or not _creates_first(item, pipeline, standby_expired):
        return None
    claims = pipeline.chunk_claims
    claims_read = (
        _CALLS.submit(claims.held, claim_keys) if claims is not None and claim_keys else None
    )
    known, quota_item = read_entries_and_quota(keys, item.tenant, pipeline)
    return ReadAhead(known, quota_item, claims_read.result() if claims_read is not None else None)


def _creates_first(item: ItemRequest, pipeline: Pipeline, standby_expired: bool) -> bool:
    """Whether the claim would create the job before reading anything (always, in the
    standalone role): what voxflow.pipeline.regional's claim does with two regions when
    this region is the active one, or the request waited out its standby, and the
    request is not stale. The health answer is kept a second (no call, mostly)."""
    regions = pipeline.regions
    if not regions.regional:
        return True
    requested_at = item.requested_at.timestamp() if item.requested_at else None
    if not standby_expired and regions.guards(requested_at):
        return False
    return standby_expired or regions.active_here(regions.primary_healthy())


@dataclass(frozen=True)
class Hit:
    entry: CacheEntry
    marks: CacheEntry | None  # the marks' entry, when the request asks for marks


def hit_in(known: dict[str, CacheEntry], key: str, marks_key: str | None) -> Hit | None:
    """The request's audio, and its marks if it asks for them (``marks_key``), both
    among ``known``: a hit."""
    entry = known.get(key)
    marks = known.get(marks_key) if marks_key is not None else None
    if entry is None or (marks_key is not None and marks is None):
        return None
    return Hit(entry, marks)


def usable_hit(hit: Hit | None, pipeline: Pipeline) -> Hit | None:
    """``hit`` if its audio (and marks) can be served here (voxflow.pipeline.regional)."""
    if hit is None or usable(hit.entry, pipeline) is None:
        return None
    if hit.marks is not None and usable(hit.marks, pipeline) is None:
        return None
    return hit


def answer_at_once(
    item: ItemRequest,
    job: Job,
    hit: Hit,
    ahead: ReadAhead,
    pipeline: Pipeline,
    *,
    billed_chars: int,
    started: float,
    received_at: float,
    laps: Laps,
) -> bool:
    """Answer a request whose audio is cached with one transaction; False if it must take
    the general path (nothing was written then): the job exists, the quota item changed
    since it was read, the tenant is over quota or the content policy rejects the text
    (the general path answers those, as for any request). ``ahead``'s quota item is
    charged here: not to be used again. ``started``: plan's start (perf_counter);
    ``received_at``: the message's receipt (epoch seconds); ``laps``: its steps so far."""
    target = reply_target(job)
    if target is not None and target.s3 is not None:
        return False  # a synthesis task's output object is copied on the general path
    controls = pipeline.controls
    if controls.policy is not None and not controls.policy.check(item.text, item.tenant).allowed:
        return False
    quota_item = ahead.quota_item
    ahead.quota_item = None
    if controls.quotas is not None and quota_item is not None:
        try:
            controls.quotas.charge(quota_item, billed_chars)
        except Throttled:
            return False
    elif controls.quotas is not None:
        return False
    timings = {"plan_s": time.perf_counter() - started}
    event = completed_event(pipeline, job, hit.entry, "hit", timings, marks=hit.marks)
    assert isinstance(event, SynthesisCompleted)  # no output object to write (above)
    region = pipeline.settings.region_name
    laps.lap("check")
    try:
        with pipeline.jobs.transaction() as transaction:
            pipeline.jobs.create_finished(
                transaction, job, COMPLETED, json.loads(event.model_dump_json()), "hit"
            )
            if quota_item is not None:
                transaction.save(quota_item)  # on condition of the version read
            controls.record_whole(transaction, item, job, event, region)
    except TransactWriteError as error:
        if transaction_canceled(error):
            return False
        raise
    laps.lap("write")
    _send_both(pipeline, job, event, target)
    laps.lap("send")
    replied_at = laps.at
    after = [
        _CALLS.submit(pipeline.jobs.mark_terminal_sent, job),
        _CALLS.submit(pipeline.cache.count_hit, hit.entry),
    ]
    for call in after:
        call.result()
    pipeline.meter.count("CacheHits")
    requested_at = item.requested_at.timestamp() if item.requested_at else None
    record_hit(item.request_id, requested_at, received_at, timings["plan_s"], replied_at, laps=laps)
    return True


def _send_both(
    pipeline: Pipeline, job: Job, event: SynthesisCompleted, target: ReplyTo | None
) -> None:
    """The bus and the reply target at once (one round, not two). ``deliver`` never
    raises; a bus failure raises once the reply is done and marked on the job."""
    reply = _CALLS.submit(pipeline.publisher.deliver, event, target) if target else None
    try:
        pipeline.publisher.publish(event)
    except (PublishFailed, BotoCoreError, ClientError):
        if reply is not None:
            reply.result()
            pipeline.jobs.mark_reply_sent(job)
        raise
    if reply is not None:
        reply.result()


def record_hit(
    request_id: str,
    requested_at: float | None,
    received_at: float,
    plan_s: float,
    replied_at: float | None,
    *,
    laps: Laps | None = None,
) -> None:
    """The hit's timeline line (voxflow.pipeline.timeline); ``laps``: its steps, where
    they were taken (the hit answered at once)."""
    record(
        PLANNED,
        request_id,
        cache="hit",
        requested_at=requested_at,
        received_at=received_at,
        plan_s=plan_s,
        # Receipt to the reply's send: the service's own share of a hit's latency.
        service_s=replied_at - received_at if replied_at is not None else None,
        **(laps.fields() if laps is not None else {}),
    )
