"""Polly's synthesis tasks on the local stack: boto3's own polly client (and the AWS CLI)
against the API function, the request down the event path (bus, plan, synthesize,
assemble), the audio in the caller's bucket read back with boto3's s3 client, and the
task's SNS topic delivering to an SQS queue on moto."""

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from api_harness import polly_client
from botocore.exceptions import ClientError
from conftest import StartStack

from voxflow.audio import decode
from voxflow.aws import AwsClients, AwsSettings
from voxflow_local.stack import LocalStack

AWS = Path(sys.executable).with_name("aws")
ACCOUNT = "123456789012"  # moto's
# Over SynthesizeSpeech's 3,000 characters, every sentence its own (no two chunks alike).
LONG_TEXT = " ".join(
    f"Sentence {n} of the long task is read aloud, then written to the caller's bucket."
    for n in range(1, 41)
)
SHORT_TEXT = "A short task, told to a topic."


@pytest.fixture(scope="module")
def stack(local_stack: StartStack) -> LocalStack:
    return local_stack(functions=["PlanFunction", "SynthesizeFunction", "ApiFunction"])


@pytest.fixture(scope="module")
def clients(stack: LocalStack) -> AwsClients:
    return AwsClients(AwsSettings.local(stack.url, stack.region))


@pytest.fixture(scope="module")
def bucket(clients: AwsClients) -> str:
    name = f"voxflow-output-{uuid.uuid4().hex[:8]}"
    clients.s3.create_bucket(Bucket=name)
    return name


def polly(stack: LocalStack) -> Any:
    assert stack.api_url is not None
    return polly_client(stack.api_url, region=stack.region)


def wait_for(stack: LocalStack, task_id: str, timeout_s: float = 300) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        task: dict[str, Any] = polly(stack).get_speech_synthesis_task(TaskId=task_id)[
            "SynthesisTask"
        ]
        if task["TaskStatus"] in ("completed", "failed") or time.monotonic() > deadline:
            return task
        time.sleep(1)


def error_of(call: Any, **fields: Any) -> str:
    with pytest.raises(ClientError) as refused:
        call(**fields)
    return str(refused.value.response["Error"]["Code"])


def test_a_long_task_writes_the_pipelines_audio_to_the_callers_bucket(
    stack: LocalStack, clients: AwsClients, bucket: str
) -> None:
    assert len(LONG_TEXT) > 3000
    client = polly(stack)
    assert error_of(
        client.synthesize_speech, Text=LONG_TEXT, VoiceId="joe", OutputFormat="mp3"
    ) == ("TextLengthExceededException")
    started = client.start_speech_synthesis_task(
        Text=LONG_TEXT,
        VoiceId="joe",
        OutputFormat="mp3",
        OutputS3BucketName=bucket,
        OutputS3KeyPrefix="books/",
    )["SynthesisTask"]
    task_id = started["TaskId"]
    assert started["TaskStatus"] in ("scheduled", "inProgress")
    assert started["RequestCharacters"] == len(LONG_TEXT)
    assert started["OutputUri"] == (
        f"https://s3.{stack.region}.amazonaws.com/{bucket}/books/{task_id}.mp3"
    )
    task = wait_for(stack, task_id)
    assert task["TaskStatus"] == "completed", task
    assert task["CreationTime"] == started["CreationTime"]

    written = clients.s3.get_object(Bucket=bucket, Key=f"books/{task_id}.mp3")
    assert written["ContentType"] == "audio/mpeg"
    audio = written["Body"].read()
    pcm, rate = decode(audio)
    duration_s = len(pcm) / rate
    # Speech at joe's pace: some 12 to 20 characters a second.
    assert len(LONG_TEXT) / 25 < duration_s < len(LONG_TEXT) / 8, duration_s
    assert float(np.sqrt(np.mean(pcm.astype(np.float64) ** 2))) > 300
    # The object is the pipeline's own audio for the request, byte for byte.
    resources = stack.stack.resources
    job = clients.dynamodb.get_item(
        TableName=resources["JobsTable"], Key={"request_id": {"S": task_id}}
    )["Item"]
    key = json.loads(job["result_json"]["S"])["key"]
    entry = clients.dynamodb.get_item(TableName=resources["CacheTable"], Key={"key": {"S": key}})
    cached = clients.s3.get_object(
        Bucket=resources["AudioBucket"], Key=entry["Item"]["s3_key"]["S"]
    )["Body"].read()
    assert audio == cached

    # The same text again is a cache hit: the hit's short path writes no output object,
    # so the task takes the general one, which copies the cached audio to its own key.
    again = client.start_speech_synthesis_task(
        Text=LONG_TEXT, VoiceId="joe", OutputFormat="mp3", OutputS3BucketName=bucket,
        OutputS3KeyPrefix="again/",
    )["SynthesisTask"]  # fmt: skip
    assert wait_for(stack, again["TaskId"], timeout_s=60)["TaskStatus"] == "completed"
    copied = clients.s3.get_object(Bucket=bucket, Key=f"again/{again['TaskId']}.mp3")
    assert copied["Body"].read() == cached


