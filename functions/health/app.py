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

logger = Logger()
# Settings are validated here, once per cold start; AWS clients are built on first use.
canary = Canary.of(Config.load(deployable=HEALTH))


@logger.inject_lambda_context
def handler(_event: dict[str, Any], _context: LambdaContext) -> dict[str, Any]:
    result = canary.run().to_dict()
    if result["success"]:
        logger.info("canary succeeded", extra=result)
    else:
        logger.warning("canary failed", extra=result)
    return result
