"""The container worker (python -m voxflow.worker) on the local stack, with the real voice.

The stack runs PlanFunction only, so the chunks queue has no Lambda consumer:
every chunk here is synthesized by worker processes in local mode, as in the
primary region. Fast unit tests of the loop, against an in-process fake queue,
are at the end.
"""

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from bus_tap import tapped
from conftest import StartStack

from voxflow.audio import decode, join_pcm
from voxflow.aws import AwsClients, AwsSettings
from voxflow.client import StackTarget, VoxflowClient
from voxflow.config import Config
from voxflow.engine import Engine, SynthesisParams
from voxflow.events import SynthesisCompleted
from voxflow.text import normalize_text, split_into_chunks
from voxflow.voices import VoiceRegistry
from voxflow.worker.heartbeat import provider_label
from voxflow.worker.loop import (
    Aborted,
    Batch,
    BatchLoop,
    StopSignal,
    VisibilityKeeper,
    WorkerContext,
)
from voxflow.worker.readiness import is_ready
from voxflow.worker.settings import WorkerSettings, WorkerSettingsError
from voxflow_local.stack import LocalStack

SILENT: dict[str, Any] = {"noise_scale": 0.0, "noise_w": 0.0}
# What every line of powertools' Logger carries, on Lambda as in the worker.
POWERTOOLS_KEYS = {"level", "location", "message", "timestamp", "service"}
CORPUS = Path(__file__).resolve().parent.parent / "benchmarks" / "corpus"
READY_TIMEOUT_S = 120


@pytest.fixture(scope="module")
def stack(local_stack: StartStack) -> LocalStack:
    return local_stack(functions=["PlanFunction"], retry_visibility_s=1)


@pytest.fixture(scope="module")
def client(stack: LocalStack) -> Iterator[VoxflowClient]:
    clients = AwsClients(AwsSettings.local(stack.url, stack.region))
    with VoxflowClient(clients, StackTarget.from_resources(stack.stack.resources)) as voxflow:
        yield voxflow


class WorkerProcess:
    """``python -m voxflow_local.worker``: the product worker in a local region."""

    def __init__(self, stack: LocalStack, directory: Path, **env: str) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.ready_file = directory / "ready"
        self.log_path = directory / "worker.log"
        self.env = {**os.environ, "VOXFLOW_READY_FILE": str(self.ready_file), **env}
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "voxflow_local.worker", "--state-file", str(stack.state_file)],
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=self._log,
        )

    def check_ready(self) -> int:
        return subprocess.run(
            [sys.executable, "-m", "voxflow.worker", "--check-ready"], env=self.env, check=False
        ).returncode

    def wait_ready(self) -> dict[str, Any]:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not self.ready_file.exists():
            assert self.process.poll() is None, self.log()
            assert time.monotonic() < deadline, self.log()
            time.sleep(0.05)
        details: dict[str, Any] = json.loads(self.ready_file.read_text())
        return details

    def stop(self, sig: int = signal.SIGTERM, timeout_s: float = 60) -> tuple[int, float]:
        """Signal it; its exit code and how long it took to exit."""
        started = time.monotonic()
        self.process.send_signal(sig)
        code = self.process.wait(timeout_s)
        return code, time.monotonic() - started

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def entries(self) -> list[dict[str, Any]]:
        """Every JSON log line, the worker's own and the handler's (not the metrics that
        powertools' Metrics prints as JSON too: EMF blobs, under "_aws")."""
        parsed = [json.loads(line) for line in self.log().splitlines() if line.startswith("{")]
        return [entry for entry in parsed if "_aws" not in entry]

    def lines(self, message: str) -> list[dict[str, Any]]:
        return [entry for entry in self.entries() if entry["message"] == message]

    def batches(self, received: int, timeout_s: float = 10) -> list[dict[str, Any]]:
        """The batch log lines, once they account for ``received`` messages (the line
        comes after the batch is settled, a moment after its events)."""
        deadline = time.monotonic() + timeout_s
        while sum(line["received"] for line in self.lines("batch")) < received:
            assert time.monotonic() < deadline, self.log()
            time.sleep(0.05)
        return self.lines("batch")

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._log.close()


