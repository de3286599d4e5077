"""Everything the pipeline works with, built once per cold start."""

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from voxflow.aws import AwsClients, AwsSettings
from voxflow.config import Config
from voxflow.engine import Engine
from voxflow.events import ChunkTask
from voxflow.lexicons.store import LexiconRepository, LexiconTable
from voxflow.pipeline.controls import Controls
from voxflow.pipeline.observe import Meter, NullMeter
from voxflow.pipeline.outputs import TaskOutputs
from voxflow.pipeline.publisher import (
    ENTRIES_PER_CALL,
    EventPublisher,
    PublishFailed,
    ReplyQueues,
)
from voxflow.pipeline.recent import RecentChunks
from voxflow.pipeline.reply_targets import ReplyTargetRules
from voxflow.regions import (
    PrimaryHealth,
    RegionConfig,
    Regions,
    StandbyQueue,
    peer_jobs,
    primary_health,
)
from voxflow.service_settings import ServiceSettings
from voxflow.settings import EngineSettings
from voxflow.store import AudioStore, CacheIndex, JobStore
from voxflow.store.claims import ChunkClaims
from voxflow.store.models import CacheEntry, Job, bind
from voxflow.voices import VoiceRegistry
from voxflow.voices.deployment import deployment_registry


def route_by_count(
    tasks: list[ChunkTask],
    short_url: str,
    long_url: str | None,
    short_job_chunks: int,
    *,
    recovery: bool = False,
    recovery_url: str | None = None,
    job_chunks: int | None = None,
) -> dict[str, list[ChunkTask]]:
    """Tasks by queue URL: a job with at most ``short_job_chunks`` chunks to make here goes
    to the short lane, one with more to the long lane (docs/pipeline.md); without a long
    lane, all short. The chunks to make, not the job's count: a long text whose other
    chunks are cached is one synthesis, and on the long lane it waited behind every long
    text (in the drill, medium texts with one chunk to make were the slowest new
    requests, 60 s). ``recovery``: work resumed for a job another worker or region left
    (a takeover, the sweeper) goes to the recovery lane whatever its size (the long lane
    where there is none), which is served after new work: after a failover the old
    owner's backlog (569 chunks in a drill of 200 requests) would otherwise stand in
    front of every new request of more than a few chunks. ``job_chunks``: the chunks
    the tasks' one job makes, where they go out in parts (voxflow.pipeline.shared_chunks)."""
    if recovery and recovery_url:
        return {recovery_url: list(tasks)} if tasks else {}
    to_make = Counter(task.request_id for task in tasks)
    lanes: dict[str, list[ChunkTask]] = {}
    for task in tasks:
        count = to_make[task.request_id] if job_chunks is None else job_chunks
        to_long = recovery or count > short_job_chunks
        url = long_url if long_url and to_long else short_url
        lanes.setdefault(url, []).append(task)
    return lanes


class ChunkQueue:
    """Where chunk tasks are sent: ChunksQueue, LongChunksQueue for long jobs, and
    RecoveryChunksQueue for work resumed after another region or worker left it."""

    def __init__(
        self,
        sqs: Any,
        queue_url: str,
        long_queue_url: str | None = None,
        short_job_chunks: int = 3,
        recovery_queue_url: str | None = None,
    ) -> None:
        self._sqs = sqs
        self.queue_url = queue_url
        self.long_queue_url = long_queue_url
        self.short_job_chunks = short_job_chunks
        self.recovery_queue_url = recovery_queue_url

    @classmethod
    def for_service(cls, sqs: Any, service: ServiceSettings) -> "ChunkQueue":
        return cls(
            sqs,
            service.chunks_queue_url,
            service.long_chunks_queue_url,
            service.short_job_chunks,
            service.recovery_chunks_queue_url,
        )

    def send(
        self,
        tasks: list[ChunkTask],
        delay_s: int = 0,
        *,
        recovery: bool = False,
        job_chunks: int | None = None,
    ) -> float | None:
        """Queue ``tasks``; returns when the first of them were queued (epoch seconds;
        None: none were), where the synthesizer can start (voxflow.pipeline.timeline).
        ``job_chunks``: as route_by_count's."""
        lanes = route_by_count(
            tasks,
            self.queue_url,
            self.long_queue_url,
            self.short_job_chunks,
            recovery=recovery,
            recovery_url=self.recovery_queue_url,
            job_chunks=job_chunks,
        )
        first_sent_at = None
        for queue_url, lane in lanes.items():
            sent_at = self._send(queue_url, lane, delay_s)
            first_sent_at = first_sent_at or sent_at
        return first_sent_at

    def _send(self, queue_url: str, tasks: list[ChunkTask], delay_s: int) -> float | None:
        first_sent_at = None
        for start in range(0, len(tasks), ENTRIES_PER_CALL):
            batch = tasks[start : start + ENTRIES_PER_CALL]
            response = self._sqs.send_message_batch(
                QueueUrl=queue_url,
                Entries=[
                    {
                        "Id": str(number),
                        "MessageBody": task.model_dump_json(),
                        # Quota delay mode: the tenant's tokens are there only later.
                        **({"DelaySeconds": delay_s} if delay_s else {}),
                    }
                    for number, task in enumerate(batch)
                ],
            )
            if response.get("Failed"):
                raise PublishFailed(f"chunk tasks not queued: {response['Failed']}")
            first_sent_at = first_sent_at or time.time()
        return first_sent_at


