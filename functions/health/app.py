"""health: every minute in the primary, one real request through the region's own pipeline.

Publishes a canary SynthesisRequested with a never-spoken phrase to this region's
bus, waits for its job to end, and puts CanarySuccess and CanaryLatency
(namespace voxflow, dimension Region) for the health alarm. The metrics go out
through PutMetricData (voxflow.health.canary), not Powertools' EMF, so their
dimensions are exactly the alarm's; the Logger reports each run.
"""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from voxflow.config import HEALTH, Config
from voxflow.health import Canary
from voxflow.heap import freeze_cold_start

logger = Logger()
# Settings are validated here, once per cold start; AWS clients are built on first use.
config = Config.load(deployable=HEALTH)
canary = Canary.of(config)
# Last of the cold start: its long-lived objects out of every full collection's walk.
freeze_cold_start(config)


@logger.inject_lambda_context
def handler(_event: dict[str, Any], _context: LambdaContext) -> dict[str, Any]:
    result = canary.run().to_dict()
    if result["success"]:
        logger.info("canary succeeded", extra=result)
    else:
        logger.warning("canary failed", extra=result)
    return result