@pytest.fixture
def workers(stack: LocalStack, tmp_path: Path) -> Iterator[list[WorkerProcess]]:
    started: list[WorkerProcess] = []
    yield started
    for worker in started:
        worker.close()


def start_worker(
    stack: LocalStack, workers: list[WorkerProcess], tmp_path: Path, **env: str
) -> WorkerProcess:
    worker = WorkerProcess(stack, tmp_path / f"worker-{len(workers)}", **env)
    workers.append(worker)
    return worker


def heartbeat_sum(stack: LocalStack, dimensions: dict[str, str]) -> float:
    now = datetime.now(UTC)
    response = stack.client("cloudwatch").get_metric_statistics(
        Namespace="voxflow",
        MetricName="WorkerHeartbeat",
        Dimensions=[{"Name": name, "Value": value} for name, value in dimensions.items()],
        StartTime=now - timedelta(minutes=10),
        EndTime=now + timedelta(minutes=1),
        Period=60,
        Statistics=["Sum"],
    )
    return float(sum(point["Sum"] for point in response["Datapoints"]))


def test_worker_warms_up_then_synthesizes_the_engines_audio_and_beats(
    stack: LocalStack,
    client: VoxflowClient,
    registry: VoiceRegistry,
    workers: list[WorkerProcess],
    tmp_path: Path,
) -> None:
    beats_before = heartbeat_sum(stack, {"Region": stack.region})
    worker = start_worker(stack, workers, tmp_path, VOXFLOW_HEARTBEAT_S="1")
    assert worker.check_ready() == 1  # still importing: the health check must fail

    ready = worker.wait_ready()
    # The ready file is written after the voice loaded and the warm-up phrase was spoken.
    assert ready["provider"] in ("CPUExecutionProvider", "CUDAExecutionProvider")
    assert ready["import_s"] > 0
    assert ready["warm_up_s"] > 0
    # Warm, the worker freezes what it built (voxflow.heap): boto3, the handler, the voice.
    assert ready["frozen_objects"] > 50_000
    entries = worker.entries()
    messages = [entry["message"] for entry in entries]
    assert messages.index("voice model loaded") < messages.index("ready")
    # One schema: the engine's line (through the handler's Logger) and the worker's own.
    assert all(entry.keys() >= POWERTOOLS_KEYS for entry in entries)
    assert {entry["service"] for entry in entries} == {"voxflow"}
    assert worker.check_ready() == 0

    text = "The worker speaks. Every word of it comes back as audio!"
    outcome = client.synthesize(text, format="wav", params=SILENT, timeout_s=120)
    result = outcome.terminal
    assert isinstance(result, SynthesisCompleted), result
    with urllib.request.urlopen(result.url, timeout=30) as response:
        pcm, rate = decode(response.read())
    chunks = split_into_chunks(normalize_text(text))
    local = [c.pcm for c in Engine(registry).synthesize(chunks, "joe", SynthesisParams(**SILENT))]
    assert len(pcm) == len(join_pcm(local, rate, pause_s=0.2))

    batches = worker.batches(received=2)
    assert sum(batch["received"] for batch in batches) == 2  # the text's two chunks
    assert {batch["provider"] for batch in batches} == {ready["provider"]}

    time.sleep(1.5)  # at least one beat after the first
    provider = provider_label(ready["provider"])
    assert heartbeat_sum(stack, {"Region": stack.region}) >= beats_before + 2
    assert heartbeat_sum(stack, {"Region": stack.region, "Provider": provider}) >= 2

    code, took_s = worker.stop()
    assert code == 0
    assert took_s < 10  # idle: only the current long poll (2 s) to wait out
    assert not worker.ready_file.exists()
    assert worker.check_ready() == 1