def test_a_topic_is_told_and_list_filters_and_pages(
    stack: LocalStack, clients: AwsClients, bucket: str
) -> None:
    sns = clients.client("sns")
    topic = sns.create_topic(Name=f"voxflow-replies-{uuid.uuid4().hex[:8]}")["TopicArn"]
    queue = clients.sqs.create_queue(QueueName=f"told-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    queue_arn = clients.sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    client = polly(stack)
    told = client.start_speech_synthesis_task(
        Text=SHORT_TEXT, VoiceId="joe", OutputFormat="pcm", OutputS3BucketName=bucket,
        SnsTopicArn=topic,
    )["SynthesisTask"]  # fmt: skip
    doomed = f"voxflow-output-{uuid.uuid4().hex[:8]}"
    clients.s3.create_bucket(Bucket=doomed)
    failing = client.start_speech_synthesis_task(
        Text=SHORT_TEXT, VoiceId="joe", OutputFormat="pcm", OutputS3BucketName=doomed,
    )["SynthesisTask"]  # fmt: skip
    clients.s3.delete_bucket(Bucket=doomed)  # gone long before the audio is made
    assert wait_for(stack, told["TaskId"])["TaskStatus"] == "completed"
    failed = wait_for(stack, failing["TaskId"])
    assert failed["TaskStatus"] == "failed"
    assert failed["TaskStatusReason"].startswith("OUTPUT_WRITE_FAILED")

    messages = clients.sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=5)["Messages"]
    notification = json.loads(json.loads(messages[0]["Body"])["Message"])
    assert notification["taskId"] == told["TaskId"]
    assert notification["taskStatus"] == "COMPLETED"
    assert notification["outputUri"] == told["OutputUri"]
    raw = clients.s3.get_object(Bucket=bucket, Key=f"{told['TaskId']}.pcm")["Body"].read()
    pcm = np.frombuffer(raw, dtype="<i2")  # s16le mono, no header
    assert len(pcm) > 16000  # over a second of speech at Polly's pcm default rate

    listed = client.list_speech_synthesis_tasks(Status="failed")["SynthesisTasks"]
    assert failing["TaskId"] in [task["TaskId"] for task in listed]
    assert all(task["TaskStatus"] == "failed" for task in listed)
    seen: list[str] = []
    token: dict[str, str] = {}
    while True:
        page = client.list_speech_synthesis_tasks(MaxResults=1, **token)
        assert len(page["SynthesisTasks"]) <= 1
        seen += [task["TaskId"] for task in page["SynthesisTasks"]]
        if "NextToken" not in page:
            break
        token = {"NextToken": page["NextToken"]}
    assert {told["TaskId"], failing["TaskId"]} <= set(seen)
    assert len(seen) == len(set(seen))
    assert seen.index(failing["TaskId"]) < seen.index(told["TaskId"])  # newest first


