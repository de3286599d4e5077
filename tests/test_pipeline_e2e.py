"""The event pipeline end to end: template.yaml deployed into moto server over HTTP,
the real handlers in runner processes, the real voice.
"""

import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from bus_tap import tapped
from conftest import StartStack

from voxflow.audio import AudioFormat, decode, encode, join_pcm
from voxflow.aws import AwsClients, AwsSettings
from voxflow.client import AsyncVoxflowClient, Outcome, StackTarget, VoxflowClient
from voxflow.client.sync_client import WaitTimedOut
from voxflow.engine import Engine, SynthesisParams
from voxflow.events import SynthesisCompleted, SynthesisFailed
from voxflow.text import normalize_text, split_into_chunks
from voxflow_local.moto_server import MOTO_NICENESS
from voxflow_local.stack import LocalStack

pytestmark = pytest.mark.slow
SILENT: dict[str, Any] = {"noise_scale": 0.0, "noise_w": 0.0}
CORPUS = Path(__file__).resolve().parent.parent / "benchmarks" / "corpus"


@pytest.fixture(scope="module")
def stack(local_stack: StartStack) -> LocalStack:
    return local_stack(retry_visibility_s=1)


@pytest.fixture(scope="module")
def client(stack: LocalStack) -> Iterator[VoxflowClient]:
    clients = AwsClients(AwsSettings.local(stack.url, stack.region))
    target = StackTarget.from_resources(stack.stack.resources)
    with VoxflowClient(clients, target) as voxflow:
        yield voxflow


def download(url: str) -> tuple[bytes, str]:
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.read(), response.headers["Content-Type"]


def chunk_objects(stack: LocalStack) -> dict[str, Any]:
    bucket = stack.stack.resources["AudioBucket"]
    listing = stack.client("s3").list_objects_v2(Bucket=bucket, Prefix="chunks/")
    return {item["Key"]: item["LastModified"] for item in listing.get("Contents", [])}


def completed(outcome: Outcome) -> SynthesisCompleted:
    assert isinstance(outcome.terminal, SynthesisCompleted), outcome.terminal
    return outcome.terminal


def _runner_niceness(event_source: str) -> set[int]:
    """The CPU priorities of this machine's runner processes of ``event_source`` (other
    tests' stacks may run beside this one)."""
    found = set()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
            niceness = os.getpriority(os.PRIO_PROCESS, int(proc.name))
        except (OSError, ProcessLookupError):
            continue
        if b"voxflow_local.runner" in argv and event_source.encode() in argv:
            found.add(niceness)
    return found


def test_the_failover_backlogs_runners_yield_the_cpu_to_new_work(stack: LocalStack) -> None:
    """On Lambda the recovery event sources are capped and every invocation has its own
    CPU; here the runners share the cores, so those of StandbyQueue and
    RecoveryChunksQueue run at a lower priority than those of new work."""
    assert _runner_niceness("PlanFunctionStandby") == {10}
    assert _runner_niceness("SynthesizeFunctionRecoveryChunks") == {10}
    base = os.getpriority(os.PRIO_PROCESS, 0)
    assert _runner_niceness("PlanFunctionRequests") == {base}
    assert _runner_niceness("SynthesizeFunctionChunks") == {base}


def test_moto_runs_above_the_functions_where_it_may(stack: LocalStack) -> None:
    """moto stands in for AWS's servers, which never share a function's vCPUs: every call
    of every runner waits behind it, so it runs at a higher priority where the user may
    raise one (root or CAP_SYS_NICE), its request threads too."""
    moto_pid = stack.moto.pid
    assert moto_pid is not None
    base = os.getpriority(os.PRIO_PROCESS, 0)
    try:
        os.setpriority(os.PRIO_PROCESS, 0, base - 1)
    except PermissionError:
        expected = base  # not allowed here: it stays where it started
    else:
        os.setpriority(os.PRIO_PROCESS, 0, base)
        expected = MOTO_NICENESS
    threads = [int(t.name) for t in Path(f"/proc/{moto_pid}/task").iterdir()]
    assert {os.getpriority(os.PRIO_PROCESS, tid) for tid in threads} == {expected}


