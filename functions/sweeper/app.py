"""sweeper: on a schedule, finish, re-queue or fail jobs left pending (voxflow.ops.sweeper)."""

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.typing import LambdaContext

from voxflow.aws import AwsSettings
from voxflow.config import SWEEPER, Config
from voxflow.config import variables as env
from voxflow.heap import freeze_cold_start
from voxflow.ops.sweeper import sweeper_for
from voxflow.pipeline.context import Pipeline
from voxflow.pipeline.powertools import PowertoolsMeter

logger = Logger()
metrics = Metrics()
# Settings are validated here, once per cold start; AWS clients are built on first use.
config = Config.load(deployable=SWEEPER)
sweeper = sweeper_for(Pipeline.of(config, PowertoolsMeter(metrics)), AwsSettings.of(config))
OLDER_THAN_S = config[env.SWEEP_OLDER_THAN_S]
# Last of the cold start: its long-lived objects out of every full collection's walk.
freeze_cold_start(config)


@logger.inject_lambda_context
@metrics.log_metrics
def handler(_event: dict[str, Any], _context: LambdaContext) -> dict[str, object]:
    report = sweeper.sweep(OLDER_THAN_S).as_dict()
    logger.info("swept", extra=report)
    return report
