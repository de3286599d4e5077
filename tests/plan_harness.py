"""plan in this process, on moto server over HTTP: real stores, quotas and voice registry.

What plan sends out (chunk tasks, events, replies) goes to an ``Outbox`` that keeps it,
so a test sees the jobs, keys and charges plan made without running synthesis.
"""

import io
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from voxflow.audit import AuditLog
from voxflow.aws import AwsSettings
from voxflow.events import ChunkTask, SynthesisRequested
from voxflow.pipeline.chunks import BatchSynthesis, complete_chunk
from voxflow.pipeline.context import ChunkQueue, Pipeline
from voxflow.pipeline.controls import Controls
from voxflow.pipeline.plan import plan_item
from voxflow.pipeline.publisher import EventPublisher
from voxflow.quotas import TokenBucket
from voxflow.service_settings import CacheIsolation, ServiceSettings
from voxflow.settings import EngineSettings
from voxflow.store import AudioStore, CacheIndex, JobStore
from voxflow.store.claims import ChunkClaims
from voxflow.store.models import CacheEntry, Job, bind
from voxflow.voices import VoiceRegistry

CHUNK_LANES = ("chunks", "long-chunks")


@dataclass
class Outbox:
    """Stands in for the SQS, EventBridge and S3 clients plan sends through."""

    events: list[dict[str, Any]] = field(default_factory=list)
    tasks: list[ChunkTask] = field(default_factory=list)
    objects: dict[str, bytes] = field(default_factory=dict)  # S3, by key
    puts: list[int] = field(default_factory=list)  # entries in each PutEvents call
    batches: list[int] = field(default_factory=list)  # entries in each reply batch
    lanes: list[str] = field(default_factory=list)  # the queue of each task ever queued

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:  # noqa: N803
        self.puts.append(len(Entries))
        self.events.extend(Entries)
        return {"FailedEntryCount": 0, "Entries": [{"EventId": "e"} for _ in Entries]}

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:  # noqa: N803
        if QueueUrl not in CHUNK_LANES:  # a reply queue
            self.batches.append(len(Entries))
            self.events.extend(
                {"QueueUrl": QueueUrl, **json.loads(e["MessageBody"])} for e in Entries
            )
            return {"Successful": [{"Id": e["Id"]} for e in Entries], "Failed": []}
        self.tasks.extend(ChunkTask.model_validate_json(e["MessageBody"]) for e in Entries)
        self.lanes.extend(QueueUrl for _ in Entries)
        return {"Successful": [{"Id": e["Id"]} for e in Entries], "Failed": []}

    def send_message(self, QueueUrl: str, MessageBody: str, **_: Any) -> dict[str, Any]:  # noqa: N803
        self.events.append({"QueueUrl": QueueUrl, **json.loads(MessageBody)})
        return {"MessageId": "m"}

    def generate_presigned_url(self, *_: Any, **__: Any) -> str:
        return "https://bucket.example/audio"

    def put_object(self, Key: str, Body: bytes, **_: Any) -> dict[str, Any]:  # noqa: N803
        self.objects[Key] = Body
        return {}

    def get_object(self, Key: str, **_: Any) -> dict[str, Any]:  # noqa: N803
        return {"Body": io.BytesIO(self.objects[Key])}

    def details(self, detail_type: str) -> list[dict[str, Any]]:
        return [
            json.loads(entry["Detail"])
            for entry in self.events
            if entry.get("DetailType") == detail_type
        ]


def synthesize_queued(pipeline: Pipeline, outbox: Outbox) -> None:
    """What the synthesize function does with the chunk tasks plan queued: one batch."""
    tasks, outbox.tasks = outbox.tasks, []
    batch = BatchSynthesis(tasks, pipeline)
    for task in tasks:
        complete_chunk(task, batch, 1, pipeline)


@dataclass
class PlanHarness:
    pipeline: Pipeline
    outbox: Outbox

    def plan(self, text: str, tenant: str = "acme", **fields: Any) -> Job:
        """Plans one request; returns its job as stored."""
        request = SynthesisRequested.model_validate(
            {"request_id": uuid.uuid4().hex, "tenant": tenant, "text": text, **fields}
        )
        (item,) = request.expand()
        plan_item(item, self.pipeline)
        job = self.pipeline.jobs.get(item.request_id)
        assert job is not None
        return job

    def synthesize_all(self) -> None:
        synthesize_queued(self.pipeline, self.outbox)


def plan_harness(
    moto_url: str,
    registry: VoiceRegistry,
    *,
    quotas: TokenBucket | None = None,
    audit: AuditLog | None = None,
    cache_isolation: CacheIsolation = CacheIsolation.SHARED,
    claims: ChunkClaims | None = None,
) -> PlanHarness:
    """A pipeline over new, empty cache and jobs tables; with ``claims``, jobs share the
    chunks they lack (voxflow.pipeline.shared_chunks), long ones on the long lane."""
    aws = AwsSettings.local(moto_url)
    suffix = uuid.uuid4().hex[:8]
    service = ServiceSettings(
        bus_name="bus",
        chunks_queue_url="chunks",
        bucket="bucket",
        cache_table=f"cache-{suffix}",
        jobs_table=f"jobs-{suffix}",
        region_name=aws.region,
        cache_isolation=cache_isolation,
    )
    cache_model = bind(CacheEntry, service.cache_table, aws)
    jobs_model = bind(Job, service.jobs_table, aws)
    for model in (cache_model, jobs_model):
        model.create_table(billing_mode="PAY_PER_REQUEST", wait=True)
    outbox = Outbox()
    pipeline = Pipeline(
        settings=service,
        engine_settings=EngineSettings(),
        registry=registry,
        audio=AudioStore(outbox, service.bucket, service.url_expiry_s),
        cache=CacheIndex(cache_model, service.cache_ttl_s, service.chunk_ttl_s),
        jobs=JobStore(jobs_model, service.job_ttl_s),
        publisher=EventPublisher(outbox, outbox, service.bus_name),
        chunk_queue=ChunkQueue(
            outbox, service.chunks_queue_url, CHUNK_LANES[1] if claims is not None else None
        ),
        controls=Controls(quotas=quotas, audit=audit),
        chunk_claims=claims,
    )
    return PlanHarness(pipeline, outbox)