def test_errors_are_pollys(stack: LocalStack, bucket: str) -> None:
    start = polly(stack).start_speech_synthesis_task
    fields = {"Text": SHORT_TEXT, "VoiceId": "joe", "OutputFormat": "mp3"}
    assert error_of(start, OutputS3BucketName="Not_A_Bucket", **fields) == (
        "InvalidS3BucketException"
    )
    # A bucket outside the deployment's prefix, or none at all: nothing to write to.
    assert error_of(start, OutputS3BucketName="someone-elses", **fields) == (
        "InvalidS3BucketException"
    )
    assert error_of(start, OutputS3BucketName="voxflow-output-missing", **fields) == (
        "InvalidS3BucketException"
    )
    assert error_of(start, OutputS3BucketName=bucket, OutputS3KeyPrefix="a b", **fields) == (
        "InvalidS3KeyException"
    )
    for topic in (
        "not-an-arn",
        f"arn:aws:sns:{stack.region}:{ACCOUNT}:not-prefixed",
        f"arn:aws:sns:{stack.region}:999999999999:voxflow-replies-x",
    ):
        assert error_of(start, OutputS3BucketName=bucket, SnsTopicArn=topic, **fields) == (
            "InvalidSnsTopicArnException"
        )
    assert error_of(start, OutputS3BucketName=bucket, **{**fields, "Text": "x" * 100_001}) == (
        "TextLengthExceededException"
    )
    assert error_of(start, OutputS3BucketName=bucket, LexiconNames=["nosuchlexicon"], **fields) == (
        "LexiconNotFoundException"
    )
    assert error_of(
        start, OutputS3BucketName=bucket, TextType="ssml", **{**fields, "Text": "<speak><audio/>"}
    ) == ("InvalidSsmlException")
    get = polly(stack).get_speech_synthesis_task
    assert error_of(get, TaskId="not/a/task") in ("InvalidTaskIdException", "NotFoundException")
    assert error_of(get, TaskId="bad.id") == "InvalidTaskIdException"
    assert error_of(get, TaskId=str(uuid.uuid4())) == "SynthesisTaskNotFoundException"
    listing = polly(stack).list_speech_synthesis_tasks
    assert error_of(listing, NextToken="garbage") == "InvalidNextTokenException"


def test_a_bucket_gone_before_the_write_fails_the_task(
    stack: LocalStack, clients: AwsClients
) -> None:
    doomed = f"voxflow-output-{uuid.uuid4().hex[:8]}"
    clients.s3.create_bucket(Bucket=doomed)
    started = polly(stack).start_speech_synthesis_task(
        Text="Nobody will keep this.", VoiceId="joe", OutputFormat="mp3",
        OutputS3BucketName=doomed,
    )["SynthesisTask"]  # fmt: skip
    clients.s3.delete_bucket(Bucket=doomed)
    task = wait_for(stack, started["TaskId"])
    assert task["TaskStatus"] == "failed"
    assert task["TaskStatusReason"].startswith("OUTPUT_WRITE_FAILED")


def test_aws_cli_starts_a_marks_task(
    stack: LocalStack, clients: AwsClients, bucket: str, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": stack.region,
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
    }
    done = subprocess.run(
        [
            str(AWS), "polly", "start-speech-synthesis-task", "--endpoint-url",
            str(stack.api_url), "--output-format", "json", "--speech-mark-types", "word",
            "--voice-id", "joe", "--text", SHORT_TEXT, "--output-s3-bucket-name", bucket,
        ],
        env=env, capture_output=True, text=True, timeout=120, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    task_id = json.loads(done.stdout)["SynthesisTask"]["TaskId"]
    deadline = time.monotonic() + 300
    while True:  # polled with the CLI's own get-speech-synthesis-task
        shown = subprocess.run(
            [
                str(AWS), "polly", "get-speech-synthesis-task", "--endpoint-url",
                str(stack.api_url), "--task-id", task_id,
            ],
            env=env, capture_output=True, text=True, timeout=120, check=False, cwd=tmp_path,
        )  # fmt: skip
        assert shown.returncode == 0, shown.stderr
        status = json.loads(shown.stdout)["SynthesisTask"]["TaskStatus"]
        if status in ("completed", "failed") or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert status == "completed"
    lines = clients.s3.get_object(Bucket=bucket, Key=f"{task_id}.marks")["Body"].read()
    words = [json.loads(line)["value"] for line in lines.decode().splitlines()]
    assert words == ["A", "short", "task", "told", "to", "a", "topic"]