def test_request_to_playable_url_with_the_engines_audio(
    client: VoxflowClient, registry: Any
) -> None:
    text = "The pipeline speaks. Every word of it comes back as audio!"
    outcome = client.synthesize(text, format="wav", params=SILENT, metadata={"app": "test"})
    result = completed(outcome)
    assert result.cache == "miss"
    assert result.metadata == {"app": "test"}
    assert [chunk.index for chunk in outcome.chunks] == [0, 1]

    data, content_type = download(result.url)
    assert content_type == "audio/wav"
    assert len(data) == result.bytes
    pcm, rate = decode(data)
    assert rate == result.sample_rate == 22050
    assert len(pcm) / rate == pytest.approx(result.duration_s, abs=0.01)

    # The same audio the engine makes locally, joined with the default pause.
    engine = Engine(registry)
    chunks = split_into_chunks(normalize_text(text))
    local = [c.pcm for c in engine.synthesize(chunks, "joe", SynthesisParams(**SILENT))]
    expected = join_pcm(local, 22050, pause_s=0.2)
    assert len(pcm) == len(expected)
    assert np.corrcoef(pcm.astype(float), expected.astype(float))[0, 1] >= 0.999


def test_mulaw_request_for_telephony(client: VoxflowClient, registry: Any) -> None:
    """A Polly-style telephony request: raw G.711 µ-law at 8 kHz, the engine's audio
    resampled, under a key of its own (a wav of the same text is another object)."""
    text = "Thanks for calling. Please hold."
    result = completed(client.synthesize(text, format="mulaw", sample_rate=8000, params=SILENT))
    assert (result.format.value, result.sample_rate) == ("mulaw", 8000)
    data, content_type = download(result.url)
    assert content_type == "audio/mulaw"
    assert len(data) == result.bytes  # one byte a sample, no header

    engine = Engine(registry)
    chunks = split_into_chunks(normalize_text(text))
    local = [c.pcm for c in engine.synthesize(chunks, "joe", SynthesisParams(**SILENT))]
    expected = encode(join_pcm(local, 22050, pause_s=0.2), 22050, AudioFormat.MULAW)
    assert len(data) == len(expected.data)
    assert result.duration_s == pytest.approx(expected.duration_s, abs=1 / 8000)
    pcm, rate = decode(data, AudioFormat.MULAW)
    reference, _ = decode(expected.data, AudioFormat.MULAW)
    assert rate == 8000
    assert np.corrcoef(pcm.astype(float), reference.astype(float))[0, 1] >= 0.99


def test_repeat_is_a_cache_hit_without_synthesis(stack: LocalStack, client: VoxflowClient) -> None:
    text = "A phrase worth caching."
    first = completed(client.synthesize(text, format="mp3"))
    before = chunk_objects(stack)
    again = client.synthesize(text, format="mp3")
    hit = completed(again)

    assert hit.cache == "hit"
    assert hit.key == first.key
    assert again.chunks == []  # nothing was synthesized
    assert chunk_objects(stack) == before
    assert download(hit.url)[0] == download(first.url)[0]
    entry = stack.client("dynamodb").get_item(
        TableName=stack.stack.resources["CacheTable"], Key={"key": {"S": hit.key}}
    )["Item"]
    assert int(entry["hits"]["N"]) >= 1


def test_speech_marks_come_with_the_audio_and_with_a_hit(client: VoxflowClient) -> None:
    text = "Marks from the pipeline cost $49.95. Every word is timed, café included!"
    asked: dict[str, Any] = {"params": SILENT, "speech_marks": ["word", "sentence"]}
    result = completed(client.synthesize(text, format="mp3", **asked))
    assert result.marks_url is not None
    data, content_type = download(result.marks_url)
    assert content_type == "application/x-json-stream"
    marks = [json.loads(line) for line in data.decode().splitlines()]
    words = [mark for mark in marks if mark["type"] == "word"]
    assert [w["value"] for w in words] == [
        "Marks", "from", "the", "pipeline", "cost", "$49.95",
        "Every", "word", "is", "timed", "café", "included",
    ]  # fmt: skip
    assert all(text.encode()[w["start"] : w["end"]].decode() == w["value"] for w in words)
    assert [m["time"] for m in marks if m["type"] == "sentence"] == [
        words[0]["time"],
        words[6]["time"],
    ]
    pcm, rate = decode(download(result.url)[0])
    duration_ms = len(pcm) * 1000 / rate
    # The last word starts inside the audio, and less than a second before its end.
    assert duration_ms - 1000 < words[-1]["time"] < duration_ms

    again = completed(client.synthesize(text, format="mp3", **asked))
    assert again.cache == "hit"
    assert again.marks_url is not None
    assert download(again.marks_url)[0] == data
    plain = completed(client.synthesize(text, format="mp3", params=SILENT))
    assert plain.marks_url is None
    assert plain.key == result.key


