"""The HTTP API in this process, on moto server over HTTP: the real resolver behind a
real HTTP server (payload 2.0 events, voxflow_local.http_api), over a pipeline with real
stores, quotas, audit and tenant table, and the real voice with noise off (its audio is
then the engine's, bit for bit). The event path runs here too: plan, then the chunk
tasks plan queued, synthesized and assembled by the pipeline's own code."""

import contextlib
import json
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import numpy as np
from aws_lambda_powertools import Metrics
from botocore.config import Config
from plan_harness import Outbox, synthesize_queued

from voxflow.api.polly_lexicons import PollyLexicons
from voxflow.api.routes import Api, build_resolver
from voxflow.api.settings import ApiSettings
from voxflow.api.speech import SpeechService
from voxflow.api.streaming import stream_response
from voxflow.audio import join_pcm
from voxflow.audit import AuditLog, AuditSettings
from voxflow.audit.models import create_audit_table
from voxflow.aws import AwsClients, AwsSettings
from voxflow.console.metrics import ConsoleMetrics
from voxflow.console.queues import QueueDepths
from voxflow.engine import Engine
from voxflow.events import SynthesisRequested
from voxflow.lexicons.store import LexiconTable, create_lexicons_table
from voxflow.pipeline.context import ChunkQueue, Pipeline
from voxflow.pipeline.controls import Controls
from voxflow.pipeline.plan import plan_item
from voxflow.pipeline.powertools import PowertoolsMeter
from voxflow.pipeline.publisher import EventPublisher
from voxflow.quotas import QuotaSettings, TokenBucket, create_quotas_table
from voxflow.quotas.limits import TenantLimits
from voxflow.service_settings import ServiceSettings
from voxflow.settings import EngineSettings
from voxflow.store import AudioStore, CacheIndex, JobStore
from voxflow.store.models import CacheEntry, Job, bind
from voxflow.tenants import TenantTable, create_tenants_table
from voxflow.tenants.api_keys import ApiKeys
from voxflow.tenants.sigv4_keys import SigV4Keys
from voxflow.voices import VoiceRegistry
from voxflow_local.emf import EmfForwarder
from voxflow_local.http_api import Cors, HttpApiServer

SIGV4 = {"testing": "testing"}  # the local stack's documented dummy credentials
SMALL_TENANT = "tiny"  # a burst of 40 characters: the throttling tests' tenant


def quiet_registry(cache_dir: Path) -> VoiceRegistry:
    """joe with its noise at zero: deterministic audio, comparable byte for byte."""
    builtin = VoiceRegistry.default(cache_dir=cache_dir).get("joe")
    config = json.loads(builtin.config_path.read_text(encoding="utf-8"))
    config["inference"] = {**config.get("inference", {}), "noise_scale": 0.0, "noise_w": 0.0}
    quiet = cache_dir / "joe-quiet.onnx.json"
    quiet.write_text(json.dumps(config), encoding="utf-8")
    registry = VoiceRegistry(cache_dir)
    registry.add("joe", builtin.model_path, quiet)
    return registry


@dataclass
class ApiHarness:
    pipeline: Pipeline
    outbox: Outbox
    server: HttpApiServer
    keys: ApiKeys
    tenants: TenantTable
    audit: AuditLog
    clients: AwsClients
    sigv4_keys: SigV4Keys
    account: str  # moto's: what LexiconArn names
    api: Api  # what the server serves

    @property
    def url(self) -> str:
        return self.server.url

    def through_events(self, text: str, fmt: str, tenant: str = "default", **fields: Any) -> Job:
        """One request down the event path: plan, synthesize its chunks, assemble.
        ``fields``: more of the event contract's (speech_marks, lexicons...)."""
        request = SynthesisRequested.model_validate(
            {
                "request_id": uuid.uuid4().hex,
                "tenant": tenant,
                "text": text,
                "format": fmt,
                **fields,
            }
        )
        (item,) = request.expand()
        plan_item(item, self.pipeline)
        synthesize_queued(self.pipeline, self.outbox)
        job = self.pipeline.jobs.get(item.request_id)
        assert job is not None
        return job

    def polly(self, secret: str = "testing") -> Any:
        return polly_client(self.url, secret=secret)


def engine_pcm(engine: Engine, text: str, voice: str = "joe") -> np.ndarray:
    """The engine's own audio for ``text``, its chunks joined as the API joins them."""
    chunks = [chunk.pcm for chunk in engine.synthesize_text(text, voice)]
    return join_pcm(chunks, 22050, pause_s=0.2).astype(np.int16)


@contextlib.contextmanager
def serving(moto_url: str, registry: VoiceRegistry, engine: Engine) -> Iterator[ApiHarness]:
    """start_api's harness, its HTTP server stopped on the way out."""
    harness = start_api(moto_url, registry, engine)
    try:
        yield harness
    finally:
        harness.server.stop()


