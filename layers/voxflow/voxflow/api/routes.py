"""The routes, on powertools' APIGatewayHttpResolver (API Gateway payload 2.0): Polly's
signed with SigV4 (checked here), OpenAI's under bearer API keys; both over one
SpeechService."""

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response

from voxflow.api import buffered, openai, polly
from voxflow.api.openai import OpenAIError
from voxflow.api.polly import PollyError
from voxflow.api.polly_auth import signed_tenant, sigv4_keys_of
from voxflow.api.polly_contract import PollyContract, polly_contract
from voxflow.api.polly_lexicons import PollyLexicons
from voxflow.api.polly_tasks import PollyTasks, tasks_of
from voxflow.api.settings import ApiSettings
from voxflow.api.speech import Speech, SpeechService
from voxflow.aws import AwsClients, AwsSettings
from voxflow.config import Config
from voxflow.config import variables as env
from voxflow.console import asset, regions_health
from voxflow.console.assets import INDEX
from voxflow.console.metrics import ConsoleMetrics
from voxflow.console.queues import QueueDepths
from voxflow.errors import VoxflowError
from voxflow.lexicons.store import LexiconTable
from voxflow.pipeline.context import Pipeline
from voxflow.pipeline.observe import Meter
from voxflow.tenants import TenantDirectory
from voxflow.tenants.api_keys import ApiKeys, key_hash
from voxflow.tenants.sigv4_keys import SigV4Keys
from voxflow.ttl_cache import TtlCache

_JSON = "application/json"
CACHE_HEADER = "x-voxflow-cache"  # "hit" or "miss"
TIMING_HEADER = "Server-Timing"  # the W3C header; browsers' devtools draw it


@dataclass
class Api:
    speech: SpeechService
    settings: ApiSettings
    keys: ApiKeys | None = None
    # A settings access key (the local stack's) -> tenant (`voxflow tenants bind`).
    tenants: TenantDirectory | None = None
    lexicons: PollyLexicons = field(default_factory=lambda: PollyLexicons(None, ""))
    queues: QueueDepths | None = None  # the stack's queues, for GET /v1/health
    metrics: ConsoleMetrics | None = None  # their oldest messages' ages, the hit ratio
    contract: PollyContract = field(default_factory=polly_contract)
    tasks: PollyTasks | None = None  # None: the task routes answer ServiceFailureException

    # Keys `voxflow keys create --sigv4` issues: what signs Polly's routes on AWS.
    sigv4_keys: SigV4Keys | None = None
    # Who each key is, for settings.auth_cache_s (0 unless settings say: read each time).
    auth: TtlCache = field(default_factory=lambda: TtlCache(0))

    def polly_tenant(self, event: dict[str, Any], body: bytes) -> str:
        return signed_tenant(
            event,
            body,
            self.settings.sigv4_credentials,
            self.sigv4_keys,
            self.tenants,
            known=self.auth,
        )

    def task_routes(self) -> PollyTasks:
        if self.tasks is None:
            raise PollyError("ServiceFailureException", "this deployment keeps no synthesis tasks")
        return self.tasks

    def openai_tenant(self, headers: dict[str, str]) -> str:
        scheme, _, key = (headers.get("authorization") or "").partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            raise OpenAIError(
                401,
                "You didn't provide an API key: Authorization: Bearer <key>.",
                code="missing_api_key",
            )
        keys = self.keys
        check = (
            self.auth.get(
                ("apikey", key_hash(key.strip())),
                lambda: keys.check(key.strip()),
                keep=lambda found: found.tenant is not None or found.revoked,
            )
            if keys is not None
            else None
        )
        if check is not None and check.revoked:
            raise OpenAIError(
                403,
                "This API key has been revoked.",
                type="invalid_request_error",
                code="api_key_revoked",
            )
        if check is None or check.tenant is None:
            raise OpenAIError(401, "Incorrect API key provided.", code="invalid_api_key")
        return check.tenant


