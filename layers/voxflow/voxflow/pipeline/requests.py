"""The requests queue: one message holds one request or a batch of items."""

import time
from collections.abc import Mapping

from voxflow.events import InvalidRequest, ItemRequest
from voxflow.pipeline.context import Pipeline
from voxflow.pipeline.failures import error_code, fail_request, is_final
from voxflow.pipeline.identity import item_fingerprint
from voxflow.pipeline.plan import plan_item
from voxflow.pipeline.reply_targets import parse_checked
from voxflow.pipeline.tenancy import identify
from voxflow.pipeline.timeline import Laps
from voxflow.regions import Decision
from voxflow.store import Job


def handle_request_message(
    body: str,
    message_id: str,
    receive_count: int,
    pipeline: Pipeline,
    *,
    first_seen: float | None = None,
    sender_id: str | None = None,
    jobs_read: Mapping[str, Job] | None = None,
    queue_stamps: dict[str, float] | None = None,
) -> list[Decision]:
    """Plan every item; raise only for errors worth a retry (the message then stays queued).

    ``first_seen``: when this region first saw the request (the standby attribute; None
    for a first delivery). A request another region works on (standby) is sent again
    with a delay, once per message, and this message succeeds. Returns each item's
    decision. ``sender_id``: the record's SQS SenderId, which with the envelope's source
    says which tenant sent it (voxflow.pipeline.tenancy). ``jobs_read``: jobs this
    invocation read already (voxflow.pipeline.standby_looks), used instead of a read.
    ``queue_stamps``: the message's SQS timestamps, for the timeline
    (voxflow.pipeline.timeline.Laps).
    """
    now = time.time()
    first_seen = now if first_seen is None else first_seen
    expired = pipeline.regions.standby_expired(first_seen, now)
    laps = Laps(now, stamps=dict(queue_stamps or {}))
    sender = identify(body, sender_id, pipeline.controls.tenants)
    laps.lap("tenant")
    try:
        # A body without its own request_id takes one that every redelivery shares.
        parsed = parse_checked(
            lambda: sender.parse(body, default_request_id=f"sqs-{message_id}"),
            pipeline.reply_targets,
        )
    except InvalidRequest as error:
        # Unparseable bodies still get an id, stable across redeliveries of the message.
        decisions = [
            fail_request(
                pipeline,
                error.request_id or f"sqs-{message_id}",
                error.code,
                str(error),
                tenant=error.tenant or "default",
                metadata=dict(error.metadata or {}),
                reply_to=error.reply_to,
                standby_expired=expired,
            )
        ]
    else:
        # A batch's invalid items fail one by one; its valid items are planned.
        decisions = [
            fail_request(
                pipeline,
                str(rejected.request_id),
                rejected.code,
                str(rejected),
                tenant=rejected.tenant or "default",
                batch_id=parsed.batch_id,
                reply_to=rejected.reply_to,
                standby_expired=expired,
            )
            for rejected in parsed.rejected
        ]
        items = parsed.request.expand() if parsed.request is not None else []
        laps.lap("parse")
        waited_s = now - first_seen
        decisions += [
            _plan_one(
                item,
                receive_count,
                pipeline,
                standby_expired=expired,
                received_at=now,
                waited_s=waited_s,
                job_read=(jobs_read or {}).get(item.request_id) if waited_s > 0 else None,
                laps=laps,
            )
            for item in items
        ]
    if Decision.STANDBY in decisions:
        pipeline.regions.send_to_standby(sender.vouched(body), first_seen)
        pipeline.meter.count("RequestsOnStandby")
    return decisions


def _plan_one(
    item: ItemRequest,
    receive_count: int,
    pipeline: Pipeline,
    *,
    standby_expired: bool,
    received_at: float,
    waited_s: float,
    job_read: Job | None,
    laps: Laps,
) -> Decision:
    try:
        return plan_item(
            item,
            pipeline,
            standby_expired=standby_expired,
            received_at=received_at,
            waited_s=waited_s,
            job_read=job_read,
            laps=laps,
        )
    except Exception as error:
        last_attempt = receive_count >= pipeline.settings.max_receive_count
        if not (is_final(error) or last_attempt):
            raise
        decision = fail_request(
            pipeline,
            item.request_id,
            error_code(error),
            str(error) or type(error).__name__,
            tenant=item.tenant,
            metadata=dict(item.metadata),
            batch_id=item.batch_id,
            reply_to=item.reply_to,
            retryable=not is_final(error),
            fingerprint=item_fingerprint(item),
            standby_expired=standby_expired,
        )
        if not is_final(error) and decision is not Decision.STANDBY:
            raise  # the last attempt still goes to the DLQ, for redrive
        return decision
