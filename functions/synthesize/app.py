"""synthesize: chunk tasks → audio in S3 → job progress → ChunkSynthesized; the last assembles."""

from functools import partial
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.batch import process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from voxflow.config import SYNTHESIZE, Config
from voxflow.events import MalformedChunkTask, parse_chunk_task
from voxflow.heap import freeze_cold_start
from voxflow.pipeline.chunks import BatchSynthesis, complete_chunk
from voxflow.pipeline.context import Pipeline
from voxflow.pipeline.powertools import PowertoolsMeter, SqsBatchProcessor, receive_count
from voxflow.voices import BUILTIN_VOICE_ID

logger = Logger()
tracer = Tracer()
metrics = Metrics()
processor = SqsBatchProcessor(logger)
config = Config.load(deployable=SYNTHESIZE)
pipeline = Pipeline.of(config, PowertoolsMeter(metrics))
# Load the voice during the cold start, not inside the first batch's time budget.
pipeline.engine.warm_up(BUILTIN_VOICE_ID)
# Last of the cold start: its long-lived objects out of every full collection's walk.
freeze_cold_start(config)


@tracer.capture_method
def record_handler(batch: BatchSynthesis, record: SQSRecord) -> None:
    task = parse_chunk_task(record.body)
    complete_chunk(task, batch, receive_count(record), pipeline)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    tasks = []
    for record in event["Records"]:
        try:
            tasks.append(parse_chunk_task(record["body"]))
        except MalformedChunkTask as error:
            logger.error(
                "malformed chunk task",
                extra={"message_id": record["messageId"], "errors": str(error)},
            )
    batch = BatchSynthesis(tasks, pipeline)
    try:
        return process_partial_response(
            event=event,
            record_handler=partial(record_handler, batch),
            processor=processor,
            context=context,
        )
    finally:
        batch.close()