def test_sigterm_mid_job_loses_nothing_and_a_second_worker_finishes(
    stack: LocalStack,
    client: VoxflowClient,
    bus_tap: str,
    workers: list[WorkerProcess],
    tmp_path: Path,
) -> None:
    text = (CORPUS / "long.txt").read_text()[:1200].rsplit(".", 1)[0] + "."
    count = len(split_into_chunks(normalize_text(text)))
    assert count >= 8
    first = start_worker(stack, workers, tmp_path, VOXFLOW_WORKER_BATCH_SIZE="2")
    first.wait_ready()

    request_id = client.publish(text, format="mp3")
    deadline = time.monotonic() + 120
    while not (client.status(request_id) or {}).get("done"):
        assert time.monotonic() < deadline, first.log()
        time.sleep(0.1)
    code, took_s = first.stop()
    assert code == 0
    assert took_s < 30  # it finished its batch of two chunks, no more
    status = client.status(request_id)
    assert status is not None
    assert status["status"] == "pending"  # work was left over
    assert 0 < len(status["done"]) < count

    second = start_worker(stack, workers, tmp_path)
    second.wait_ready()
    outcome = client.wait([request_id], timeout_s=180)[request_id]
    assert isinstance(outcome.terminal, SynthesisCompleted), outcome.terminal
    events = tapped(stack, bus_tap, request_id, wait_s=3)
    kinds = [event["detail-type"] for event in events]
    assert kinds.count("SynthesisCompleted") == 1
    assert "SynthesisFailed" not in kinds
    indices = sorted(e["detail"]["index"] for e in events if e["detail-type"] == "ChunkSynthesized")
    assert indices == list(range(count))  # every chunk once: none lost, none done twice
    assert second.stop()[0] == 0


def test_poison_message_fails_alone_and_stays_for_redrive(
    stack: LocalStack, client: VoxflowClient, workers: list[WorkerProcess], tmp_path: Path
) -> None:
    sqs = stack.client("sqs")
    chunks_queue = stack.stack.resources["ChunksQueue"]
    poison = json.dumps({"request_id": f"poison-{uuid.uuid4().hex[:8]}", "index": "first"})
    sqs.send_message(QueueUrl=chunks_queue, MessageBody=poison)
    # Plan queues the request's chunk tasks beside the poison before any worker runs,
    # so the worker's first batch holds all three.
    request_id = client.publish("A good chunk. And another good one.", format="wav")
    deadline = time.monotonic() + 60
    while (client.status(request_id) or {}).get("chunk_count") is None:
        assert time.monotonic() < deadline
        time.sleep(0.1)

    worker = start_worker(stack, workers, tmp_path, VOXFLOW_WORKER_BATCH_WAIT_S="1")
    worker.wait_ready()
    outcome = client.wait([request_id], timeout_s=120)[request_id]
    assert isinstance(outcome.terminal, SynthesisCompleted), outcome.terminal
    first_batch = worker.batches(received=3)[0]
    assert (first_batch["received"], first_batch["failed"]) == (3, 1)

    # Left in the queue, redelivered and failed again until the redrive policy moves it.
    dlq = stack.stack.resources["ChunksDLQ"]
    deadline = time.monotonic() + 30
    bodies: list[str] = []
    while time.monotonic() < deadline and poison not in bodies:
        messages = sqs.receive_message(QueueUrl=dlq, WaitTimeSeconds=1).get("Messages", [])
        bodies += [message["Body"] for message in messages]
    assert poison in bodies
    assert worker.stop()[0] == 0


