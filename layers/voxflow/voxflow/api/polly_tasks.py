"""Polly's StartSpeechSynthesisTask, GetSpeechSynthesisTask and ListSpeechSynthesisTasks
(docs/api.md, "Synthesis tasks").

A task is a request on the event path, as `voxflow publish` sends one: a SynthesisRequested
on the service's bus whose id is the TaskId, with a reply target that names the caller's
object (``reply_to.s3``, written before the job completes) and topic. The task table
keeps what the start fixed (voice, format, OutputUri...); the status is the job's.
"""

import re
import uuid
from typing import Any

from botocore.exceptions import ClientError

from voxflow.api.polly import (
    PollyError,
    invalid,
    parse_object,
    parse_synthesize,
    string_field,
)
from voxflow.api.polly_contract import PollyContract
from voxflow.api.polly_task_shapes import document, max_results, next_token, start_key
from voxflow.aws import AwsClients
from voxflow.errors import InvalidSsml
from voxflow.events import (
    MAX_TEXT_CHARS,
    ReplyTo,
    S3Output,
    SynthesisRequested,
    to_event_entry,
)
from voxflow.lexicons.store import LexiconRepository
from voxflow.pipeline.context import Pipeline
from voxflow.pipeline.outputs import output_uri
from voxflow.pipeline.reply_targets import ReplyTargetRules
from voxflow.store import JobStore
from voxflow.store.tasks import StoredTask, TaskTable, index_key, now
from voxflow.text.ssml import parse_ssml
from voxflow.voices import VoiceRegistry

MAX_BILLED_CHARS = 100_000  # Polly's for tasks; the wire's ceiling (MAX_TEXT_CHARS) too
MAX_EVENT_BYTES = 256 * 1024  # EventBridge's entry limit
# Polly's file name extensions by OutputFormat (json: speech marks).
_EXTENSIONS = {"mp3": "mp3", "ogg_vorbis": "ogg", "ogg_opus": "ogg", "pcm": "pcm", "json": "marks"}


