"""Jobs left pending: finish them, give their lost chunks one more chance, or fail them.

A job can stay ``pending`` when a worker died between storing the last chunk and
assembling (all chunks done), or when a chunk task was lost or dead-lettered
(some chunks missing). The sweeper looks at jobs older than a threshold:

- every chunk done: assemble it (assembly's own conditional finish picks one winner);
- chunks missing, first sweep: queue their tasks again, and count the sweep on the job;
- chunks missing, a later sweep: fail it with ``STUCK``, through the same conditional
  finish, so exactly one terminal event goes out;
- terminal, but its event not marked sent after the writer's lease: the writer crashed
  between the two steps, so send the stored event (voxflow.pipeline.terminal).

It finds them with a Scan of the jobs table filtered on status and created_at:
jobs expire in days, so the table stays small enough that a scan every few
minutes is cheap; a sparse index on pending jobs is the step up if it is not.
"""

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from pynamodb.attributes import NumberAttribute
from pynamodb.exceptions import UpdateError

from voxflow.aws import AwsClients, AwsSettings
from voxflow.config import Config
from voxflow.config import variables as env
from voxflow.engine.params import ResolvedParams
from voxflow.errors import SettingsError, VoxflowError
from voxflow.events import ChunkTask
from voxflow.keys import KeyInput, chunk_key
from voxflow.pipeline.assemble import assemble
from voxflow.pipeline.context import ChunkQueue, Pipeline
from voxflow.pipeline.publisher import EventPublisher
from voxflow.pipeline.terminal import (
    failed_event,
    finish,
    reply_target,
    resend_if_unsent,
    stored_event,
)
from voxflow.service_settings import ServiceSettings
from voxflow.settings import EngineSettings
from voxflow.store import AudioStore, CacheEntry, CacheIndex, Job, JobStore
from voxflow.store.jobs import PENDING
from voxflow.store.models import bind
from voxflow.voices import VoiceRegistry
from voxflow.voices.deployment import deployment_registry

STUCK = "STUCK"
DEFAULT_OLDER_THAN_S = env.SWEEP_OLDER_THAN_S.default
# Sweeps that may re-queue a job's missing chunks before it is failed.
REQUEUE_SWEEPS = 1


class Step(StrEnum):
    ASSEMBLE = "assemble"
    REQUEUE = "requeue"
    FAIL = "fail"


@dataclass(frozen=True)
class Rule:
    """What a sweep does with a stuck job (the module docstring's rules), and why."""

    step: Step
    missing: list[int]
    message: str = ""


def rule(chunk_count: int, done: Iterable[int], sweeps: int) -> Rule:
    """The rule for a pending job of ``chunk_count`` chunks, ``done`` of them stored,
    already swept ``sweeps`` times: pure, so it is tested without a table."""
    missing = sorted(set(range(chunk_count)) - set(done))
    if chunk_count and not missing:
        return Rule(Step.ASSEMBLE, [])
    if chunk_count and sweeps < REQUEUE_SWEEPS:
        return Rule(Step.REQUEUE, missing)
    message = (
        f"stuck: {len(missing)} of {chunk_count} chunks not done after {sweeps} sweeps"
        if chunk_count
        else "stuck: planned without chunks"
    )
    return Rule(Step.FAIL, missing, message)


def owned_here(owner_region: str | None, region_name: str) -> bool:
    """Two regions share the jobs table: each sweeps only the jobs it owns (a job of a
    single-region stack has no owner and is everyone's)."""
    return owner_region is None or owner_region == region_name


class SweptJob(Job):
    """A job as the sweeper reads it: with its sweep count (only the sweeper writes it)."""

    sweeps = NumberAttribute(null=True)


@dataclass
class SweepReport:
    assembled: list[str] = field(default_factory=list)
    requeued: dict[str, list[int]] = field(default_factory=dict)
    failed: list[str] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)  # swept once, nothing to re-queue yet
    resent: list[str] = field(default_factory=list)  # terminal events a crash left unsent

    def as_dict(self) -> dict[str, object]:
        return {
            "assembled": self.assembled,
            "requeued": self.requeued,
            "failed": self.failed,
            "waiting": self.waiting,
            "resent": self.resent,
        }


