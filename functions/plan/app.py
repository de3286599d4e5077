"""plan: SynthesisRequested messages from the requests queue → cache hit or chunk tasks."""

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.batch import process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from voxflow.config import PLAN, Config
from voxflow.heap import freeze_cold_start
from voxflow.pipeline.context import Pipeline
from voxflow.pipeline.powertools import (
    PowertoolsMeter,
    SqsBatchProcessor,
    queue_stamps,
    receive_count,
)
from voxflow.pipeline.requests import handle_request_message
from voxflow.pipeline.standby_looks import Invocation, QueuedRequest, first_deliveries_first
from voxflow.regions import first_seen_of

logger = Logger()
tracer = Tracer()
metrics = Metrics()
processor = SqsBatchProcessor(logger)
# Settings are validated here, once per cold start; AWS clients are built on first use.
config = Config.load(deployable=PLAN)
pipeline = Pipeline.of(config, PowertoolsMeter(metrics))
# Last of the cold start: its long-lived objects out of every full collection's walk.
freeze_cold_start(config)


invocation: Invocation | None = None  # this invocation's batch (pipeline.standby_looks)


def queued(record: SQSRecord) -> QueuedRequest:
    return QueuedRequest(
        record.message_id,
        record.body,
        first_seen=first_seen_of(record.raw_event.get("messageAttributes") or {}),
        # Who sent it: with the event's source, the request's tenant (pipeline.tenancy).
        sender_id=(record.raw_event.get("attributes") or {}).get("SenderId"),
    )


@tracer.capture_method
def record_handler(record: SQSRecord) -> None:
    request = queued(record)
    if invocation is not None and invocation.settled(request):
        return
    handle_request_message(
        request.body,
        request.message_id,
        receive_count(record),
        pipeline,
        first_seen=request.first_seen,
        sender_id=request.sender_id,
        jobs_read=invocation.jobs_read if invocation is not None else None,
        queue_stamps=queue_stamps(record),
    )


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    global invocation  # noqa: PLW0603 - one batch per invocation, as powertools hands records over
    event = {**event, "Records": first_deliveries_first(event.get("Records", []))}
    records = [queued(SQSRecord(raw)) for raw in event["Records"]]
    invocation = Invocation(records, pipeline, context.get_remaining_time_in_millis() / 1000)
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