def test_short_lane_is_served_first_then_the_long_lane(
    stack: LocalStack, client: VoxflowClient, workers: list[WorkerProcess], tmp_path: Path
) -> None:
    # Both planned before any worker runs: a long job's tasks on LongChunksQueue, then a
    # short one's on ChunksQueue. The worker takes the short lane first.
    tag = uuid.uuid4().hex[:6]
    # The tag never ends a sentence: one ending in "cf" reads as an abbreviation ("cf."),
    # and the five sentences became one chunk (about 1 run in 200).
    long_text = " ".join(f"Long lane sentence {n} of run {tag} now." for n in range(5))
    long_id = client.publish(long_text, format="wav", params=SILENT)
    short_id = client.publish(f"Short lane {tag}.", format="wav", params=SILENT)
    deadline = time.monotonic() + 60
    while any((client.status(r) or {}).get("chunk_count") is None for r in (long_id, short_id)):
        assert time.monotonic() < deadline
        time.sleep(0.1)

    worker = start_worker(stack, workers, tmp_path, VOXFLOW_WORKER_BATCH_SIZE="2")
    ready = worker.wait_ready()
    assert ready["long_queue"] == stack.stack.resources["LongChunksQueue"]
    outcomes = client.wait([short_id, long_id], timeout_s=180)
    for outcome in outcomes.values():
        assert isinstance(outcome.terminal, SynthesisCompleted), outcome.terminal
    lanes = [batch["lane"] for batch in worker.batches(received=6)]
    assert lanes == ["short", "long", "long", "long"]  # 1 short chunk, then 5 long in twos
    assert worker.stop()[0] == 0


# ---- unit tests: the loop against an in-process fake queue ----


class FakeSqs:
    """receive/delete/change visibility on a list of messages; records every call."""

    def __init__(self, count: int) -> None:
        self.waiting = [
            {
                "MessageId": f"m{n}",
                "ReceiptHandle": f"r{n}",
                "Body": json.dumps({"n": n}),
                "MD5OfBody": "-",
                "Attributes": {"ApproximateReceiveCount": "1"},
            }
            for n in range(count)
        ]
        self.receives: list[int] = []
        self.deleted: list[str] = []
        self.visibility: list[tuple[str, int]] = []
        self.lock = threading.Lock()

    def receive_message(self, **kwargs: Any) -> dict[str, Any]:
        assert kwargs["MaxNumberOfMessages"] <= 10
        with self.lock:
            taken = self.waiting[: kwargs["MaxNumberOfMessages"]]
            del self.waiting[: len(taken)]
        self.receives.append(len(taken))
        return {"Messages": taken} if taken else {}

    def delete_message_batch(self, **kwargs: Any) -> dict[str, Any]:
        assert len(kwargs["Entries"]) <= 10
        self.deleted += [entry["ReceiptHandle"] for entry in kwargs["Entries"]]
        return {"Successful": [], "Failed": []}

    def change_message_visibility_batch(self, **kwargs: Any) -> dict[str, Any]:
        assert len(kwargs["Entries"]) <= 10
        with self.lock:
            self.visibility += [
                (e["ReceiptHandle"], e["VisibilityTimeout"]) for e in kwargs["Entries"]
            ]
        return {"Successful": [], "Failed": []}


def succeed(_event: dict[str, Any], _context: Any) -> None:
    return None


def make_loop(
    sqs: FakeSqs, handler: Any, stop: StopSignal | None = None, **settings: Any
) -> BatchLoop:
    return BatchLoop(
        sqs,
        WorkerSettings("http://localhost/123456789012/chunks", **settings),
        handler,
        queue_arn="arn:aws:sqs:us-east-1:123456789012:chunks",
        region="us-east-1",
        stop=stop or StopSignal(),
        new_context=lambda: WorkerContext("voxflow-worker", "test"),
    )


def gathered(loop: BatchLoop) -> Batch:
    batch = loop.gather()
    assert batch is not None
    return batch


def test_gather_fills_the_batch_across_receives_of_at_most_ten() -> None:
    sqs = FakeSqs(15)
    loop = make_loop(sqs, succeed, batch_size=12, batch_wait_s=1.0)
    batch = loop.gather()
    assert batch is not None
    assert [m["MessageId"] for m in batch.messages] == [f"m{n}" for n in range(12)]
    assert sqs.receives == [10, 2]


