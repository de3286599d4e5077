"""The failover drill: load on two regions, the primary lost midway, then failback.

1. Wait until the primary is healthy (its workers warm and beating).
2. Publish ``requests`` requests at ``rate_per_s`` through the global client; after
   ``kill_after`` of them the primary fails (moto frozen, workers and runners killed).
3. Wait for every accepted request's terminal event. Requests that only the frozen
   primary holds (published to it just before the kill, not yet tapped by the
   replicator) cannot finish until it is back: after ``stall_s`` without progress
   the drill recovers the primary and waits for them there.
4. Failback: the primary recovers (if not already), becomes healthy, and
   ``failback_requests`` more requests must complete in it.

Figures (DrillReport): RPO (accepted requests that never got a terminal event), RTO
(kill → first request completed by the secondary), time until every accepted request
had its terminal event, requests with more than one terminal event, and chunk
synthesis counted from the chunk objects each region wrote itself (the replicator
tells its copies from the service's own writes): chunks synthesized in both regions
for requests finished before the kill (duplicates in normal operation), and chunks
the secondary synthesized again for requests interrupted by the kill against the
minimum (their chunks whose audio had not replicated to the secondary at the kill).
"""

import logging
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from voxflow.aws import AwsClients, AwsSettings
from voxflow.client import GlobalTarget, GlobalVoxflowClient, Outcome, Published, RegionalStack
from voxflow.client.regional import FAST_FAIL
from voxflow.client.target import StackTarget
from voxflow.errors import VoxflowError
from voxflow.events import DEFAULT_VOICE
from voxflow.store.chunk_keys import chunk_keys_in
from voxflow.store.jobs import PENDING
from voxflow_local.cpu import CpuSampler
from voxflow_local.drill.cpu_share import cpu_after_kill
from voxflow_local.drill.edge_urls import EdgeUrlCheck
from voxflow_local.drill.floor import EngineRate, SynthesisFloor, measure_engine, synthesis_floor
from voxflow_local.drill.load import drill_texts, medium_text
from voxflow_local.drill.report import DrillReport
from voxflow_local.regions import TwoRegionStack
from voxflow_local.replicator import REPLICATED_PREFIXES

logger = logging.getLogger("voxflow_local.drill")
CHUNK_PREFIX = REPLICATED_PREFIXES[1]


@dataclass(frozen=True)
class DrillSettings:
    requests: int = 200
    rate_per_s: float = 4.0
    kill_after: int | None = None  # default: half of the requests
    long_fraction: float = 0.1
    failback_requests: int = 3
    timeout_s: float = 900.0  # for all terminal events after the last publish
    stall_s: float = 60.0  # no progress this long during the outage: recover, wait there
    seed: int = 0
    # Before the kill, wait (up to 120 s) until the primary has answered this many: a
    # small drill on a loaded machine may otherwise lose the primary before its first
    # answer, and then has no URL handed out before the kill to play (edge).
    answered_before_kill: int = 0
    # Measure the engine in the drill's process before the load, for the synthesis
    # floor under the latencies after the kill (voxflow_local.drill.floor).
    measure_floor: bool = True

    @property
    def kill_index(self) -> int:
        return self.kill_after if self.kill_after is not None else self.requests // 2


def global_target(stack: TwoRegionStack) -> GlobalTarget:
    def regional(region: str) -> RegionalStack:
        local = stack.stacks()[region]
        clients = AwsClients(AwsSettings.local(local.url, region), config=FAST_FAIL)
        resources = dict(local.stack.resources)
        # The secondary has no tables of its own: the primary's replicas, same names.
        resources.setdefault("JobsTable", f"{stack.stack_name}-jobs")
        return RegionalStack(clients, StackTarget.from_resources(resources, stack.stack_name))

    return GlobalTarget(
        regional(stack.primary_region), regional(stack.secondary_region), stack.alarm_name
    )


