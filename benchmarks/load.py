"""Load with faults on the local stack: nothing lost, exactly one terminal event each.

Closed loop: ``--clients`` sender threads, each with its own VoxflowClient and reply
queue, publish phrases drawn from a Zipf distribution over ``--phrases`` generated
phrases (so the hot-phrase cache matters) plus ``--long-fraction`` long texts
(>= 2,000 characters, windows of the long corpus text in varied formats). Meanwhile
the functions' S3 and DynamoDB calls get throttles and 5xx injected
(``VOXFLOW_FAULTS``, voxflow_local.faults), a killer thread SIGKILLs synthesize runners
and restarts them, and one chunk task whose synthesis always fails must end in
SynthesisFailed after its retries. At the end: ``voxflow redrive all`` for the DLQs,
the sweeper until no job is pending, and the stragglers' replies.

Every reply is counted per request id (not deduplicated). Exit 1 if a request
accepted by the bus has no terminal event, or one has more than one.

Usage: python benchmarks/load.py --requests 2000 --kills 10 --fault-rate 0.05 --out out/load.json
"""

import argparse
import itertools
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from voxflow.aws import AwsClients, AwsSettings
from voxflow.client import StackTarget, VoxflowClient
from voxflow.client.messages import parse_reply
from voxflow.config import variables
from voxflow.events import SynthesisCompleted, SynthesisFailed
from voxflow.ops.sweeper import pipeline_for, sweeper_for
from voxflow.text import normalize_text, split_into_chunks
from voxflow_local.faults import (
    FAULTS_DIR_ENV,
    FAULTS_ENV,
    FAULTS_SEED_ENV,
    read_counts,
    read_fault_times,
)
from voxflow_local.stack import LocalStack
from voxflow_local.state import read_state

CORPUS = Path(__file__).parent / "corpus"
SYNTHESIZE = "SynthesizeFunction"
# Not ogg by default: libsndfile's Vorbis encoder overflows the stack (SIGSEGV) when one
# write holds more than ~60-100 s of audio, which a 2,000-character text is (NOTES.md).
LONG_FORMATS = "mp3,wav,flac,opus"
UNLIMITED = "1000000000"

_SUBJECTS = (
    "Your order",
    "The parcel",
    "Our team",
    "The meeting",
    "Your account",
    "The train",
    "The invoice",
    "This call",
    "The doctor",
    "Your table",
    "The update",
    "The flight",
)
_VERBS = (
    "has shipped",
    "is ready",
    "was moved",
    "starts soon",
    "needs review",
    "is delayed",
    "was approved",
    "is confirmed",
    "has arrived",
    "was updated",
)
_TAILS = (
    "today",
    "this morning",
    "at noon",
    "for Monday",
    "as planned",
    "right now",
    "again",
    "on time",
    "after lunch",
    "before five",
)


def phrases(count: int) -> list[str]:
    """``count`` distinct short phrases, the same every run."""
    combos = itertools.product(_TAILS, _VERBS, _SUBJECTS)
    return [f"{subject} {verb} {tail}." for tail, verb, subject in itertools.islice(combos, count)]


def long_texts() -> list[str]:
    """Windows of the long corpus text, each >= 2,000 characters, starting at each sentence."""
    sentences = split_into_chunks(normalize_text((CORPUS / "long.txt").read_text()))
    texts = []
    for start in range(len(sentences)):
        picked: list[str] = []
        for sentence in itertools.islice(itertools.cycle(sentences), start, None):
            picked.append(sentence)
            if sum(len(s) + 1 for s in picked) >= 2000:
                break
        texts.append(" ".join(picked))
    return texts


@dataclass
class Request:
    kind: str  # "short", "long" or "poison"
    request_id: str = ""
    published_at: float = 0.0
    answered_at: float | None = None
    terminals: int = 0
    status: str = ""  # completed / failed
    cache: str = ""
    code: str = ""


@dataclass
class Ledger:
    """Every request and every reply, shared by the sender threads."""

    requests: dict[str, Request] = field(default_factory=dict)
    rejected: int = 0  # put_events refused: never accepted, so not lost
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, body: str) -> str | None:
        reply = parse_reply(body)
        if not isinstance(reply, SynthesisCompleted | SynthesisFailed):
            return None
        with self.lock:
            request = self.requests.get(reply.request_id)
            if request is None:
                return None
            request.terminals += 1
            if request.answered_at is None:
                request.answered_at = time.monotonic()
                if isinstance(reply, SynthesisCompleted):
                    request.status, request.cache = "completed", reply.cache
                else:
                    request.status, request.code = "failed", reply.code
        return reply.request_id


