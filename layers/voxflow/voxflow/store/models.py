"""PynamoDB models of the two tables; template.yaml's key schemas match these.

The classes carry no table name or endpoint: ``bind`` makes a subclass for one
deployment, so nothing is configured at import time.
"""

from pynamodb.attributes import (
    BooleanAttribute,
    ListAttribute,
    NumberAttribute,
    NumberSetAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.models import Model

from voxflow.aws.settings import AwsSettings
from voxflow.store.chunk_keys import ChunkKeysAttribute


class CacheEntry(Model):
    """One cached object: a whole request's encoded audio, or one chunk's audio."""

    class Meta:
        table_name = "unbound"

    key = UnicodeAttribute(hash_key=True)
    kind = UnicodeAttribute()  # "request" (audio or speech marks) or "chunk"
    s3_key = UnicodeAttribute()
    content_type = UnicodeAttribute()
    format = UnicodeAttribute()
    sample_rate = NumberAttribute()
    duration_s = NumberAttribute()
    bytes = NumberAttribute()
    hits = NumberAttribute(default=0)
    created_at = UTCDateTimeAttribute()
    last_hit_at = UTCDateTimeAttribute(null=True)
    expires_at = TTLAttribute(null=True)
    # Where the audio was stored first; elsewhere the object may not have replicated yet.
    # Nullable: entries written before regions existed are the writer's own region's.
    region = UnicodeAttribute(null=True)
    # A chunk's word and viseme times (voxflow.marks.ChunkTiming JSON), so a chunk hit
    # brings them too; None where the model gave no durations, and before they existed.
    timing = UnicodeAttribute(null=True)


class Job(Model):
    """One accepted request, from plan to its terminal event."""

    class Meta:
        table_name = "unbound"

    request_id = UnicodeAttribute(hash_key=True)
    status = UnicodeAttribute()  # pending, completed or failed
    tenant = UnicodeAttribute()
    voice = UnicodeAttribute()
    format = UnicodeAttribute()
    key = UnicodeAttribute()  # the request key
    sample_rate = NumberAttribute()  # of the chunks (the voice's rate)
    # Of the delivered audio; nullable: jobs written before requests could ask for a
    # rate get their format's default, which is what they were keyed with.
    output_rate = NumberAttribute(null=True)
    params_json = UnicodeAttribute()
    # Packed: 32 bytes a key, not 65 (voxflow.store.chunk_keys).
    chunk_keys = ChunkKeysAttribute()
    # The chunks' texts, for the sweeper to queue lost chunk tasks again (voxflow.ops.sweeper),
    # when they are short; a longer job's are in the audio bucket (voxflow.store.job_texts).
    chunk_texts: ListAttribute[str] = ListAttribute(of=UnicodeAttribute, null=True)  # type: ignore[arg-type]
    # Not "count": pynamodb's Model has a count() query method.
    chunk_count = NumberAttribute()
    done = NumberSetAttribute(null=True)  # indices of chunks with audio stored
    metadata_json = UnicodeAttribute(default="{}")
    reply_to_json = UnicodeAttribute(null=True)
    batch_id = UnicodeAttribute(null=True)
    cache = UnicodeAttribute(null=True)
    result_json = UnicodeAttribute(null=True)  # the terminal event, for `voxflow status`
    terminal_sent = BooleanAttribute(default=False)
    # The reply target has had the terminal event, though the bus put failed (a hit sends
    # both at once): the event is sent again to the bus only, never a second reply.
    reply_sent = BooleanAttribute(null=True)
    created_at = UTCDateTimeAttribute()
    completed_at = UTCDateTimeAttribute(null=True)
    expires_at = TTLAttribute(null=True)
    # The region working on the job; nullable: jobs written before regions existed.
    owner_region = UnicodeAttribute(null=True)
    # What the request asked for (voxflow.pipeline.identity): a reuse of the request id
    # with other content or by another tenant is a conflict, never this job's business.
    # Nullable: jobs written before it existed compare on tenant and key only.
    fingerprint = UnicodeAttribute(null=True)
    # Reply targets of duplicates that named another target than reply_to_json.
    extra_reply_to = UnicodeSetAttribute(null=True)
    # The id the terminal event answers, where it is not the job's own: a conflict's
    # answer is kept under a derived key, so it never touches the owner's job.
    answers_request_id = UnicodeAttribute(null=True)
    # A copy of that request's terminal event for one more reply target (a duplicate's,
    # after the request finished): sent there only, never to the bus again.
    copy_of = UnicodeAttribute(null=True)
    # Chunk tasks are queued: a duplicate of the request need not queue them again.
    dispatched = BooleanAttribute(null=True)
    # Until when the writer of the terminal event may still be publishing it: nobody
    # else sends it again before then (a crashed writer's event is sent after it).
    send_lease_until = UTCDateTimeAttribute(null=True)
    # The speech marks the request asked for (voxflow.pipeline.marks.RequestMarks JSON).
    marks_json = UnicodeAttribute(null=True)


def bind[M: Model](model: type[M], table_name: str, aws: AwsSettings) -> type[M]:
    """A subclass of ``model`` that talks to ``table_name`` where ``aws`` says."""
    meta = type(
        "Meta",
        (),
        {
            "table_name": table_name,
            "region": aws.region,
            "host": aws.endpoint_url,
            "max_retry_attempts": 5,
            # Set only for local endpoints (AwsSettings.local); otherwise boto's chain.
            **(
                {
                    "aws_access_key_id": aws.access_key_id,
                    "aws_secret_access_key": aws.secret_access_key,
                }
                if aws.access_key_id
                else {}
            ),
        },
    )
    return type(model.__name__, (model,), {"Meta": meta})
