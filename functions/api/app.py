"""api: Polly- and OpenAI-compatible HTTP routes (API Gateway HTTP API, payload 2.0)
over the event path's cache, keys and controls (docs/api.md)."""

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from voxflow.api.principal import principal_of
from voxflow.api.routes import api_of, build_resolver
from voxflow.api.streaming import StreamedResponse, flushed_after, stream_response
from voxflow.config import API, Config
from voxflow.heap import freeze_cold_start
from voxflow.pipeline.powertools import PowertoolsMeter

logger = Logger()
tracer = Tracer()
metrics = Metrics()
# Settings are validated here, once per cold start; AWS clients are built on first use.
config = Config.load(deployable=API)
api = api_of(config, PowertoolsMeter(metrics))
app = build_resolver(api)
# Last of the cold start: its long-lived objects out of every full collection's walk.
freeze_cold_start(config)


# The event is never logged: it holds the request's text.
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # The access line API Gateway's own cannot have (docs/api.md): who, under the
    # request id ($context.requestId is the correlation id); never the text.
    principal, route = principal_of(event.get("headers") or {}), event.get("routeKey")
    logger.append_keys(principal=principal)
    answer = app.resolve(event, context)
    logger.info("access", route=route, status=answer.get("statusCode"))
    return answer


def stream(event: dict[str, Any]) -> StreamedResponse | None:
    """The speech routes answered chunk by chunk, for a server that can write a chunked
    body (the local API server); None: answer through ``handler``. Its metrics are
    published when the body ends, not left for the next call's flush."""
    return flushed_after(stream_response(api, event), flush_metrics)


def flush_metrics() -> None:
    if metrics.metric_set:  # else powertools warns of an empty flush
        metrics.flush_metrics()