def start_api(
    moto_url: str,
    registry: VoiceRegistry,
    engine: Engine,
    watched_queues: dict[str, str] | None = None,
    cors_origins: tuple[str, ...] = (),
) -> ApiHarness:
    """``watched_queues``: label -> URL of queues on moto whose depths /v1/health shows;
    with them, the API reads CloudWatch (the ages, the hit ratio) as on AWS, and its
    metrics reach moto's CloudWatch as the local stack's runner puts them (EMF)."""
    aws = AwsSettings.local(moto_url)
    clients = AwsClients(aws)
    suffix = uuid.uuid4().hex[:8]
    service = ServiceSettings(
        bus_name="bus",
        chunks_queue_url="chunks",
        bucket=f"audio-{suffix}",
        cache_table=f"cache-{suffix}",
        jobs_table=f"jobs-{suffix}",
        region_name=aws.region,
        tenants_table=f"tenants-{suffix}",
        lexicons_table=f"lexicons-{suffix}",
    )
    clients.s3.create_bucket(Bucket=service.bucket)
    cache_model = bind(CacheEntry, service.cache_table, aws)
    jobs_model = bind(Job, service.jobs_table, aws)
    for model in (cache_model, jobs_model):
        model.create_table(billing_mode="PAY_PER_REQUEST", wait=True)
    create_tenants_table(clients.dynamodb, f"tenants-{suffix}")
    create_lexicons_table(clients.dynamodb, f"lexicons-{suffix}")
    lexicons = LexiconTable(clients.dynamodb, f"lexicons-{suffix}")
    create_quotas_table(clients.dynamodb, f"quotas-{suffix}")
    create_audit_table(clients.dynamodb, f"audit-{suffix}")
    quotas = TokenBucket.bound(
        QuotaSettings(f"quotas-{suffix}", tenants={SMALL_TENANT: TenantLimits(chars_burst=40)}),
        aws,
    )
    audit = AuditLog.bound(AuditSettings(f"audit-{suffix}"), aws)
    tenants = TenantTable(clients.dynamodb, f"tenants-{suffix}")
    outbox = Outbox()
    pipeline = Pipeline(
        settings=service,
        engine_settings=EngineSettings(),
        registry=registry,
        audio=AudioStore(clients.s3, service.bucket, service.url_expiry_s),
        cache=CacheIndex(cache_model, service.cache_ttl_s, service.chunk_ttl_s),
        jobs=JobStore(jobs_model, service.job_ttl_s),
        publisher=EventPublisher(outbox, outbox, service.bus_name),
        chunk_queue=ChunkQueue(outbox, service.chunks_queue_url),
        controls=Controls(quotas=quotas, audit=audit, tenants=tenants),
        lexicons=lexicons,
        _engine=engine,
    )
    account = clients.client("sts").get_caller_identity()["Account"]
    emitted = Metrics(namespace="voxflow", service="voxflow")
    if watched_queues:
        pipeline.meter = PowertoolsMeter(emitted)
    settings = ApiSettings(sigv4_credentials=dict(SIGV4), account_id=account)
    sigv4_keys = SigV4Keys(
        clients.dynamodb,
        clients.client("secretsmanager"),
        tenants.table,
        f"api-{suffix}/api-sigv4/",
    )
    keys = ApiKeys(clients.dynamodb, f"tenants-{suffix}")
    queues = QueueDepths(clients.sqs, watched_queues) if watched_queues else None
    api = Api(
        SpeechService(pipeline, settings.sync_max_chars),
        settings,
        keys,
        tenants,
        lexicons=PollyLexicons(lexicons, service.region_name, account),
        queues=queues,
        sigv4_keys=sigv4_keys,
        metrics=ConsoleMetrics(clients.cloudwatch, watched_queues) if watched_queues else None,
    )
    resolver = build_resolver(api)
    forwarder, flushing = EmfForwarder(clients.cloudwatch), threading.Lock()

    def flush_metrics() -> None:
        # What the handler's @metrics.log_metrics prints after each invocation, and the
        # runner hands to CloudWatch (voxflow_local.emf).
        if not watched_queues:  # the meter is the pipeline's NullMeter: nothing to put
            return
        with flushing:
            if emitted.metric_set:
                forwarder.line(json.dumps(emitted.serialize_metric_set()))
                emitted.clear_metrics()

    def invoke(event: dict[str, Any]) -> Any:
        try:
            return resolver.resolve(event, None)  # type: ignore[arg-type]
        finally:
            flush_metrics()

    def stream(event: dict[str, Any]) -> Any:
        try:
            return stream_response(api, event)
        finally:
            flush_metrics()

    cors = Cors(cors_origins) if cors_origins else None  # the console site's origin
    server = HttpApiServer(invoke, stream=stream, cors=cors).start()
    return ApiHarness(
        pipeline, outbox, server, keys, tenants, audit, clients, sigv4_keys, account, api
    )


def polly_client(
    endpoint_url: str,
    *,
    region: str = "us-east-1",
    secret: str = "testing",
    access_key_id: str = "testing",
) -> Any:
    """boto3's own Polly client pointed at the API, with the test credentials (a wrong
    ``secret`` signs requests the API must refuse) and no retries to hide an error."""
    return boto3.client(
        "polly",
        endpoint_url=endpoint_url,
        region_name=region,
        aws_access_key_id=access_key_id,
        aws_secret_access_key=secret,
        config=Config(retries={"max_attempts": 1}),
    )