class Sweeper:
    def __init__(self, pipeline: Pipeline, jobs: type[SweptJob]) -> None:
        """``jobs``: SweptJob bound to the pipeline's jobs table."""
        self._pipeline = pipeline
        self._jobs = jobs

    def stuck(self, older_than_s: float, now: datetime | None = None) -> Iterator[SweptJob]:
        cutoff = (now or datetime.now(UTC)) - timedelta(seconds=older_than_s)
        condition = (self._jobs.status == PENDING) & (self._jobs.created_at < cutoff)
        yield from self._jobs.scan(filter_condition=condition)

    def unsent(self) -> Iterator[SweptJob]:
        """Terminal jobs whose event nobody marked sent (the lease is checked on send)."""
        unsent = self._jobs.terminal_sent.does_not_exist() | (self._jobs.terminal_sent == False)  # noqa: E712
        yield from self._jobs.scan(filter_condition=(self._jobs.status != PENDING) & unsent)

    def sweep(self, older_than_s: float = DEFAULT_OLDER_THAN_S) -> SweepReport:
        report = SweepReport()
        for found in self.stuck(older_than_s):
            job = self._fresh(found.request_id)
            if job is None or not self._ours(job):
                continue
            self.sweep_job(job, report)
        for found in self.unsent():
            if self._ours(found) and resend_if_unsent(self._pipeline, found.request_id):
                report.resent.append(found.request_id)
        return report

    def sweep_job(self, job: SweptJob, report: SweepReport) -> None:
        if job.copy_of is not None:
            # A copy whose creator crashed before sending: it has nothing to synthesize.
            owner = self._pipeline.jobs.get(job.copy_of)
            event = stored_event(owner) if owner is not None else None
            if event is not None and finish(self._pipeline, job, event, None):
                report.resent.append(job.request_id)
                return
        sweeps = int(job.sweeps or 0)
        step = rule(int(job.chunk_count), (int(index) for index in job.done or ()), sweeps)
        if step.step is Step.ASSEMBLE:
            assemble(job.request_id, self._pipeline)
            report.assembled.append(job.request_id)
            return
        if step.step is Step.REQUEUE:
            if not self._count_sweep(job, sweeps):
                return  # another sweeper has it, or it finished meanwhile
            tasks = self._tasks(job, step.missing)
            if tasks is None:
                report.waiting.append(job.request_id)
                return
            self._pipeline.chunk_queue.send(tasks, recovery=True)
            report.requeued[job.request_id] = step.missing
            return
        self._pipeline.meter.count("RequestsStuck")
        failed = failed_event(job, STUCK, step.message, retryable=True)
        if finish(self._pipeline, job, failed, None):
            report.failed.append(job.request_id)

    def _fresh(self, request_id: str) -> SweptJob | None:
        try:
            job: SweptJob = self._jobs.get(request_id, consistent_read=True)
        except self._jobs.DoesNotExist:
            return None
        return job if job.status == PENDING else None

    def _ours(self, job: Job) -> bool:
        region = self._pipeline.settings.region_name
        return owned_here(getattr(job, "owner_region", None), region)

    def _count_sweep(self, job: SweptJob, sweeps: int) -> bool:
        """Count this sweep on the job; False if someone else counted it first."""
        unswept = self._jobs.sweeps.does_not_exist() | (self._jobs.sweeps == sweeps)
        try:
            job.update(
                actions=[self._jobs.sweeps.set(sweeps + 1)],
                condition=(self._jobs.status == PENDING) & unswept,
            )
        except UpdateError as error:
            if error.cause_response_code == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def _tasks(self, job: SweptJob, indices: list[int]) -> list[ChunkTask] | None:
        """The missing chunks' tasks, as plan made them; None when they cannot be made
        again (texts not stored, or the voice changed since the job was planned)."""
        # In the item when short, else in the audio bucket (voxflow.store.job_texts).
        texts = job.chunk_texts or self._pipeline.audio.job_texts(job.request_id) or []
        if len(texts) != int(job.chunk_count):
            return None
        try:
            voice = self._pipeline.registry.get(job.voice)
        except VoxflowError:
            return None
        resolved = ResolvedParams(**json.loads(job.params_json))
        rate = int(job.sample_rate)
        tasks = []
        for index in indices:
            key = job.chunk_keys[index]
            # Keys salted with the tenant or not (VOXFLOW_CACHE_ISOLATION): a job keeps
            # the keys it was planned with, whatever the setting is now.
            made_again = {
                chunk_key(
                    KeyInput(
                        texts[index], voice.voice_id, voice.model_version, resolved, rate, salt
                    )
                )
                for salt in (None, job.tenant)
            }
            if key not in made_again:
                return None
            tasks.append(
                ChunkTask(
                    request_id=job.request_id,
                    index=index,
                    count=int(job.chunk_count),
                    text=texts[index],
                    chunk_key=key,
                    voice=voice.voice_id,
                    model_version=voice.model_version,
                    params=resolved.as_dict(),
                    sample_rate=rate,
                    reply_to=reply_target(job),
                    timing=bool(job.marks_json),
                )
            )
        return tasks


def pipeline_for(
    resources: Mapping[str, str],
    aws: AwsSettings,
    registry: VoiceRegistry | None = None,
    *,
    engine_settings: EngineSettings | None = None,
) -> Pipeline:
    """The pipeline of a deployed stack, from its logical → physical ids (the CLI's view;
    a function builds its own from its settings). ``engine_settings``: this process's
    when not given."""
    try:
        service = ServiceSettings(
            bus_name=resources["EventBus"].rsplit("/", 1)[-1],
            chunks_queue_url=resources["ChunksQueue"],
            # An older stack has one lane only.
            long_chunks_queue_url=resources.get("LongChunksQueue"),
            recovery_chunks_queue_url=resources.get("RecoveryChunksQueue"),
            bucket=resources["AudioBucket"],
            cache_table=resources["CacheTable"],
            jobs_table=resources["JobsTable"],
            region_name=aws.region,
        )
    except KeyError as error:
        raise SettingsError(f"the stack has no {error.args[0]} resource") from None
    if engine_settings is None:
        engine_settings = EngineSettings.of(Config.load())
    clients = AwsClients(aws)
    return Pipeline(
        settings=service,
        engine_settings=engine_settings,
        registry=registry
        or deployment_registry(
            engine_settings,
            resources.get("VoicesTable"),
            dynamodb=clients.dynamodb,
            s3=clients.s3,
            bucket=service.bucket,
        ),
        audio=AudioStore.of(service, clients),
        cache=CacheIndex(
            bind(CacheEntry, service.cache_table, aws), service.cache_ttl_s, service.chunk_ttl_s
        ),
        jobs=JobStore(bind(Job, service.jobs_table, aws), service.job_ttl_s),
        publisher=EventPublisher(clients.events, clients.sqs, service.bus_name),
        chunk_queue=ChunkQueue.for_service(clients.sqs, service),
    )


def sweeper_for(pipeline: Pipeline, aws: AwsSettings) -> Sweeper:
    return Sweeper(pipeline, bind(SweptJob, pipeline.settings.jobs_table, aws))