class Drill:
    def __init__(
        self,
        stack: TwoRegionStack,
        settings: DrillSettings,
        progress: Callable[[str], None] = lambda _line: None,
    ) -> None:
        self.stack = stack
        self.settings = settings
        self.progress = progress
        self.report = DrillReport(requests=settings.requests)
        self.published: dict[str, Published] = {}
        self.failed_at: float | None = None
        self.recovered_at: float | None = None
        self._replicated_at_kill: set[str] = set()
        self._edge_urls: EdgeUrlCheck | None = None
        self._engine_rate: EngineRate | None = None
        self._cpu: CpuSampler | None = None  # from the kill until every request is answered

    def run(self) -> DrillReport:
        started = time.time()
        healthy_s = self.stack.wait_primary_healthy()
        self.progress(f"primary healthy after {healthy_s:.1f} s")
        if self.settings.measure_floor:
            self._engine_rate = measure_engine(medium_text(), DEFAULT_VOICE)
            self.progress(
                f"engine on one thread: {self._engine_rate.cpu_s_per_audio_s:.3f} CPU s per audio s"
            )
        with GlobalVoxflowClient(global_target(self.stack)) as client:
            time.sleep(1.5)  # past the health cache, the alarm now OK
            self._load(client)
            self._wait_all(client)
            if self._cpu is not None:
                self._cpu.stop()
            self._failback(client)
            self._sweep_stragglers(client)
            self._count(client, started)
        self.report.wall_s = round(time.time() - started, 1)
        return self.report

    # -- phases --------------------------------------------------------------------

    def _load(self, client: GlobalVoxflowClient) -> None:
        texts = drill_texts(self.settings.requests, self.settings.long_fraction, self.settings.seed)
        interval = 1.0 / self.settings.rate_per_s
        next_at = time.monotonic()
        for index, text in enumerate(texts):
            if index == self.settings.kill_index:
                self._wait_for_answers(client)
                self._kill(client)
            time.sleep(max(0.0, next_at - time.monotonic()))
            next_at += interval
            try:
                published = client.publish(text, format="mp3")
            except VoxflowError as error:
                self.report.rejected += 1
                logger.warning("request %d not accepted: %s", index, error)
                continue
            self.published[published.request_id] = published
        self.progress(f"published {len(self.published)} of {len(texts)}")

    def _wait_for_answers(self, client: GlobalVoxflowClient, timeout_s: float = 120.0) -> None:
        """``answered_before_kill``: wait for that many of the primary's answers, then for
        replication's lag, so that their audio has had its time to cross (an answer's
        object still in flight at the kill is asynchronous replication's exposure, which
        ``unreplicated_at_kill_ids`` reports, not what the edge check is about)."""
        wanted = self.settings.answered_before_kill
        deadline = time.monotonic() + timeout_s
        while wanted and time.monotonic() < deadline:
            answered = sum(
                client.outcome(r).completed is not None
                and client.outcome(r).region == self.stack.primary_region
                for r in self.published
            )
            if answered >= wanted:
                time.sleep(2 * self.stack.lag_s + 1)
                return
            time.sleep(0.2)

    def _kill(self, client: GlobalVoxflowClient) -> None:
        assert self.stack.replicator is not None
        secondary = self.stack.secondary
        backlog = self.stack.replicator.backlog_by_kind()
        self.failed_at = self.stack.fail_primary()
        self._cpu = CpuSampler(lambda: secondary.process_labels).start()
        self.report.replication_backlog_at_kill = backlog
        self.report.killed_at_request = len(self.published)
        in_flight = [r for r in self.published if client.outcome(r).terminal is None]
        self.report.in_flight_at_kill_ids = in_flight
        self.report.in_flight_at_kill = len(in_flight)
        # What the secondary holds at the kill: the chunks it need not synthesize again.
        self._replicated_at_kill = _chunk_objects(secondary.client("s3"), _bucket(secondary))
        answered = sorted(set(self.published) - set(in_flight))
        self.report.unreplicated_at_kill_ids = _not_finished_in(secondary, answered)
        self._edge_urls = EdgeUrlCheck.at_kill(self.stack, client, answered)
        if self._edge_urls is not None:
            self._edge_urls.start(self.stack, settle_s=2 * self.stack.lag_s + 1)
        self.progress(f"primary killed after {len(self.published)} requests")

    def _wait_all(self, client: GlobalVoxflowClient) -> None:
        ids = list(self.published)
        deadline = time.monotonic() + self.settings.timeout_s
        # Terminal events decide when the stranded requests need the primary back (as
        # before); any event, chunks included, decides when the rest is left to the
        # sweeper: a long text's chunks coming one by one from a loaded lane is work
        # going on, not a stall.
        answered_at, answered = time.monotonic(), 0
        evented_at, events = time.monotonic(), 0
        while time.monotonic() < deadline:
            try:
                client.wait(ids, timeout_s=2.0)
                return
            except VoxflowError:
                pass
            outcomes = [client.outcome(r) for r in ids]
            now_answered = sum(o.terminal is not None for o in outcomes)
            now_events = now_answered + sum(len(o.chunks) for o in outcomes)
            now = time.monotonic()
            if now_answered != answered:
                answered_at, answered = now, now_answered
            if now_events != events:
                evented_at, events = now, now_events
            if now - answered_at > self.settings.stall_s and self.stack.primary_down:
                self.progress(f"{len(ids) - answered} requests stalled: recovering the primary")
                self._recover()
                answered_at = evented_at = time.monotonic()
            elif now - evented_at > 4 * self.settings.stall_s:
                # Both regions up and still no progress (longer than a killed runner's
                # messages stay invisible): what is left waits for the sweeper (on AWS
                # its schedule), not for the timeout.
                self.progress(f"{len(ids) - answered} requests stalled with both regions up")
                return

    def _sweep_stragglers(self, client: GlobalVoxflowClient) -> None:
        """What SweeperFunction does on AWS: finish, re-queue, then fail stuck jobs."""
        from voxflow.ops.sweeper import pipeline_for, sweeper_for

        unanswered = [r for r in self.published if client.outcome(r).terminal is None]
        for attempt in range(2):  # the first sweep re-queues, the second fails what is left
            waiting = [r for r in unanswered if client.outcome(r).terminal is None]
            if not waiting:
                break
            self.progress(f"{len(waiting)} requests without an answer: sweeping")
            for region, local in self._stacks():
                aws = AwsSettings.local(local.url, region)
                resources = dict(local.stack.resources)
                resources.setdefault("JobsTable", f"{local.stack_name}-jobs")
                resources.setdefault("CacheTable", f"{local.stack_name}-cache")
                swept = sweeper_for(pipeline_for(resources, aws), aws).sweep(older_than_s=0)
                self.report.sweeps.append({"attempt": attempt, "region": region, **swept.as_dict()})
            try:
                client.wait(waiting, timeout_s=60)
            except VoxflowError:
                continue
        self.report.finished_by_sweeper = [
            r for r in unanswered if client.outcome(r).terminal is not None
        ]

    def _stacks(self) -> list[tuple[str, Any]]:
        return list(self.stack.stacks().items())

    def _recover(self) -> None:
        self.recovered_at = self.stack.recover_primary()

    def _failback(self, client: GlobalVoxflowClient) -> None:
        result = self.report.failback
        if self.stack.primary_down:
            self._recover()
        assert self.recovered_at is not None
        result.recovered_to_healthy_s = round(
            self.stack.wait_primary_healthy() + (time.time() - self.recovered_at), 1
        )
        if not client.wait_for_primary(timeout_s=30):
            logger.warning("failback: the client still counts the primary unhealthy")
        ids = []
        for n in range(self.settings.failback_requests):
            published = client.publish(f"Failback request {n + 1}.", format="mp3")
            ids.append(published.request_id)
        result.requests = len(ids)
        try:
            outcomes = client.wait(ids, timeout_s=120)
        except VoxflowError as error:
            logger.warning("failback requests: %s", error)
            outcomes = {r: client.outcome(r) for r in ids}
        result.regions = [o.region for o in outcomes.values()]
        result.completed_in_primary = sum(
            o.completed is not None and o.region == self.stack.primary_region
            for o in outcomes.values()
        )
        result.ok = result.completed_in_primary == result.requests
        self.progress(f"failback: {result.completed_in_primary}/{result.requests} in the primary")

    # -- figures -------------------------------------------------------------------

    def _count(self, client: GlobalVoxflowClient, started: float) -> None:
        assert self.failed_at is not None
        assert self.stack.replicator is not None
        report = self.report
        # Late duplicates (the thawed primary's replies) arrive after the failback. Under
        # load replication can still be behind after 30 s: counted anyway, and said so.
        if not self.stack.replicator.wait_idle(30):
            report.replication_behind_at_count = True
            logger.warning("replication still behind when the drill counted")
        time.sleep(2)
        outcomes = {r: client.outcome(r) for r in self.published}
        report.accepted = len(outcomes)
        for published in self.published.values():
            report.accepted_by_region[published.region] = (
                report.accepted_by_region.get(published.region, 0) + 1
            )
        terminal = [o for o in outcomes.values() if o.terminal is not None]
        report.terminal = len(terminal)
        report.completed = sum(o.completed is not None for o in terminal)
        report.failed = report.terminal - report.completed
        report.rpo = report.accepted - report.terminal
        report.missing = {
            request_id: {
                "published_to": self.published[request_id].region,
                **{region: _job_summary(stack, request_id) for region, stack in self._stacks()},
            }
            for request_id, outcome in outcomes.items()
            if outcome.terminal is None
        }
        for outcome in terminal:
            region = outcome.region or "?"
            report.answered_by_region[region] = report.answered_by_region.get(region, 0) + 1
        report.multiple_terminal_regions = {
            o.request_id: o.terminal_regions for o in terminal if len(o.terminal_regions) > 1
        }
        report.multiple_terminal = len(report.multiple_terminal_regions)
        by_secondary = sorted(
            o.terminal_at
            for o in terminal
            if o.region == self.stack.secondary_region
            and o.completed is not None
            and o.terminal_at is not None
            and o.terminal_at >= self.failed_at
        )
        report.rto_s = round(by_secondary[0] - self.failed_at, 2) if by_secondary else None
        report.secondary_first_completions_s = self._first_completions(terminal)
        report.after_kill_latency_s = self._after_kill_latency(terminal)
        new_answers = self._new_answers(terminal)
        if self._cpu is not None and new_answers:
            last_answer = max(answered for _, answered in new_answers)
            report.cpu_after_kill = cpu_after_kill(self._cpu, self.failed_at, last_answer)
        interrupted = [o for o in terminal if o.request_id in set(report.in_flight_at_kill_ids)]
        report.interrupted_latency_s = _percentiles(
            [o.terminal_at - self.published[o.request_id].at for o in interrupted if o.terminal_at]
        )
        report.interrupted_after_kill_s = _percentiles(
            [o.terminal_at - self.failed_at for o in interrupted if o.terminal_at]
        )
        if self._engine_rate is not None:
            report.synthesis_floor = self._floor(terminal, self._engine_rate)
        if terminal and report.rpo == 0:
            last = max(o.terminal_at for o in terminal if o.terminal_at is not None)
            report.all_terminal_after_kill_s = round(last - self.failed_at, 1)
            report.all_terminal_after_start_s = round(last - started, 1)
        if self.recovered_at is not None:
            report.finished_only_after_failback = sum(
                o.terminal_at is not None and o.terminal_at >= self.recovered_at for o in terminal
            )
        self._count_chunks(outcomes)
        if self._edge_urls is not None:
            self._edge_urls.join()
            report.edge_urls_before_kill = len(self._edge_urls.handed_out)
            report.edge_urls_replicated_at_kill = self._edge_urls.replicated_at_kill
            report.edge_urls_playing_after_kill = len(self._edge_urls.playing)
            report.edge_urls_not_playing = self._edge_urls.not_playing
        report.timeline = self._timeline(terminal, started)

    def _timeline(self, terminal: list[Outcome], started: float) -> dict[str, Any]:
        assert self.failed_at is not None
        published = sorted(self.published.values(), key=lambda p: p.at)
        answered = sorted(
            (o.terminal_at, o.region or "?") for o in terminal if o.terminal_at is not None
        )
        # Detected: the first request the client sent to the secondary after the kill,
        # which it does once the primary's health alarm is in ALARM.
        detected = next(
            (
                p.at
                for p in published
                if p.at >= self.failed_at and p.region != self.stack.primary_region
            ),
            None,
        )
        marks: dict[str, float | None] = {
            "kill": self.failed_at,
            "detected": detected,
            "first_secondary_completion": (
                None if self.report.rto_s is None else self.failed_at + self.report.rto_s
            ),
            "recovered": self.recovered_at,
            "failback_healthy": (
                None
                if self.recovered_at is None or self.report.failback.recovered_to_healthy_s is None
                else self.recovered_at + self.report.failback.recovered_to_healthy_s
            ),
        }
        return {
            "primary": self.stack.primary_region,
            "secondary": self.stack.secondary_region,
            "published": [[round(p.at - started, 3), p.region] for p in published],
            "answered": [[round(at - started, 3), region] for at, region in answered],
            "marks": {k: None if v is None else round(v - started, 3) for k, v in marks.items()},
        }

    def _first_completions(self, terminal: list[Outcome], first: int = 5) -> dict[str, list[float]]:
        assert self.failed_at is not None
        timeline: dict[str, list[float]] = {"new": [], "interrupted": []}
        for outcome in terminal:
            at = outcome.terminal_at
            by_secondary = outcome.region == self.stack.secondary_region
            if not by_secondary or outcome.completed is None or at is None or at < self.failed_at:
                continue
            published_at = self.published[outcome.request_id].at
            kind = "new" if published_at >= self.failed_at else "interrupted"
            timeline[kind].append(round(at - self.failed_at, 2))
        return {kind: sorted(times)[:first] for kind, times in timeline.items()}

    def _new_answers(self, terminal: list[Outcome]) -> list[tuple[float, float]]:
        """(published, answered) of the requests published after the kill."""
        assert self.failed_at is not None
        return [
            (self.published[outcome.request_id].at, outcome.terminal_at)
            for outcome in terminal
            if outcome.terminal_at is not None
            and self.published[outcome.request_id].at >= self.failed_at
        ]

    def _after_kill_latency(self, terminal: list[Outcome]) -> dict[str, float]:
        return _percentiles(
            [answered - published for published, answered in self._new_answers(terminal)]
        )

    def _floor(self, terminal: list[Outcome], rate: EngineRate) -> SynthesisFloor:
        """The work of the requests published after the kill: their chunks whose audio
        the secondary did not hold at the kill and then made itself (not a replica of
        the primary's arriving late), with the durations of their events."""
        assert self.failed_at is not None
        assert self.stack.replicator is not None
        made = self.stack.replicator.native_objects(self.stack.secondary_region, CHUNK_PREFIX)
        # The secondary's replica: it made these jobs (one 200-request run read them from
        # the primary's after failback and found no chunk keys for any of the 86).
        jobs = _JobChunks(self.stack, secondary=True)
        needed: dict[str, tuple[float, dict[str, float]]] = {}
        for outcome in terminal:
            arrival = self.published[outcome.request_id].at
            if arrival < self.failed_at or outcome.completed is None:
                continue
            durations = {chunk.index: float(chunk.duration_s) for chunk in outcome.chunks}
            keys = jobs.chunk_key_list(outcome.request_id)
            needed[outcome.request_id] = (
                arrival - self.failed_at,
                {
                    key: durations.get(index, math.nan)
                    for index, key in enumerate(keys)
                    if f"{CHUNK_PREFIX}{key}.wav" in made - self._replicated_at_kill
                },
            )
        cores = os.cpu_count() or 1
        return synthesis_floor(needed, rate, cores, self.report.after_kill_latency_s)

    def _count_chunks(self, outcomes: dict[str, Outcome]) -> None:
        assert self.failed_at is not None
        assert self.stack.replicator is not None
        replicator = self.stack.replicator
        in_primary = replicator.native_objects(self.stack.primary_region, CHUNK_PREFIX)
        in_secondary = replicator.native_objects(self.stack.secondary_region, CHUNK_PREFIX)
        jobs = _JobChunks(self.stack)
        report = self.report
        chunks_of = {request_id: jobs.chunk_objects(request_id) for request_id in outcomes}
        answered_before = {
            request_id
            for request_id, outcome in outcomes.items()
            if outcome.terminal_at is not None and outcome.terminal_at < self.failed_at
        }
        # Chunks are content-addressed: a sentence shared with a request the secondary
        # worked on after the kill is that request's work if its audio had not reached
        # the secondary yet, not a duplicate of the request answered before.
        failover_work: set[str] = set().union(
            *(
                chunks
                for request_id, chunks in chunks_of.items()
                if request_id not in answered_before
            )
        )
        for request_id, outcome in outcomes.items():
            published = self.published[request_id]
            chunks = chunks_of[request_id]
            unreplicated = request_id in self.report.unreplicated_at_kill_ids
            if request_id in answered_before:
                both = sorted((chunks & in_primary & in_secondary) - failover_work)
                if unreplicated:
                    report.duplicated_chunks_unreplicated += len(both)
                    continue
                report.duplicated_chunks_normal += len(both)
                if both:
                    report.duplicated_normal_requests[request_id] = both
            elif published.at < self.failed_at:
                report.interrupted_requests += 1
                report.resynthesized_chunks += len(chunks & in_secondary)
                # Requests stranded in the frozen primary are finished there after the
                # failback: the secondary never had them to synthesize.
                if outcome.region == self.stack.secondary_region:
                    report.resynthesized_minimum += len(chunks - self._replicated_at_kill)