def drain(client: VoxflowClient, ledger: Ledger, wait_s: int = 1) -> list[str]:
    return drain_queue(client._clients.sqs, client.reply_queue_url, ledger, wait_s)


def drain_queue(sqs: Any, queue_url: str, ledger: Ledger, wait_s: int = 1) -> list[str]:
    """Records every terminal event in the queue's next batch; returns their request ids."""
    response = sqs.receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_s
    )
    answered = []
    for message in response.get("Messages", []):
        request_id = ledger.record(message["Body"])
        if request_id is not None:
            answered.append(request_id)
        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return answered


def sender(
    client: VoxflowClient, ledger: Ledger, work: "list[tuple[str, str, str]]", stop: threading.Event
) -> None:
    """Closed loop: publish one request, wait for its terminal event (or give up on it
    for now: the final drain still counts it), publish the next."""
    while work and not stop.is_set():
        try:
            kind, text, fmt = work.pop()
        except IndexError:
            return
        request = Request(kind)
        try:
            request.published_at = time.monotonic()
            request.request_id = client.publish(text, format=fmt, tenant="load")
        except Exception as error:  # a refused put_events: botocore raises per-service errors
            print(f"publish failed: {error}", file=sys.stderr)
            with ledger.lock:
                ledger.rejected += 1
            continue
        with ledger.lock:
            ledger.requests[request.request_id] = request
        # Not forever: one held by a killed runner waits for the sweeper; the final drain
        # still counts its reply.
        deadline = time.monotonic() + (60 if kind == "long" else 20)
        while time.monotonic() < deadline and request.answered_at is None:
            try:
                drain(client, ledger)
            except Exception as error:  # botocore raises per-service errors
                print(f"receive failed: {error}", file=sys.stderr)
                time.sleep(1)


def synthesize_runners(stack: LocalStack) -> list[int]:
    state = read_state(stack._state_path)
    return [p.pid for p in state.processes if p.role == "runner" and p.function == SYNTHESIZE]


def killer(
    stack: LocalStack,
    kills: int,
    rng: random.Random,
    stop: threading.Event,
    done: list[str],
    *,
    killed_at: list[float],
) -> None:
    while len(done) < kills and not stop.wait(rng.uniform(1.0, 4.0)):
        pids = synthesize_runners(stack)
        if not pids:
            continue
        pid = rng.choice(pids)
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            continue
        killed_at.append(time.monotonic())
        time.sleep(0.3)  # reaped by restart_dead_runners' poll
        done.extend(stack.restart_dead_runners())


def poison_task(request_id: str) -> dict[str, Any]:
    """A chunk task naming a model this deployment lacks: synthesis fails every time."""
    return {
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


def pending_jobs(stack: LocalStack) -> int:
    dynamodb = stack.client("dynamodb")
    count = 0
    kwargs: dict[str, Any] = {
        "TableName": stack.stack.resources["JobsTable"],
        "FilterExpression": "#s = :p",
        "ExpressionAttributeNames": {"#s": "status"},
        "ExpressionAttributeValues": {":p": {"S": "pending"}},
        "Select": "COUNT",
    }
    while True:
        page = dynamodb.scan(**kwargs)
        count += int(page["Count"])
        if "LastEvaluatedKey" not in page:
            return count
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def redrive_all(stack: LocalStack) -> str:
    env = dict(os.environ, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "voxflow",
            "redrive",
            "all",
            "--endpoint-url",
            stack.url,
            "--region",
            stack.region,
            "--stack",
            stack.stack_name,
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    return (result.stdout + result.stderr).strip()


def redrive_moved(outputs: list[str]) -> dict[str, int]:
    """Messages moved per DLQ, from `voxflow redrive all`'s lines ("ChunksDLQ\t3 moved ...")."""
    moved: Counter[str] = Counter()
    for line in "\n".join(outputs).splitlines():
        parts = line.split("\t")
        if len(parts) >= 2 and parts[1].split(" ")[0].isdigit():
            moved[parts[0]] += int(parts[1].split(" ")[0])
    return dict(moved)


def percentile(values: list[float], fraction: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))], 3)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--long-fraction", type=float, default=0.1)
    parser.add_argument("--zipf-s", type=float, default=1.1)
    parser.add_argument("--phrases", type=int, default=300)
    parser.add_argument("--clients", type=int, default=8, help="concurrent closed-loop senders")
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--fault-rate", type=float, default=0.05)
    parser.add_argument("--synth-runners", type=int, default=3)
    parser.add_argument(
        "--sweep-older-than",
        type=float,
        default=60.0,
        help="the sweeper (every --sweep-every s, as SweeperFunction's schedule) "
        "takes jobs pending this long",
    )
    parser.add_argument("--sweep-every", type=float, default=30.0)
    parser.add_argument("--drain-s", type=float, default=600.0, help="most time for stragglers")
    parser.add_argument("--long-formats", default=LONG_FORMATS, help="comma-separated")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("out/load.json"))
    parser.add_argument(
        "--plot",
        type=Path,
        help="draw latencies and throughput as a PNG here (matplotlib, dev extra)",
    )
    return parser.parse_args()