def test_speech_marks_of_ssml_point_into_the_markup(client: VoxflowClient) -> None:
    ssml = (
        '<speak><s>Café <sub alias="World Wide Web">WWW</sub> fans <mark name="before"/>'
        '<break time="700ms"/><mark name="after"/>cheered.</s>'
        '<p>Tom &amp; <say-as interpret-as="cardinal">42</say-as> <prosody rate="slow">'
        "friends</prosody> agreed.</p></speak>"
    )
    asked: dict[str, Any] = {
        "params": SILENT,
        "text_type": "ssml",
        "speech_marks": ["word", "sentence", "ssml"],
    }
    result = completed(client.synthesize(ssml, format="mp3", **asked))
    assert result.marks_url is not None
    marks = [json.loads(line) for line in download(result.marks_url)[0].decode().splitlines()]
    raw = ssml.encode()
    words = [mark for mark in marks if mark["type"] == "word"]
    assert [w["value"] for w in words] == [
        "Café", "WWW", "fans", "cheered", "Tom", "&amp;", "42", "friends", "agreed",
    ]  # fmt: skip
    assert all(raw[w["start"] : w["end"]].decode() == w["value"] for w in words)
    at = {m["value"]: m for m in marks if m["type"] == "ssml"}
    assert raw[at["after"]["start"] : at["after"]["end"]] == b'<mark name="after"/>'
    assert at["after"]["time"] - at["before"]["time"] == pytest.approx(700, abs=1)
    assert 0 <= words[3]["time"] - at["after"]["time"] < 150  # "cheered", after the break
    times = [w["time"] for w in words]
    assert times == sorted(times)
    pcm, rate = decode(download(result.url)[0])
    # The second sentence is another chunk: its marks count the first one's audio and the
    # pause; all fall inside the audio.
    assert words[4]["time"] > at["after"]["time"] + 500
    assert times[-1] < len(pcm) * 1000 / rate
    assert [m["time"] for m in marks if m["type"] == "sentence"] == [times[0], times[4]]

    again = completed(client.synthesize(ssml, format="mp3", **asked))
    assert again.cache == "hit"
    assert again.marks_url is not None
    assert [json.loads(line) for line in download(again.marks_url)[0].decode().splitlines()] == (
        marks
    )


def test_reply_arriving_during_another_wait_is_kept(client: VoxflowClient) -> None:
    """A reply read while waiting on another request is deleted from the queue: the
    client keeps it for the wait that asks for it, instead of dropping it."""
    first = client.publish("Kept for later.", format="wav")
    with pytest.raises(WaitTimedOut):
        client.wait([first], timeout_s=0.01)
    second = client.publish("Waited on now.", format="wav")
    time.sleep(0.5)
    client.wait([second], timeout_s=120)  # reads the first request's reply on the way
    outcome = client.wait([first], timeout_s=120)[first]
    assert completed(outcome).request_id == first


def test_shared_chunks_are_synthesized_once(stack: LocalStack, client: VoxflowClient) -> None:
    tag = uuid.uuid4().hex[:6]
    first = f"Shared sentence {tag} one. Shared sentence {tag} two."
    second = f"Shared sentence {tag} two. A new sentence {tag} three."
    completed(client.synthesize(first, format="wav"))
    before = chunk_objects(stack)
    outcome = client.synthesize(second, format="flac")

    completed(outcome)
    after = chunk_objects(stack)
    new = set(after) - set(before)
    assert len(new) == 1  # only "three" was synthesized
    assert all(after[key] == before[key] for key in before)  # "two" was not rewritten
    assert sorted(chunk.index for chunk in outcome.chunks) == [0, 1]


def test_long_text_streams_ordered_chunk_events(client: VoxflowClient) -> None:
    text = " ".join([(CORPUS / "long.txt").read_text()] * 2)
    assert len(text) >= 5000
    outcome = client.synthesize(text, format="opus", timeout_s=600)
    result = completed(outcome)

    count = outcome.chunks[0].count
    assert count == len(split_into_chunks(normalize_text(text)))
    assert [chunk.index for chunk in outcome.chunks] == list(range(count))
    assert result.sample_rate == 48000
    # The chunks' audio plus the pauses between them is the whole.
    expected = sum(chunk.duration_s for chunk in outcome.chunks) + 0.2 * (count - 1)
    assert result.duration_s == pytest.approx(expected, abs=0.05)
    pcm, rate = decode(download(result.url)[0])
    assert len(pcm) / rate == pytest.approx(result.duration_s, rel=0.01)


