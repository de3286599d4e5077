"""Everything the pipeline works with, built once per cold start."""

from dataclasses import dataclass, field
from typing import Any

from voxflow.aws import AwsClients, AwsSettings
from voxflow.engine import Engine
from voxflow.events import ChunkTask
from voxflow.pipeline.observe import Meter, NullMeter
from voxflow.pipeline.publisher import EventPublisher, PublishFailed
from voxflow.pipeline.recent import RecentChunks
from voxflow.service_settings import ServiceSettings
from voxflow.settings import EngineSettings
from voxflow.store import AudioStore, CacheIndex, JobStore
from voxflow.store.models import CacheEntry, Job, bind
from voxflow.voices import VoiceRegistry

_SQS_BATCH = 10


class ChunkQueue:
    def __init__(self, sqs: Any, queue_url: str) -> None:
        self._sqs = sqs
        self.queue_url = queue_url

    def send(self, tasks: list[ChunkTask]) -> None:
        for start in range(0, len(tasks), _SQS_BATCH):
            batch = tasks[start : start + _SQS_BATCH]
            response = self._sqs.send_message_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(number), "MessageBody": task.model_dump_json()}
                    for number, task in enumerate(batch)
                ],
            )
            if response.get("Failed"):
                raise PublishFailed(f"chunk tasks not queued: {response['Failed']}")


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
    _engine: Engine | None = None

    @property
    def engine(self) -> Engine:
        # Only the synthesize function loads a voice session; plan never does.
        if self._engine is None:
            self._engine = Engine(self.registry, self.engine_settings)
        return self._engine

    @classmethod
    def from_env(cls, meter: Meter | None = None) -> "Pipeline":
        service = ServiceSettings.from_env()
        engine_settings = EngineSettings.from_env()
        aws = AwsSettings.from_env()
        clients = AwsClients(aws)
        registry = VoiceRegistry.default(engine_settings.voices_file, engine_settings.cache_dir)
        return cls(
            settings=service,
            engine_settings=engine_settings,
            registry=registry,
            audio=AudioStore(clients.s3, service.bucket, service.url_expiry_s),
            cache=CacheIndex(
                bind(CacheEntry, service.cache_table, aws),
                service.cache_ttl_s,
                service.chunk_ttl_s,
            ),
            jobs=JobStore(bind(Job, service.jobs_table, aws), service.job_ttl_s),
            publisher=EventPublisher(clients.events, clients.sqs, service.bus_name),
            chunk_queue=ChunkQueue(clients.sqs, service.chunks_queue_url),
            meter=meter or NullMeter(),
        )
