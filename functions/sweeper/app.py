"""sweeper: on a schedule, finish, re-queue or fail jobs left pending (voxflow.ops.sweeper)."""

import os
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.typing import LambdaContext

from voxflow.aws import AwsSettings
from voxflow.ops.sweeper import DEFAULT_OLDER_THAN_S, sweeper_for
from voxflow.pipeline.context import Pipeline
from voxflow.pipeline.powertools import PowertoolsMeter

logger = Logger()
metrics = Metrics()
sweeper = sweeper_for(Pipeline.from_env(PowertoolsMeter(metrics)), AwsSettings.from_env())
OLDER_THAN_S = float(os.environ.get("VOXFLOW_SWEEP_OLDER_THAN_S", DEFAULT_OLDER_THAN_S))


@logger.inject_lambda_context
@metrics.log_metrics
def handler(_event: dict[str, Any], _context: LambdaContext) -> dict[str, object]:
    report = sweeper.sweep(OLDER_THAN_S).as_dict()
    logger.info("swept", extra=report)
    return report