def test_batch_request_gives_one_result_per_item(client: VoxflowClient) -> None:
    request_id = client.publish(
        items=[
            {"text": "First item.", "format": "wav"},
            {"text": "Second item.", "format": "ogg"},
            {"text": "   ", "item_id": "empty"},
        ]
    )
    ids = [f"{request_id}:0", f"{request_id}:1", f"{request_id}:empty"]
    outcomes = client.wait(ids, timeout_s=120)
    assert isinstance(outcomes[ids[0]].terminal, SynthesisCompleted)
    assert isinstance(outcomes[ids[1]].terminal, SynthesisCompleted)
    failed = outcomes[ids[2]].terminal
    assert isinstance(failed, SynthesisFailed)
    assert failed.code == "EMPTY_TEXT"
    assert failed.batch_id == request_id


def test_direct_sqs_message_and_duplicate_delivery(
    stack: LocalStack, client: VoxflowClient, bus_tap: str
) -> None:
    request_id = f"dup-{uuid.uuid4().hex[:8]}"
    body = json.dumps({"request_id": request_id, "text": "Delivered twice.", "format": "wav"})
    queue = stack.stack.resources["RequestsQueue"]
    sqs = stack.client("sqs")
    sqs.send_message(QueueUrl=queue, MessageBody=body)
    sqs.send_message(QueueUrl=queue, MessageBody=body)

    events = tapped(stack, bus_tap, request_id, wait_s=15)
    kinds = [event["detail-type"] for event in events]
    assert kinds.count("SynthesisCompleted") == 1
    assert kinds.count("ChunkSynthesized") == 1
    assert "SynthesisFailed" not in kinds


def test_poison_chunk_ends_in_dlq_and_synthesis_failed(stack: LocalStack, bus_tap: str) -> None:
    request_id = f"poison-{uuid.uuid4().hex[:8]}"
    task = {
        "request_id": request_id,
        "index": 0,
        "count": 1,
        "text": "This chunk names a model this deployment does not have.",
        "chunk_key": "0" * 64,
        "voice": "joe",
        "model_version": "f" * 64,
        "params": {
            "length_scale": 1.0,
            "noise_scale": 0.667,
            "noise_w": 0.8,
            "sentence_pause_s": 0.2,
        },
        "sample_rate": 22050,
    }
    sqs = stack.client("sqs")
    sqs.send_message(QueueUrl=stack.stack.resources["ChunksQueue"], MessageBody=json.dumps(task))

    events = tapped(stack, bus_tap, request_id, wait_s=20)
    failures = [event for event in events if event["detail-type"] == "SynthesisFailed"]
    assert len(failures) == 1
    assert failures[0]["detail"]["code"] == "SYNTHESIS_FAILED"
    assert failures[0]["detail"]["retryable"] is True

    dlq = stack.stack.resources["ChunksDLQ"]
    deadline = time.monotonic() + 20
    bodies: list[str] = []
    while time.monotonic() < deadline and not bodies:
        messages = sqs.receive_message(QueueUrl=dlq, WaitTimeSeconds=1).get("Messages", [])
        bodies = [message["Body"] for message in messages]
    assert [json.loads(body)["request_id"] for body in bodies] == [request_id]


def test_presigned_url_serves_exactly_the_stored_bytes(
    stack: LocalStack, client: VoxflowClient
) -> None:
    result = completed(client.synthesize("Bytes for bytes.", format="mp3"))
    data, content_type = download(result.url)
    stored = (
        stack.client("s3")
        .get_object(Bucket=stack.stack.resources["AudioBucket"], Key=f"audio/{result.key}.mp3")[
            "Body"
        ]
        .read()
    )
    assert data == stored
    assert content_type == "audio/mpeg"


def test_documented_put_events_entry(stack: LocalStack, client: VoxflowClient) -> None:
    """The entry README.md gives to `aws events put-events`, sent through boto3."""
    request_id = f"cli-{uuid.uuid4().hex[:8]}"
    detail = {
        "request_id": request_id,
        "text": "Hello from the AWS CLI.",
        "format": "mp3",
        "reply_to": {"queue_url": client.reply_queue_url},
    }
    entry = {
        "Source": "voxflow.tenant.acme",
        "DetailType": "SynthesisRequested",
        "EventBusName": client.target.bus_name,
        "Detail": json.dumps(detail),
    }
    assert stack.client("events").put_events(Entries=[entry])["FailedEntryCount"] == 0
    result = completed(client.wait([request_id], 60)[request_id])
    assert result.tenant == "acme"  # the source's tenant