def build_resolver(api: Api) -> APIGatewayHttpResolver:
    app = APIGatewayHttpResolver()

    body = partial(_request_body, app)

    @app.post("/v1/speech")
    def synthesize_speech() -> Response[bytes]:
        payload = body()
        tenant = api.polly_tenant(app.current_event.raw_event, payload)
        request = polly.parse_synthesize(
            payload, tenant, api.contract, api.speech.pipeline.registry
        )
        try:
            speech = api.speech.speak(request.request)
        except VoxflowError as error:
            raise polly.error_of(error) from None
        audio, headers = polly.synthesize_response(speech, request)
        buffered.check_polly(audio)
        content_type = headers.pop("Content-Type")
        return Response(200, content_type, audio, headers={**headers, **speech_headers(speech)})

    @app.get("/v1/voices")
    def describe_voices() -> Response[str]:
        api.polly_tenant(app.current_event.raw_event, body())
        query = app.current_event.query_string_parameters or {}
        document = polly.describe_voices(api.speech.pipeline.registry, api.contract, query)
        return Response(200, _JSON, json.dumps(document))

    @app.put("/v1/lexicons/<name>")
    def put_lexicon(name: str) -> Response[str]:
        payload = body()
        api.polly_tenant(app.current_event.raw_event, payload)
        return _polly_json(api.lexicons.put(name, payload))

    @app.get("/v1/lexicons/<name>")
    def get_lexicon(name: str) -> Response[str]:
        api.polly_tenant(app.current_event.raw_event, body())
        return _polly_json(api.lexicons.get(name))

    @app.get("/v1/lexicons")
    def list_lexicons() -> Response[str]:
        api.polly_tenant(app.current_event.raw_event, body())
        query = app.current_event.query_string_parameters or {}
        return _polly_json(api.lexicons.list(query.get("NextToken")))

    @app.delete("/v1/lexicons/<name>")
    def delete_lexicon(name: str) -> Response[str]:
        api.polly_tenant(app.current_event.raw_event, body())
        return _polly_json(api.lexicons.delete(name))

    _add_task_routes(app, api, body)

    @app.post("/v1/audio/speech")
    def create_speech() -> Response[bytes | str]:
        tenant = api.openai_tenant(app.current_event.headers)
        request = openai.parse_speech(
            body(), tenant, api.speech.pipeline.registry, api.settings.default_voice
        )
        try:
            speech = api.speech.speak(request.request)
        except VoxflowError as error:
            raise openai.error_of(error) from None
        audio, content_type = openai.speech_response(speech, request)
        buffered.check_openai(audio)
        return Response(200, content_type, audio, headers=speech_headers(speech))

    @app.get("/v1/models")
    def list_models() -> Response[str]:
        api.openai_tenant(app.current_event.headers)
        return Response(200, _JSON, json.dumps(openai.models(api.speech.pipeline.registry)))

    @app.get("/v1/audio/voices")
    def list_voices() -> Response[str]:
        api.openai_tenant(app.current_event.headers)
        return Response(200, _JSON, json.dumps(openai.voices(api.speech.pipeline.registry)))

    # The web console (docs/console.md): its files, and the health it polls, under the key.
    @app.get("/console")
    def console_page() -> Response[str]:
        return _console_file(INDEX)

    @app.get("/console/<name>")
    def console_file(name: str) -> Response[str]:
        return _console_file(name)

    @app.get("/v1/health")
    def health() -> Response[str]:
        api.openai_tenant(app.current_event.headers)
        document = _health(api)
        return Response(200, _JSON, json.dumps(document), headers={"Cache-Control": "no-store"})

    @app.exception_handler(PollyError)  # type: ignore[untyped-decorator]
    def polly_error(error: PollyError) -> Response[str]:
        status, headers, document = polly_error_response(api, error)
        content_type = headers.pop("Content-Type")
        return Response(status, content_type, json.dumps(document), headers=headers)

    @app.exception_handler(OpenAIError)  # type: ignore[untyped-decorator]
    def openai_error(error: OpenAIError) -> Response[str]:
        return Response(error.status, _JSON, json.dumps(error.document()))

    return app


def _request_body(app: APIGatewayHttpResolver) -> bytes:
    raw = app.current_event.raw_event
    data = raw.get("body") or ""
    return base64.b64decode(data) if raw.get("isBase64Encoded") else data.encode("utf-8")