@dataclass
class Pipeline:
    settings: ServiceSettings
    engine_settings: EngineSettings
    registry: VoiceRegistry
    audio: AudioStore
    cache: CacheIndex
    jobs: JobStore
    publisher: EventPublisher
    chunk_queue: ChunkQueue
    meter: Meter = field(default_factory=NullMeter)
    recent: RecentChunks = field(default_factory=RecentChunks)
    # Standalone by default: no health check, no ownership check, no extra AWS call.
    regions: Regions = field(default_factory=Regions)
    # Quotas, content policy, audit, fallback audio: all off by default.
    controls: Controls = field(default_factory=Controls)
    # Where requests may have results sent; None: anywhere (a pipeline built by hand).
    reply_targets: ReplyTargetRules | None = None
    # Stored lexicons; None: there are none (a request naming one fails).
    lexicons: LexiconRepository | None = None
    # Requests' own output objects and topics (Polly's tasks); None: a request naming
    # an output object fails OUTPUT_WRITE_FAILED (a pipeline built by hand).
    outputs: TaskOutputs | None = None
    # Chunks being made here and the jobs waiting for them; None: every job queues each
    # chunk it lacks (a pipeline built by hand).
    chunk_claims: ChunkClaims | None = None
    _engine: Engine | None = None

    @property
    def engine(self) -> Engine:
        # Only the synthesize function loads a voice session; plan never does.
        if self._engine is None:
            self._engine = Engine(
                self.registry,
                self.engine_settings,
                on_load=lambda _voice, seconds: self.meter.seconds("VoiceLoad", seconds),
            )
        return self._engine

    @classmethod
    def of(cls, config: Config, meter: Meter | None = None) -> "Pipeline":
        """A function's pipeline, from its settings (checked at its cold start)."""
        return cls.create(
            ServiceSettings.of(config),
            EngineSettings.of(config),
            AwsSettings.of(config),
            RegionConfig.of(config),
            meter=meter,
            config=config,
        )

    @classmethod
    def create(
        cls,
        service: ServiceSettings,
        engine_settings: EngineSettings,
        aws: AwsSettings,
        region: RegionConfig,
        *,
        meter: Meter | None = None,
        registry: VoiceRegistry | None = None,
        health: PrimaryHealth | None = None,
        engine: Engine | None = None,
        config: Config | None = None,
    ) -> "Pipeline":
        """One deployment's pipeline; ``health`` replaces the alarm and ``engine`` shares
        a loaded voice (tests). The controls come from ``config``; without it, all off."""
        clients = AwsClients(aws)
        meter = meter or NullMeter()
        if registry is None:
            registry = deployment_registry(
                engine_settings,
                service.voices_table,
                dynamodb=clients.dynamodb,
                s3=clients.s3,
                bucket=service.bucket,
                on_download=lambda _voice, seconds: meter.seconds("VoiceDownload", seconds),
            )
        return cls(
            settings=service,
            engine_settings=engine_settings,
            registry=registry,
            audio=AudioStore.of(service, clients),
            cache=CacheIndex(
                bind(CacheEntry, service.cache_table, aws),
                service.cache_ttl_s,
                service.chunk_ttl_s,
                region=region.region,
            ),
            jobs=JobStore(
                bind(Job, service.jobs_table, aws), service.job_ttl_s, region=region.region
            ),
            publisher=EventPublisher(
                clients.events,
                clients.sqs,
                service.bus_name,
                replies=ReplyQueues(clients.sqs, region.region) if region.regional else None,
                meter=meter,
            ),
            chunk_queue=ChunkQueue.for_service(clients.sqs, service),
            meter=meter,
            regions=Regions(
                config=region,
                health=health or primary_health(region, aws),
                standby_queue=(
                    StandbyQueue(
                        clients.sqs,
                        region.standby_queue_url or region.requests_queue_url,
                        region.standby_retry_s,
                        region.standby_retry_max_s,
                    )
                    if region.requests_queue_url
                    else None
                ),
                requests_queue=(
                    StandbyQueue(clients.sqs, region.requests_queue_url, region.standby_retry_s)
                    if region.requests_queue_url and region.standby_queue_url
                    else None
                ),
                peer_jobs=peer_jobs(region, aws, service.jobs_table),
            ),
            controls=Controls.of(config, service, aws, clients) if config else Controls(),
            reply_targets=ReplyTargetRules.from_settings(service, region),
            lexicons=(
                LexiconTable(clients.dynamodb, service.lexicons_table)
                if service.lexicons_table
                else None
            ),
            outputs=TaskOutputs(
                clients.s3,
                lambda: clients.client("sns"),
                service.bucket,
                service.region_name,
                meter,
            ),
            chunk_claims=(
                ChunkClaims(clients.dynamodb, service.chunk_claims_table)
                if service.chunk_claims_table
                else None
            ),
            _engine=engine,
        )