class PollyTasks:
    def __init__(
        self,
        table: TaskTable | None,
        jobs: JobStore,
        *,
        events: Any,
        bus_name: str,
        s3: Any,
        region: str,
        rules: ReplyTargetRules | None,
        lexicons: LexiconRepository | None = None,
    ) -> None:
        """``table`` None: this deployment keeps no tasks (every call says so).
        ``lexicons``: the stored ones, checked at the start as Polly does."""
        self._table = table
        self._jobs = jobs
        self._events = events
        self._bus_name = bus_name
        self._s3 = s3
        self._region = region
        self._rules = rules
        self._lexicons = lexicons

    def start(
        self, body: bytes, tenant: str, contract: PollyContract, registry: VoiceRegistry
    ) -> dict[str, Any]:
        table = self._store()
        synthesis = parse_synthesize(
            body,
            tenant,
            contract,
            registry,
            operation="StartSpeechSynthesisTask",
            max_billed=MAX_BILLED_CHARS,
            max_total=MAX_TEXT_CHARS,
        )
        fields = parse_object(body)
        task_id = str(uuid.uuid4())
        extension = _EXTENSIONS.get(synthesis.output_format, synthesis.output_format)
        output = S3Output(
            bucket=self._bucket(fields, contract),
            key=f"{_key_prefix(fields, contract)}{task_id}.{extension}",
            marks=synthesis.output_format == "json",
        )
        topic = _topic(fields, contract)
        reply_to = ReplyTo(s3=output, sns_topic_arn=topic)
        self._check_target(reply_to)
        request = synthesis.request
        if request.text_type == "ssml":
            try:
                parse_ssml(request.text, max_chars=MAX_TEXT_CHARS)
            except InvalidSsml as error:
                raise PollyError("InvalidSsmlException", str(error)) from None
        for name in request.lexicons:
            if self._lexicons is None or self._lexicons.get(name) is None:
                raise PollyError("LexiconNotFoundException", f"lexicon {name} not found")
        event = SynthesisRequested(
            request_id=task_id,
            tenant=tenant,
            reply_to=reply_to,
            text=request.text,
            text_type=request.text_type,  # type: ignore[arg-type]
            voice=request.voice,
            format=request.audio_format,
            sample_rate=request.sample_rate,
            lexicons=list(request.lexicons),
            speech_marks=list(request.speech_marks),  # type: ignore[arg-type]
        )
        entry = to_event_entry(event, self._bus_name)
        if len(entry["Detail"].encode("utf-8")) > MAX_EVENT_BYTES:
            raise PollyError(
                "TextLengthExceededException",
                f"the request is over {MAX_EVENT_BYTES} bytes as an event: shorten the text",
            )
        task = StoredTask(
            task_id,
            tenant,
            now(),
            {
                "OutputUri": output_uri(self._region, output),
                "RequestCharacters": synthesis.billed_chars,
                "OutputFormat": synthesis.output_format,
                "TextType": request.text_type,
                "VoiceId": request.voice,
                "LexiconNames": list(request.lexicons),
                "SpeechMarkTypes": list(request.speech_marks),
                **_given(fields, "Engine", "LanguageCode", "SampleRate", "SnsTopicArn"),
            },
        )
        table.put(task)
        response = self._events.put_events(Entries=[entry])
        if response.get("FailedEntryCount"):
            table.delete(task_id)  # never a task that no job will answer
            raise PollyError("ServiceFailureException", "the task could not be queued")
        return {"SynthesisTask": document(task, None)}

    def get(self, task_id: str, tenant: str, contract: PollyContract) -> dict[str, Any]:
        if not re.fullmatch(contract.patterns["TaskId"], task_id):
            raise PollyError("InvalidTaskIdException", "not a TaskId this API gives")
        task = self._store().get(task_id)
        if task is None or task.tenant != tenant:  # another tenant's task is no task here
            raise PollyError("SynthesisTaskNotFoundException", f"no task {task_id}")
        return {"SynthesisTask": document(task, self._jobs.get(task_id))}

    def list(self, tenant: str, query: dict[str, str], contract: PollyContract) -> dict[str, Any]:
        table = self._store()
        most = max_results(query.get("MaxResults"), contract.max_task_results)
        status = query.get("Status")
        if status is not None and status not in contract.task_statuses:
            raise invalid(
                "status",
                "Member must satisfy enum value set: " + ", ".join(sorted(contract.task_statuses)),
            )
        start = start_key(query.get("NextToken"), tenant)
        found: list[dict[str, Any]] = []
        while True:
            page = table.page(tenant, most, start)
            jobs = self._jobs.get_many([task.task_id for task in page.tasks])
            for position, task in enumerate(page.tasks):
                shown = document(task, jobs.get(task.task_id))
                if status is not None and shown["TaskStatus"] != status:
                    continue
                found.append(shown)
                if len(found) == most:
                    more = position < len(page.tasks) - 1 or page.last_key is not None
                    token = {"NextToken": next_token(index_key(task))} if more else {}
                    return {"SynthesisTasks": found, **token}
            if page.last_key is None:
                return {"SynthesisTasks": found}
            start = page.last_key

    def _store(self) -> TaskTable:
        if self._table is None:
            raise PollyError("ServiceFailureException", "this deployment keeps no synthesis tasks")
        return self._table

    def _bucket(self, fields: dict[str, Any], contract: PollyContract) -> str:
        bucket = string_field(fields, "OutputS3BucketName", required=True)
        if not re.fullmatch(contract.patterns["OutputS3BucketName"], bucket):
            raise PollyError("InvalidS3BucketException", "not an S3 bucket name")
        return str(bucket)

    def _check_target(self, reply_to: ReplyTo) -> None:
        """The rules the pipeline holds a reply target to, as Polly's errors, and the
        bucket there: a task that could only fail is refused now."""
        assert reply_to.s3 is not None
        if self._rules is not None:
            broken = self._rules.refusal(reply_to)
            if broken is not None and broken.startswith("reply_to.s3"):
                raise PollyError("InvalidS3BucketException", broken.partition(": ")[2])
            if broken is not None:
                raise PollyError("InvalidSnsTopicArnException", broken.partition(": ")[2])
        try:
            self._s3.head_bucket(Bucket=reply_to.s3.bucket)
        except ClientError:
            raise PollyError(
                "InvalidS3BucketException",
                f"bucket {reply_to.s3.bucket} does not exist or this service may not use it",
            ) from None


def _given(fields: dict[str, Any], *names: str) -> dict[str, Any]:
    return {name: fields[name] for name in names if fields.get(name) is not None}


def _key_prefix(fields: dict[str, Any], contract: PollyContract) -> str:
    prefix = string_field(fields, "OutputS3KeyPrefix") or ""
    if not re.fullmatch(contract.patterns["OutputS3KeyPrefix"], prefix):
        raise PollyError("InvalidS3KeyException", "not a key prefix S3 and Polly take")
    return str(prefix)


def _topic(fields: dict[str, Any], contract: PollyContract) -> str | None:
    topic = string_field(fields, "SnsTopicArn")
    if topic is not None and not re.fullmatch(contract.patterns["SnsTopicArn"], topic):
        raise PollyError("InvalidSnsTopicArnException", "not an SNS topic ARN")
    return None if topic is None else str(topic)


def tasks_of(pipeline: Pipeline, clients: AwsClients, table: str | None) -> PollyTasks:
    """The task routes of a deployment, over its pipeline's jobs, bus and rules."""
    return PollyTasks(
        TaskTable(clients.dynamodb, table) if table else None,
        pipeline.jobs,
        events=clients.events,
        bus_name=pipeline.settings.bus_name,
        s3=clients.s3,
        region=pipeline.settings.region_name,
        rules=pipeline.reply_targets,
        lexicons=pipeline.lexicons,
    )