def _percentiles(seconds: list[float]) -> dict[str, float]:
    """p50, p99 and max of ``seconds`` (nearest rank), rounded; {} for none."""
    if not seconds:
        return {}
    ordered = sorted(seconds)

    def at(fraction: float) -> float:
        return round(ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))], 2)

    return {"p50": at(0.5), "p99": at(0.99), "max": round(ordered[-1], 2)}


class _JobChunks:
    """The chunk objects of each job, from the jobs table (either region's replica)."""

    def __init__(self, stack: TwoRegionStack, *, secondary: bool = False) -> None:
        self.dynamodb = (stack.secondary if secondary else stack.primary).client("dynamodb")
        self.table = f"{stack.stack_name}-jobs"

    def chunk_key_list(self, request_id: str) -> list[str]:
        """The job's chunk keys, by index."""
        item: dict[str, Any] = self.dynamodb.get_item(
            TableName=self.table, Key={"request_id": {"S": request_id}}, ConsistentRead=True
        ).get("Item", {})
        return chunk_keys_in(item["chunk_keys"]) if "chunk_keys" in item else []

    def chunk_objects(self, request_id: str) -> set[str]:
        return {f"{CHUNK_PREFIX}{key}.wav" for key in self.chunk_key_list(request_id)}


def _job_summary(stack: Any, request_id: str) -> dict[str, Any]:
    try:
        item: dict[str, Any] = (
            stack.client("dynamodb")
            .get_item(
                TableName=f"{stack.stack_name}-jobs",
                Key={"request_id": {"S": request_id}},
                ConsistentRead=True,
            )
            .get("Item", {})
        )
    except Exception as error:  # diagnostics only: a region may still be down
        return {"error": str(error)}
    fields = ("status", "owner_region", "chunk_count", "terminal_sent")
    summary = {name: next(iter(item[name].values())) for name in fields if name in item}
    summary["done"] = len(item.get("done", {}).get("NS", []))
    return summary


