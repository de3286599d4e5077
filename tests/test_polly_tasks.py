"""Polly's synthesis tasks without a server: a job's status as TaskStatus, the listing's
NextToken, the SNS notification, and the reply-target rules for the output bucket and
topic (the routes end to end: tests/test_api_tasks.py)."""

import json
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from voxflow.api.polly import PollyError
from voxflow.api.polly_task_shapes import document, next_token, start_key, task_status
from voxflow.events import (
    ReplyTo,
    S3Output,
    SynthesisCompleted,
    SynthesisFailed,
    SynthesisRequested,
)
from voxflow.pipeline.outputs import notification, output_uri
from voxflow.pipeline.reply_targets import ReplyTargetRules
from voxflow.regions import RegionConfig
from voxflow.service_settings import ServiceSettings
from voxflow.store.models import Job
from voxflow.store.tasks import StoredTask, index_key

ACCOUNT = "111122223333"
EAST = f"https://sqs.us-east-1.amazonaws.com/{ACCOUNT}"
RULES = ReplyTargetRules.from_settings(
    ServiceSettings(
        bus_name="bus",
        chunks_queue_url=f"{EAST}/voxflow-ChunksQueue-AAAA",
        bucket="b",
        cache_table="c",
        jobs_table="j",
        region_name="us-east-1",
    ),
    RegionConfig(region="us-east-1", requests_queue_url=f"{EAST}/voxflow-Requests-EEEE"),
)
TASK = StoredTask("t-1", "acme", datetime(2026, 12, 3, 12, tzinfo=UTC), {"VoiceId": "joe"})
OUTPUT = S3Output(bucket="voxflow-output-a", key="books/t-1.mp3")
COMPLETED = SynthesisCompleted(
    request_id="t-1",
    url="https://x/y",
    expires_at=datetime(2026, 12, 4, tzinfo=UTC),
    key="k",
    duration_s=1.0,
    bytes=10,
    format="mp3",  # type: ignore[arg-type]
    sample_rate=22050,
    cache="miss",
    region="us-east-1",
)


def job(status: str, result: dict[str, object] | None = None) -> Job:
    return Job(
        "t-1",
        status=status,
        result_json=json.dumps(result) if result is not None else None,
    )


def test_a_jobs_status_is_the_tasks() -> None:
    assert task_status(None) == ("scheduled", None)
    assert task_status(job("pending")) == ("inProgress", None)
    assert task_status(job("completed", {"degraded": False})) == ("completed", None)
    failed = job("failed", {"code": "LEXICON_NOT_FOUND", "message": "lexicon X not found"})
    assert task_status(failed) == ("failed", "LEXICON_NOT_FOUND: lexicon X not found")
    # The fallback clip is not the speech asked for: the task did not succeed.
    status, reason = task_status(job("completed", {"degraded": True}))
    assert status == "failed"
    assert reason


def test_a_task_document_has_pollys_fields() -> None:
    shown = document(TASK, job("failed", {"code": "X", "message": "m"}))
    assert shown == {
        "TaskId": "t-1",
        "TaskStatus": "failed",
        "TaskStatusReason": "X: m",
        "CreationTime": TASK.created.timestamp(),
        "VoiceId": "joe",
    }


def test_a_next_token_is_the_index_key_of_its_tenant_only() -> None:
    token = next_token(index_key(TASK))
    assert start_key(token, "acme") == index_key(TASK)
    for bad, tenant in ((token, "other"), ("garbage", "acme"), (next_token({}), "acme")):
        with pytest.raises(PollyError) as refused:
            start_key(bad, tenant)
        assert refused.value.code == "InvalidNextTokenException"


def test_the_notification_names_the_task_its_outcome_and_its_object() -> None:
    reply_to = ReplyTo(
        s3=OUTPUT, sns_topic_arn=f"arn:aws:sns:us-east-1:{ACCOUNT}:voxflow-replies-t"
    )
    told = notification(COMPLETED, reply_to, "us-east-1")
    assert told == {
        "taskId": "t-1",
        "taskStatus": "COMPLETED",
        "snsTopicArn": reply_to.sns_topic_arn,
        "outputUri": "https://s3.us-east-1.amazonaws.com/voxflow-output-a/books/t-1.mp3",
    }
    failed = SynthesisFailed(request_id="t-1", code="OUTPUT_WRITE_FAILED", message="gone")
    told = notification(failed, reply_to, "us-east-1")
    assert (told["taskStatus"], told["taskStatusReason"]) == ("FAILED", "OUTPUT_WRITE_FAILED: gone")
    degraded = COMPLETED.model_copy(update={"degraded": True})
    assert notification(degraded, reply_to, "us-east-1")["taskStatus"] == "FAILED"
    assert output_uri("eu-west-1", OUTPUT).startswith("https://s3.eu-west-1.amazonaws.com/")


@pytest.mark.parametrize(
    ("target", "rule"),
    [
        ({"s3": {"bucket": "someone-elses", "key": "k"}}, "reply_to.s3.bucket"),
        ({"sns_topic_arn": f"arn:aws:sns:us-east-1:{ACCOUNT}:other"}, "start with"),
        ({"sns_topic_arn": "arn:aws:sns:us-east-1:999999999999:voxflow-replies-x"}, "account"),
        ({"sns_topic_arn": f"arn:aws:sns:eu-west-1:{ACCOUNT}:voxflow-replies-x"}, "us-east-1"),
    ],
)
def test_outputs_and_topics_outside_the_rules_are_refused(
    target: dict[str, object], rule: str
) -> None:
    broken = RULES.refusal(ReplyTo.model_validate(target))
    assert broken is not None
    assert rule in broken


def test_outputs_and_topics_inside_the_rules_are_taken() -> None:
    topic = f"arn:aws:sns:us-east-1:{ACCOUNT}:voxflow-replies-x"
    assert RULES.refusal(ReplyTo(s3=OUTPUT, sns_topic_arn=topic)) is None


def test_a_batch_cannot_share_one_output_object() -> None:
    with pytest.raises(ValidationError, match="batch"):
        SynthesisRequested.model_validate(
            {
                "items": [{"text": "a"}, {"text": "b"}],
                "reply_to": {"s3": {"bucket": "voxflow-output-a", "key": "k"}},
            }
        )