def _add_task_routes(app: APIGatewayHttpResolver, api: Api, body: Callable[[], bytes]) -> None:
    """Polly's synthesis task routes (voxflow.api.polly_tasks), under SigV4 like the rest."""

    @app.post("/v1/synthesisTasks")
    def start_task() -> Response[str]:
        payload = body()
        tenant = api.polly_tenant(app.current_event.raw_event, payload)
        registry = api.speech.pipeline.registry
        return _polly_json(api.task_routes().start(payload, tenant, api.contract, registry))

    @app.get("/v1/synthesisTasks/<task_id>")
    def get_task(task_id: str) -> Response[str]:
        tenant = api.polly_tenant(app.current_event.raw_event, body())
        return _polly_json(api.task_routes().get(task_id, tenant, api.contract))

    @app.get("/v1/synthesisTasks")
    def list_tasks() -> Response[str]:
        tenant = api.polly_tenant(app.current_event.raw_event, body())
        query = app.current_event.query_string_parameters or {}
        return _polly_json(api.task_routes().list(tenant, query, api.contract))


def _health(api: Api) -> dict[str, Any]:
    """The regions, the queues (depths, and ages from CloudWatch) and the hit ratio."""
    document = regions_health(api.speech.pipeline.regions)
    document["queues"] = api.queues.read() if api.queues is not None else []
    if api.metrics is not None:
        document.update(api.metrics.annotate(document["queues"]))
    return document


def _console_file(name: str) -> Response[str]:
    found = asset(name)
    if found is None:
        return Response(404, _JSON, json.dumps({"message": "Not Found"}))
    return Response(200, found.content_type, found.body, headers=found.headers)


def polly_error_response(api: Api, error: PollyError) -> tuple[int, dict[str, str], dict[str, Any]]:
    """Polly's error shape: the modeled status, ``x-amzn-ErrorType`` and ``{"message"}``."""
    headers = {"Content-Type": _JSON, "x-amzn-ErrorType": error.code}
    return api.contract.status_of(error.code), headers, {"message": error.message}


def _polly_json(document: dict[str, Any]) -> Response[str]:
    return Response(200, _JSON, json.dumps(document))


def speech_headers(speech: Speech) -> dict[str, str]:
    # Whether the answer came from the cache, and where the time went: for callers
    # measuring, and the console. Same origin as the console: no CORS exposure needed.
    timings = ", ".join(f"{name};dur={ms:.1f}" for name, ms in speech.timings_ms.items())
    return {CACHE_HEADER: speech.cache, TIMING_HEADER: timings}


def api_of(config: Config, meter: Meter | None = None) -> Api:
    """The API the handler serves, from the function's settings."""
    pipeline = Pipeline.of(config, meter)
    settings = ApiSettings.of(config)
    table = pipeline.settings.tenants_table
    clients = AwsClients(AwsSettings.of(config))
    keys = ApiKeys(clients.dynamodb, table) if table else None
    speech = SpeechService(pipeline, settings.sync_max_chars)
    lexicons_table = pipeline.settings.lexicons_table
    lexicons = PollyLexicons(
        LexiconTable(clients.dynamodb, lexicons_table) if lexicons_table else None,
        pipeline.settings.region_name,
        settings.account_id,
    )
    watched = settings.watched_queues
    queues = QueueDepths(clients.sqs, watched) if watched else None
    metrics = ConsoleMetrics(clients.cloudwatch, watched, config[env.POWERTOOLS_SERVICE_NAME])
    sigv4_keys = sigv4_keys_of(clients, table or "", settings.sigv4_secret_prefix)
    return Api(
        speech,
        settings,
        keys,
        pipeline.controls.tenants,
        lexicons=lexicons,
        queues=queues,
        tasks=tasks_of(pipeline, clients, settings.tasks_table),
        sigv4_keys=sigv4_keys,
        metrics=metrics,
        auth=TtlCache(settings.auth_cache_s),
    )


def resolver_of(config: Config, meter: Meter | None = None) -> APIGatewayHttpResolver:
    """The resolver the handler serves, from the function's settings."""
    return build_resolver(api_of(config, meter))