def build_work(args: argparse.Namespace) -> list[tuple[str, str, str]]:
    """(kind, text, format) per request, in the order they are sent."""
    rng = random.Random(args.seed)
    short = phrases(args.phrases)
    weights = [1 / (rank**args.zipf_s) for rank in range(1, len(short) + 1)]
    longs = long_texts()
    formats = args.long_formats.split(",")
    work: list[tuple[str, str, str]] = []
    for _ in range(args.requests):
        if rng.random() < args.long_fraction:
            work.append(("long", rng.choice(longs), rng.choice(formats)))
        else:
            work.append(("short", rng.choices(short, weights)[0], "mp3"))
    work.reverse()  # senders pop from the end
    return work


def stack_env(args: argparse.Namespace, faults_dir: Path) -> dict[str, str]:
    return {
        FAULTS_ENV: f"s3:{args.fault_rate},dynamodb:{args.fault_rate}",
        FAULTS_SEED_ENV: str(args.seed),
        FAULTS_DIR_ENV: str(faults_dir),
        # Quotas are on in the template: out of the way, this measures the pipeline.
        variables.QUOTA_REQUESTS_PER_S.name: UNLIMITED,
        variables.QUOTA_REQUESTS_BURST.name: UNLIMITED,
        variables.QUOTA_CHARS_PER_S.name: UNLIMITED,
        variables.QUOTA_CHARS_BURST.name: UNLIMITED,
    }