def test_cli_publish_wait_save_and_status(stack: LocalStack, tmp_path: Path) -> None:
    env = {**os.environ, "VOXFLOW_LOCAL_STATE": str(stack.state_file)}
    audio = tmp_path / "cli.mp3"
    command = [sys.executable, "-m", "voxflow", "publish", "Published from the command line."]
    published = subprocess.run(
        [*command, "--wait", "--save", str(audio)],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert published.returncode == 0, published.stderr
    request_id, cache, duration, url = published.stdout.strip().split("\t")
    assert cache == "miss"
    assert url.startswith(stack.url)
    pcm, rate = decode(audio.read_bytes())
    assert len(pcm) / rate == pytest.approx(float(duration.split()[0]), abs=0.01)

    status = subprocess.run(
        [sys.executable, "-m", "voxflow", "status", request_id],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert status.returncode == 0, status.stderr
    job = json.loads(status.stdout)
    assert job["status"] == "completed"
    assert job["cache"] == "miss"


def test_async_client(stack: LocalStack) -> None:
    async def synthesize() -> Outcome:
        settings = AwsSettings.local(stack.url, stack.region)
        target = StackTarget.from_resources(stack.stack.resources)
        async with AsyncVoxflowClient(settings, target) as client:
            return await client.synthesize("Asynchronous hello.", format="ogg", timeout_s=120)

    result = completed(asyncio.run(synthesize()))
    assert result.format.value == "ogg"
    assert download(result.url)[1] == "audio/ogg"


@pytest.mark.parametrize(
    ("detail", "code"),
    [
        ({"text": "Hi.", "format": "aiff"}, "INVALID_REQUEST"),
        ({"text": "Hi.", "voice": "nobody"}, "UNKNOWN_VOICE"),
        ({"text": "x" * 100_001}, "TEXT_TOO_LONG"),
        ({"text": "Hi.", "params": {"length_scale": -1}}, "INVALID_REQUEST"),
        ({"text": "Hi.", "format": "mulaw", "sample_rate": 16000}, "INVALID_PARAMETER"),
    ],
)
def test_bad_requests_end_in_synthesis_failed_at_the_reply_target(
    stack: LocalStack, client: VoxflowClient, detail: dict[str, Any], code: str
) -> None:
    request_id = f"bad-{uuid.uuid4().hex[:8]}"
    detail = {**detail, "request_id": request_id, "reply_to": {"queue_url": client.reply_queue_url}}
    entry = {
        "Source": "voxflow.client",
        "DetailType": "SynthesisRequested",
        "EventBusName": client.target.bus_name,
        "Detail": json.dumps(detail),
    }
    assert stack.client("events").put_events(Entries=[entry])["FailedEntryCount"] == 0
    failed = client.wait([request_id], 60)[request_id].terminal
    assert isinstance(failed, SynthesisFailed)
    assert failed.code == code
    assert failed.retryable is False


def test_ssml_request_end_to_end(client: VoxflowClient, registry: Any) -> None:
    """An SSML request through the event path: the audio has the break and the slow
    sentence it asked for; invalid SSML ends in SynthesisFailed INVALID_SSML."""
    ssml = (
        "<speak>The pipeline reads SSML. <break time='1500ms'/>"
        "<prosody rate='50%'>Slowly now.</prosody></speak>"
    )
    outcome = client.synthesize(ssml, text_type="ssml", format="wav", params=SILENT)
    result = completed(outcome)
    pcm, rate = decode(download(result.url)[0])
    plain = completed(
        client.synthesize("The pipeline reads SSML. Slowly now.", format="wav", params=SILENT)
    )
    engine = Engine(registry)
    slow = next(
        engine.synthesize(
            ["Slowly now."], "joe", SynthesisParams(length_scale=2.0, noise_scale=0.0, noise_w=0.0)
        )
    )
    normal = next(engine.synthesize(["Slowly now."], "joe", SynthesisParams(**SILENT)))
    # The break's 1.5 s and the slow sentence's extra length, on top of the plain audio.
    expected_s = plain.duration_s + 1.5 + slow.duration_s - normal.duration_s
    assert len(pcm) / rate == pytest.approx(expected_s, abs=0.01)
    assert result.key != plain.key

    request_id = client.publish("<speak><audio src='x'/></speak>", text_type="ssml")
    failed = client.wait([request_id], 60)[request_id].terminal
    assert isinstance(failed, SynthesisFailed)
    assert failed.code == "INVALID_SSML"
    assert failed.retryable is False
    assert "line 1, column 8" in failed.message