def _not_finished_in(stack: Any, request_ids: list[str]) -> list[str]:
    """Those of ``request_ids`` whose job in ``stack``'s region is missing or pending."""
    dynamodb, table = stack.client("dynamodb"), f"{stack.stack_name}-jobs"
    finished: set[str] = set()
    for start in range(0, len(request_ids), 100):
        keys = [{"request_id": {"S": r}} for r in request_ids[start : start + 100]]
        request: dict[str, Any] = {
            table: {
                "Keys": keys,
                "ProjectionExpression": "request_id, #s",
                "ExpressionAttributeNames": {"#s": "status"},
            }
        }
        while request:
            response = dynamodb.batch_get_item(RequestItems=request)
            finished.update(
                item["request_id"]["S"]
                for item in response["Responses"].get(table, [])
                if item.get("status", {}).get("S") != PENDING
            )
            request = response.get("UnprocessedKeys") or {}
    return [r for r in request_ids if r not in finished]


def _bucket(stack: Any) -> str:
    return str(stack.stack.resources["AudioBucket"])


def _chunk_objects(s3: Any, bucket: str) -> set[str]:
    keys: set[str] = set()
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=CHUNK_PREFIX):
        keys.update(item["Key"] for item in page.get("Contents", []))
    return keys


def run_drill(
    stack: TwoRegionStack,
    settings: DrillSettings,
    progress: Callable[[str], None] = lambda _line: None,
) -> DrillReport:
    return Drill(stack, settings, progress).run()