def send_poison(stack: LocalStack, ledger: Ledger) -> tuple[Request, str]:
    """The poison chunk goes first, before the kills: its retries take seconds
    (1 s visibility), but a killed runner would hold it for the queue's whole timeout.
    It has no job of plan's, so no reply target: its events are read off the bus,
    through a queue a rule on its request id fills (the tap's URL is returned)."""
    poison = Request("poison", f"poison-{uuid.uuid4().hex[:8]}", time.monotonic())
    ledger.requests[poison.request_id] = poison
    sqs, events = stack.client("sqs"), stack.client("events")
    tap = sqs.create_queue(QueueName=f"load-{poison.request_id}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=tap, AttributeNames=["QueueArn"])["Attributes"]
    bus = stack.stack.resources["EventBus"].rsplit("/", 1)[-1]
    pattern = {"source": ["voxflow"], "detail": {"request_id": [poison.request_id]}}
    events.put_rule(Name="load-poison", EventBusName=bus, EventPattern=json.dumps(pattern))
    events.put_targets(
        Rule="load-poison", EventBusName=bus, Targets=[{"Id": "tap", "Arn": arn["QueueArn"]}]
    )
    sqs.send_message(
        QueueUrl=stack.stack.resources["ChunksQueue"],
        MessageBody=json.dumps(poison_task(poison.request_id)),
    )
    deadline = time.monotonic() + 60
    while poison.answered_at is None and time.monotonic() < deadline:
        drain_queue(sqs, tap, ledger)
    return poison, str(tap)


class Sweeps:
    """The sweeper on a schedule, as SweeperFunction runs on AWS; what it did, summed."""

    def __init__(self, stack: LocalStack, aws: AwsSettings, older_than_s: float) -> None:
        self._sweeper = sweeper_for(pipeline_for(stack.stack.resources, aws), aws)
        self._older_than_s = older_than_s
        self.totals: Counter[str] = Counter()

    def once(self) -> None:
        report = self._sweeper.sweep(self._older_than_s)
        self.totals.update(
            assembled=len(report.assembled),
            requeued=len(report.requeued),
            failed=len(report.failed),
        )

    def every(self, period_s: float, stop: threading.Event) -> None:
        while not stop.wait(period_s):
            try:
                self.once()
            except Exception as error:  # botocore raises per-service errors; sweep again later
                print(f"sweep failed: {error}", file=sys.stderr)


def stragglers(
    stack: LocalStack,
    clients: list[VoxflowClient],
    ledger: Ledger,
    sweeps: Sweeps,
    *,
    poison_tap: str,
    until: float,
    kills_done: "list[str]",
    kills: int,
) -> list[str]:
    """Redrive, sweep and drain until every request is answered and no job is pending."""
    redrives: list[str] = []
    settled_since: float | None = None  # no job pending: what is unanswered now is lost
    while time.monotonic() < until:
        for client in clients:
            while drain(client, ledger, wait_s=0):
                pass
        drain_queue(stack.client("sqs"), poison_tap, ledger, wait_s=0)
        unanswered = [r for r in ledger.requests.values() if r.answered_at is None]
        pending = pending_jobs(stack)
        if not unanswered and not pending and len(kills_done) >= kills:
            break
        settled_since = (settled_since or time.monotonic()) if not pending else None
        if settled_since is not None and time.monotonic() - settled_since > 60:
            break
        print(f"waiting: {len(unanswered)} unanswered, {pending} jobs pending", flush=True)
        if not redrives:  # once: the poison chunk would only come back to its DLQ
            redrives.append(redrive_all(stack))
        sweeps.once()
        time.sleep(5)
    return redrives


def main() -> int:
    args = parse_args()
    work = build_work(args)
    faults_dir = Path(tempfile.mkdtemp(prefix="voxflow-faults-"))
    concurrency = {SYNTHESIZE: args.synth_runners, "PlanFunction": 2}
    ledger = Ledger()
    kills: list[str] = []
    killed_at: list[float] = []
    load_before = os.getloadavg()
    logs = Path(tempfile.mkdtemp(prefix="voxflow-load-logs-"))
    with LocalStack(
        retry_visibility_s=1,
        concurrency=concurrency,
        extra_env=stack_env(args, faults_dir),
        log_dir=logs,
    ) as stack:
        aws = AwsSettings.local(stack.url, stack.region)
        target = StackTarget.from_resources(stack.stack.resources)
        clients = [VoxflowClient(AwsClients(aws), target) for _ in range(args.clients)]
        clients[0].synthesize("Warm up the runners.", timeout_s=180, tenant="load")
        poison, poison_tap = send_poison(stack, ledger)

        stop, sweeps_stop = threading.Event(), threading.Event()
        sweeps = Sweeps(stack, aws, args.sweep_older_than)
        started, started_wall = time.monotonic(), time.time()
        senders = [
            threading.Thread(target=sender, args=(client, ledger, work, stop), daemon=True)
            for client in clients
        ]
        background = [
            threading.Thread(
                target=killer,
                args=(stack, args.kills, random.Random(args.seed + 1), stop, kills),
                kwargs={"killed_at": killed_at},
                daemon=True,
            ),
            threading.Thread(
                target=sweeps.every, args=(args.sweep_every, sweeps_stop), daemon=True
            ),
        ]
        for thread in [*senders, *background]:
            thread.start()
        for thread in senders:
            thread.join()
        load_s = time.monotonic() - started
        print(f"load done in {load_s:.1f} s; kills so far {len(kills)}", flush=True)
        sweeps_stop.set()
        background[1].join()

        redrives = stragglers(
            stack,
            clients,
            ledger,
            sweeps,
            poison_tap=poison_tap,
            until=time.monotonic() + args.drain_s,
            kills_done=kills,
            kills=args.kills,
        )
        stop.set()
        background[0].join()
        # Late duplicates would come now.
        end = time.monotonic() + 10
        while time.monotonic() < end:
            for client in clients:
                drain(client, ledger, wait_s=0)
            drain_queue(stack.client("sqs"), poison_tap, ledger, wait_s=0)
            time.sleep(1)
        pending_left = pending_jobs(stack)
        wall_s = time.monotonic() - started
        for client in clients:
            client.close()

    report = summarize(ledger, poison, read_counts(faults_dir))
    report["timeline"] = timeline(ledger, started, killed_at)
    # The faults' times are wall-clock (each runner process records its own).
    report["timeline"]["faults"] = [
        [round(at - started_wall, 3), kind] for at, kind in read_fault_times(faults_dir)
    ]
    report.update(
        args={k: str(v) for k, v in vars(args).items()},
        load_s=round(load_s, 1),
        wall_s=round(wall_s, 1),
        kills=len(kills),
        killed=kills,
        redrive_moved=redrive_moved(redrives),
        sweeps=dict(sweeps.totals),
        pending_jobs_left=pending_left,
        load_average={"before": load_before, "after": os.getloadavg()},
        logs=str(logs),
    )
    answered = sum(report["outcomes"].get(s, 0) for s in ("completed", "failed"))
    report["throughput_rps"] = round(answered / load_s, 2)
    write_report(args, report)
    poison_ok = poison.status == "failed" and poison.code == "SYNTHESIS_FAILED"
    bad = report["lost"] or report["multiple_terminal"] or pending_left or not poison_ok
    return 1 if bad else 0


def write_report(args: argparse.Namespace, report: dict[str, Any]) -> None:
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    shown = {k: v for k, v in report.items() if k not in ("killed", "args", "timeline")}
    print(json.dumps(shown, indent=2))
    if args.plot is not None:
        from voxflow_local.plots import load_chart

        print(f"chart in {load_chart(report, args.plot)}")


def timeline(ledger: Ledger, started: float, killed_at: list[float]) -> dict[str, Any]:
    """What --plot draws, in seconds since the load started: each request's publish and
    answer (None if none came) and class, and the runner kills (main adds the faults)."""
    requests = [
        [
            round(r.published_at - started, 3),
            None if r.answered_at is None else round(r.answered_at - started, 3),
            "long" if r.kind == "long" else ("hit" if r.cache == "hit" else "short_miss"),
        ]
        for r in ledger.requests.values()
        if r.kind != "poison"
    ]
    return {"requests": requests, "kills": [round(at - started, 3) for at in killed_at]}


def summarize(ledger: Ledger, poison: Request, faults: dict[str, dict[str, int]]) -> dict[str, Any]:
    requests = [r for r in ledger.requests.values() if r.kind != "poison"]
    latency: dict[str, list[float]] = defaultdict(list)
    for r in requests:
        if r.answered_at is not None:
            cls = "long" if r.kind == "long" else ("hit" if r.cache == "hit" else "short_miss")
            latency[cls].append(r.answered_at - r.published_at)
    answered = [r for r in requests if r.answered_at is not None]
    lost = [r.request_id for r in ledger.requests.values() if r.terminals == 0]
    multiple = [r.request_id for r in ledger.requests.values() if r.terminals > 1]
    return {
        "requests": len(requests),
        "rejected_by_bus": ledger.rejected,
        "outcomes": dict(Counter(r.status or "none" for r in requests)),
        "failure_codes": dict(Counter(r.code for r in requests if r.code)),
        "cache_hit_ratio": round(
            sum(r.cache == "hit" for r in answered) / max(1, len(answered)), 3
        ),
        "latency_s": {
            cls: {"n": len(v), "p50": percentile(v, 0.5), "p99": percentile(v, 0.99)}
            for cls, v in sorted(latency.items())
        },
        "poison": {
            "status": poison.status,
            "code": poison.code,
            "terminals": poison.terminals,
        },
        "faults": {
            service: {
                "injected": faults["injected"].get(service, 0),
                "calls": calls,
                "percent": round(100 * faults["injected"].get(service, 0) / max(1, calls), 2),
            }
            for service, calls in faults["calls"].items()
        },
        "fault_kinds": faults["kinds"],
        "lost": len(lost),
        "lost_ids": lost[:20],
        "multiple_terminal": len(multiple),
        "multiple_ids": multiple[:20],
    }


if __name__ == "__main__":
    sys.exit(main())