def test_settle_deletes_the_successes_and_leaves_the_failures() -> None:
    sqs = FakeSqs(3)
    seen: list[dict[str, Any]] = []

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        seen.append(event)
        assert context.get_remaining_time_in_millis() > 0
        return {"batchItemFailures": [{"itemIdentifier": "m1"}]}

    loop = make_loop(sqs, handler)
    outcome = loop.process(gathered(loop))
    assert (outcome.received, outcome.failed) == (3, 1)
    assert [record["messageId"] for record in seen[0]["Records"]] == ["m0", "m1", "m2"]
    assert seen[0]["Records"][0]["eventSource"] == "aws:sqs"
    assert sorted(sqs.deleted) == ["r0", "r2"]
    assert sqs.visibility == []  # the failure waits out its visibility, then redrives


def test_a_raising_handler_fails_the_whole_batch() -> None:
    sqs = FakeSqs(2)

    def handler(event: dict[str, Any], context: Any) -> None:
        raise RuntimeError("init failed")

    loop = make_loop(sqs, handler, retry_visibility_s=1)
    outcome = loop.process(gathered(loop))
    assert outcome.failed == 2
    assert outcome.error == "RuntimeError: init failed"
    assert sqs.deleted == []
    assert sorted(sqs.visibility) == [("r0", 1), ("r1", 1)]


def test_stop_releases_what_was_received_but_not_started() -> None:
    sqs = FakeSqs(2)
    stop = StopSignal()
    calls: list[Any] = []

    def receive_then_stop(**kwargs: Any) -> dict[str, Any]:
        stop.request()  # SIGTERM arrives during the long poll
        return FakeSqs.receive_message(sqs, **kwargs)

    sqs.receive_message = receive_then_stop  # type: ignore[method-assign]

    def record(event: dict[str, Any], _context: Any) -> None:
        calls.append(event)

    make_loop(sqs, record, stop).run()
    assert calls == []
    assert sorted(sqs.visibility) == [("r0", 0), ("r1", 0)]
    assert sqs.deleted == []


def test_first_signal_finishes_the_batch_second_releases_it() -> None:
    sqs = FakeSqs(2)
    stop = StopSignal()
    started, finish = threading.Event(), threading.Event()

    def slow(event: dict[str, Any], context: Any) -> None:
        started.set()
        finish.wait(10)

    loop = make_loop(sqs, slow, stop)
    batch = gathered(loop)

    def signal_twice() -> None:
        started.wait(5)
        stop.request()
        stop.request()

    threading.Thread(target=signal_twice).start()
    with pytest.raises(Aborted):
        loop.process(batch)
    finish.set()
    assert sorted(sqs.visibility) == [("r0", 0), ("r1", 0)]
    assert sqs.deleted == []

    sqs, stop = FakeSqs(1), StopSignal()

    def signalled_midway(event: dict[str, Any], context: Any) -> None:
        stop.request()
        time.sleep(0.5)

    make_loop(sqs, signalled_midway, stop).run()  # stops after the batch, which it finishes
    assert sqs.deleted == ["r0"]


def test_visibility_is_extended_while_a_batch_runs() -> None:
    sqs = FakeSqs(2)
    messages = sqs.waiting[:]
    with VisibilityKeeper(sqs, "queue", messages, visibility_s=2) as keeper:
        time.sleep(2.5)  # steps at 1 s and 2 s
    assert keeper.extensions >= 2
    assert sqs.visibility == [("r0", 2), ("r1", 2)] * keeper.extensions


