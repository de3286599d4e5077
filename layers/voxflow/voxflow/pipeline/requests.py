"""The requests queue: one message holds one request or a batch of items."""

from voxflow.events import InvalidRequest, ItemRequest, parse_request
from voxflow.pipeline.context import Pipeline
from voxflow.pipeline.failures import error_code, fail_request, is_final
from voxflow.pipeline.plan import plan_item


def handle_request_message(
    body: str, message_id: str, receive_count: int, pipeline: Pipeline
) -> None:
    """Plan every item; raise only for errors worth a retry (the message then stays queued)."""
    try:
        request = parse_request(body)
    except InvalidRequest as error:
        # Unparseable bodies still get an id, stable across redeliveries of the message.
        fail_request(
            pipeline,
            error.request_id or f"sqs-{message_id}",
            error.code,
            str(error),
            tenant=error.tenant or "default",
            metadata=dict(error.metadata or {}),
            reply_to=error.reply_to,
        )
        return
    for item in request.expand():
        _plan_one(item, receive_count, pipeline)


def _plan_one(item: ItemRequest, receive_count: int, pipeline: Pipeline) -> None:
    try:
        plan_item(item, pipeline)
    except Exception as error:
        last_attempt = receive_count >= pipeline.settings.max_receive_count
        if not (is_final(error) or last_attempt):
            raise
        fail_request(
            pipeline,
            item.request_id,
            error_code(error),
            str(error) or type(error).__name__,
            tenant=item.tenant,
            metadata=dict(item.metadata),
            batch_id=item.batch_id,
            reply_to=item.reply_to,
            retryable=not is_final(error),
        )
        if not is_final(error):
            raise  # the last attempt still goes to the DLQ, for redrive