def test_settings_from_env_are_validated() -> None:
    env = {"VOXFLOW_CHUNKS_QUEUE_URL": "http://localhost:5000/123456789012/chunks"}
    settings = WorkerSettings.of(Config.load(env))
    assert (settings.batch_size, settings.batch_wait_s, settings.visibility_s) == (8, 0.05, 60)
    assert (settings.heartbeat_s, settings.handler) == (10.0, "app.handler")
    assert settings.ready_file == Path("/tmp/voxflow-worker-ready")
    assert settings.handler_dir == Path("/var/task")
    assert settings.long_chunks_queue_url is None  # an older stack: one lane
    long_url = "http://localhost:5000/123456789012/long-chunks"
    two_lanes = WorkerSettings.of(Config.load({**env, "VOXFLOW_LONG_CHUNKS_QUEUE_URL": long_url}))
    assert two_lanes.long_chunks_queue_url == long_url
    for name, value in [
        ("VOXFLOW_WORKER_BATCH_SIZE", "0"),
        ("VOXFLOW_WORKER_BATCH_SIZE", "eight"),
        ("VOXFLOW_WORKER_BATCH_WAIT_S", "-1"),
        ("VOXFLOW_WORKER_VISIBILITY_S", "1"),
        ("VOXFLOW_HEARTBEAT_S", "0"),
        ("VOXFLOW_HANDLER", "handler"),
        ("VOXFLOW_LONG_CHUNKS_QUEUE_URL", "long-chunks"),
    ]:
        with pytest.raises(WorkerSettingsError, match=name):
            WorkerSettings.of(Config.load({**env, name: value}))
    with pytest.raises(WorkerSettingsError, match="VOXFLOW_CHUNKS_QUEUE_URL"):
        WorkerSettings.of(Config.load({}))


def test_ready_means_the_file_exists_and_was_touched_recently(tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    assert not is_ready(ready, heartbeat_s=10)
    ready.write_text("{}")
    assert is_ready(ready, heartbeat_s=10)
    assert not is_ready(ready, heartbeat_s=10, now=time.time() + 31)


# One script, in a fresh interpreter: logging's configuration is process-wide.
LOG_SCHEMA_PROBE = """
import json, sys
from voxflow.worker.__main__ import _service_logger
worker = _service_logger()
from aws_lambda_powertools import Logger
from voxflow.worker import heartbeat, loop
worker.info("ready", extra={"provider": "CPUExecutionProvider"})
loop.logger.info("batch", extra={"lane": "short", "received": 2})
heartbeat.logger.warning("heartbeat: put_metric_data failed", extra={"error_type": "E"})
Logger().info("what a function logs", extra={"message_id": "m-1"})  # as functions/*/app.py
"""


def test_worker_lines_have_the_functions_schema() -> None:
    """The worker's lines on ECS and the handler's on Lambda: one powertools format, one
    service, one stream, so one log query reads both."""
    env = {**os.environ, "POWERTOOLS_SERVICE_NAME": "voxflow"}
    probe = subprocess.run(
        [sys.executable, "-c", LOG_SCHEMA_PROBE],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert probe.returncode == 0, probe.stderr
    entries = [json.loads(line) for line in probe.stdout.splitlines()]
    assert [entry["message"] for entry in entries] == [
        "ready",
        "batch",
        "heartbeat: put_metric_data failed",
        "what a function logs",
    ]
    for entry in entries:
        assert entry.keys() - POWERTOOLS_KEYS <= {
            "provider",
            "lane",
            "received",
            "error_type",
            "message_id",
        }
        assert entry.keys() >= POWERTOOLS_KEYS
        assert entry["service"] == "voxflow"
    assert (entries[1]["lane"], entries[1]["received"]) == ("short", 2)  # fields at the top
    assert entries[2]["level"] == "WARNING"


def test_health_check_imports_no_logger() -> None:
    """--check-ready runs every few seconds: powertools (about 0.2 s to import) stays out."""
    probe = (
        "import sys; from voxflow.worker.__main__ import _check_ready; _check_ready(); "
        "print('aws_lambda_powertools' in sys.modules)"
    )
    env = {**os.environ, "VOXFLOW_READY_FILE": "/nonexistent/ready"}
    result = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
