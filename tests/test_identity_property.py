"""Exactly one terminal event per accepted message, under any interleaving (issue 11).

A hypothesis state machine plays a careless and hostile crowd of apps against the real
stores: the template deployed into moto server, the plan and synthesize steps' own
code, every job write and event put a real AWS call over HTTP. Only the queues are
the test's: it holds the messages, so it decides which is delivered when, delivers
them again, and stops a delivery between any two steps, either for good (a crash:
the message comes back) or for a while (a slow worker: others run meanwhile).

Steps are the calls on the job store, the chunk queue and the publisher. A crash is
never placed between an event's put and its "sent" mark: the event is out by then,
and sending it again after the lease is the at-least-once window that EventBridge
leaves (docs/pipeline.md, "Request identity").

Size: VOXFLOW_PROPERTY_EXAMPLES (default 20) runs of up to 30 steps.
"""

import json
import os
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
)

from voxflow.aws import AwsClients, AwsSettings
from voxflow.config import Config
from voxflow.engine import SpeechChunk, SynthesisParams
from voxflow.events import ChunkTask, ReplyTo, parse_chunk_task, request_source
from voxflow.keys import KeyInput, request_key
from voxflow.ops.sweeper import Sweeper, SweptJob
from voxflow.pipeline.chunks import BatchSynthesis, complete_chunk
from voxflow.pipeline.context import ChunkQueue, Pipeline
from voxflow.pipeline.publisher import EventPublisher
from voxflow.pipeline.requests import handle_request_message
from voxflow.regions import RegionConfig
from voxflow.service_settings import ServiceSettings
from voxflow.settings import EngineSettings
from voxflow.store import Job, JobStore
from voxflow.store.models import bind
from voxflow.text import normalize_text, split_into_chunks
from voxflow.voices import VoiceRegistry
from voxflow_local.deploy import deploy_stack
from voxflow_local.moto_server import MotoServer

pytestmark = pytest.mark.slow
EXAMPLES = int(os.environ.get("VOXFLOW_PROPERTY_EXAMPLES", "20"))
LEASE_S = 30.0
TERMINAL = {"SynthesisCompleted", "SynthesisFailed"}
# Two ids for many messages: most of them collide.
IDS = ("r1", "r2")
TENANTS = ("a", "b")
CONTENTS = {
    # {salt}: a word of each run's own, so each run synthesizes (the cache outlives runs).
    "short": {"text": "One chunk only, {salt}.", "voice": "joe"},
    "two": {"text": "First of two, {salt}. Second of two, {salt}.", "voice": "joe"},
    "bad-voice": {"text": "Nobody can say this, {salt}.", "voice": "no-such-voice"},
}


class Crash(Exception):
    """A worker died between two steps: its message is delivered again later."""


class FakeEngine:
    """Audio made from the text alone, so results can be traced to their text."""

    def synthesize(
        self,
        chunks: list[str],
        voice_id: str,  # noqa: ARG002 (the Engine's signature)
        params: SynthesisParams | None = None,  # noqa: ARG002
    ) -> Iterator[SpeechChunk]:
        for index, text in enumerate(chunks):
            seed = sum(text.encode()) % 1000
            pcm = (np.sin(np.arange(2205 + seed) * (seed + 1) / 500) * 8000).astype(np.int16)
            yield SpeechChunk(index=index, text=text, pcm=pcm, sample_rate=22050)


STEPS = (
    "create",
    "get",
    "add_reply_target",
    "chunks.send",
    "mark_dispatched",
    "record_chunk",
    "finish",
    "publish",
    "lease_resend",
)
Stop = tuple[str, int]  # the step's name, and which of its calls (0: the first)
stops = st.tuples(st.sampled_from(STEPS), st.integers(0, 2))


class Steps:
    """Counts each thread's steps by name; stops it at the one it was told to, for good
    or for a while."""

    def __init__(self) -> None:
        self._local = threading.local()

    def arm(self, stop: Stop | None, pause: "Pause | None" = None) -> None:
        self._local.seen = Counter()
        self._local.stop = stop
        self._local.pause = pause

    def step(self, name: str) -> None:
        stop: Stop | None = getattr(self._local, "stop", None)
        if stop is None:
            return
        seen: Counter[str] = self._local.seen
        nth = seen[name]
        seen[name] += 1
        if (name, nth) != stop:
            return
        pause: Pause | None = self._local.pause
        if pause is None:
            raise Crash(name)
        pause.reached.set()
        pause.release.wait(timeout=120)
        if pause.kill:
            raise Crash(name)


@dataclass
class Pause:
    reached: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    kill: bool = False


@dataclass(frozen=True)
class Sent:
    detail_type: str
    detail: dict[str, Any]
    target: str  # "bus" or a reply queue URL


class RecordingPublisher(EventPublisher):
    def __init__(self, inner: EventPublisher, steps: Steps) -> None:
        super().__init__(inner._events, inner._sqs, inner.bus_name)
        self.steps = steps
        self.sent: list[Sent] = []
        self._lock = threading.Lock()

    def publish(
        self,
        event: Any,
        reply_to: ReplyTo | None = None,
        *,
        reply_first: bool = False,
        on_replied: Callable[[], None] | None = None,
    ) -> None:
        self.steps.step("publish")  # a crash before the put: nothing is out
        if reply_first and reply_to is not None:
            self.deliver(event, reply_to)
            if on_replied is not None:
                on_replied()
        self._record(event, "bus")
        super().publish(event, None)
        if not reply_first and reply_to is not None:
            self.deliver(event, reply_to)

    def deliver(self, event: Any, reply_to: ReplyTo) -> None:
        self._record(event, reply_to.queue_url or str(reply_to.event_bus))
        super().deliver(event, reply_to)

    def _record(self, event: Any, target: str) -> None:
        with self._lock:
            self.sent.append(Sent(type(event).__name__, event.model_dump(mode="json"), target))


class MemoryChunkQueue(ChunkQueue):
    def __init__(self, steps: Steps) -> None:
        super().__init__(None, "memory://chunks")
        self.steps = steps
        self.tasks: list[ChunkTask] = []

    def send(
        self,
        tasks: list[ChunkTask],
        delay_s: int = 0,  # noqa: ARG002 (ChunkQueue's signature)
        *,
        recovery: bool = False,  # noqa: ARG002
        job_chunks: int | None = None,  # noqa: ARG002
    ) -> None:
        self.steps.step("chunks.send")
        self.tasks.extend(tasks)


def stepped_store(store: JobStore, steps: Steps) -> JobStore:
    """The store with a step before each write and read (not before the sent mark)."""
    for name in (
        "create",
        "get",
        "finish",
        "lease_resend",
        "add_reply_target",
        "record_chunk",
        "mark_dispatched",
    ):
        method = getattr(store, name)

        def stepped(*args: Any, _m: Callable[..., Any] = method, _n: str = name) -> Any:
            steps.step(_n)
            return _m(*args)

        setattr(store, name, stepped)
    return store


@dataclass
class World:
    pipeline: Pipeline
    publisher: RecordingPublisher
    chunks: MemoryChunkQueue
    steps: Steps
    sweeper: Sweeper
    reply_queues: list[str]
    clock: list[datetime]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, registry: VoiceRegistry) -> Iterator[World]:
    logs = tmp_path_factory.mktemp("identity-property")
    with MotoServer(log_path=logs / "moto.log") as moto:
        deployed = deploy_stack(moto.url, moto.region)
        (plan,) = [f for f in deployed.functions if f.logical_id == "PlanFunction"]
        service = ServiceSettings.of(Config.load(plan.environment))
        aws = AwsSettings.local(moto.url, moto.region)
        engine_settings = EngineSettings(cache_dir=Path(logs))
        pipeline = Pipeline.create(
            service,
            engine_settings,
            aws,
            RegionConfig.of(Config.load({})),
            registry=registry,
            engine=FakeEngine(),  # type: ignore[arg-type]
        )
        steps = Steps()
        clock = [datetime.now(UTC)]
        pipeline.jobs = stepped_store(
            JobStore(
                bind(Job, service.jobs_table, aws),
                service.job_ttl_s,
                clock=lambda: clock[0],
                send_lease_s=LEASE_S,
            ),
            steps,
        )
        publisher = RecordingPublisher(pipeline.publisher, steps)
        pipeline.publisher = publisher
        chunks = MemoryChunkQueue(steps)
        pipeline.chunk_queue = chunks
        queues = AwsClients(aws).sqs
        reply_queues = [
            queues.create_queue(QueueName=f"voxflow-replies-property-{n}")["QueueUrl"]
            for n in range(2)
        ]
        sweeper = Sweeper(pipeline, bind(SweptJob, service.jobs_table, aws))
        yield World(pipeline, publisher, chunks, steps, sweeper, reply_queues, clock)


@dataclass
class Message:
    kind: str  # "request" or "chunk"
    body: str
    message_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    receives: int = 0


@dataclass(frozen=True)
class Accepted:
    request_id: str
    tenant: str
    content: str
    target: str | None


def expected_key(world: World, content: str, salt: str) -> str:
    spec = CONTENTS[content]
    voice = world.pipeline.registry.get(spec["voice"])
    resolved = SynthesisParams(noise_scale=0.0, noise_w=0.0).resolve(voice.config)
    text = normalize_text(spec["text"].format(salt=salt))
    return request_key(
        KeyInput(text, voice.voice_id, voice.model_version, resolved, voice.sample_rate), "wav"
    )


class Crowd(RuleBasedStateMachine):
    """Apps publishing, workers delivering, crashing and stalling; see the module doc."""

    world: World  # set by the test that runs it

    def __init__(self) -> None:
        super().__init__()
        self.prefix = uuid.uuid4().hex[:8]
        self.salt = "".join(chr(ord("a") + int(digit, 16)) for digit in self.prefix)
        self.messages: list[Message] = []
        self.accepted: list[Accepted] = []
        self.owners: dict[str, tuple[str, str | None]] = {}
        self.paused: tuple[Message, Pause, threading.Thread, list[bool]] | None = None
        self.sent_before = len(self.world.publisher.sent)

    # -- apps -------------------------------------------------------------
    @rule(
        request_id=st.sampled_from(IDS),
        tenant=st.sampled_from(TENANTS),
        content=st.sampled_from(sorted(CONTENTS)),
        reply=st.sampled_from([None, 0, 1]),
    )
    def publish(self, request_id: str, tenant: str, content: str, reply: int | None) -> None:
        rid = f"{self.prefix}-{request_id}"
        url = None if reply is None else self.world.reply_queues[reply]
        body = {
            "request_id": rid,
            "tenant": tenant,
            "text": CONTENTS[content]["text"].format(salt=self.salt),
            "voice": CONTENTS[content]["voice"],
            "format": "wav",
            "params": {"noise_scale": 0.0, "noise_w": 0.0},
            "metadata": {"content": content},
            **({"reply_to": {"queue_url": url}} if url else {}),
        }
        # As the rule delivers the tenant's event: its source authenticates the tenant.
        envelope = {
            "source": request_source(tenant),
            "detail-type": "SynthesisRequested",
            "detail": body,
        }
        self.messages.append(Message("request", json.dumps(envelope)))
        self.accepted.append(Accepted(rid, tenant, content, url))

    # -- workers ----------------------------------------------------------
    @precondition(lambda self: self.messages)
    @rule(index=st.integers(0, 1000), crash_at=st.none() | stops)
    def deliver(self, index: int, crash_at: Stop | None) -> None:
        message = self.messages[index % len(self.messages)]
        if self.paused is not None and message is self.paused[0]:
            return  # in flight already (SQS hides it while its visibility lasts)
        self.world.steps.arm(crash_at)
        if self._run(message):
            self.messages.remove(message)
        self.world.steps.arm(None)

    @precondition(lambda self: self.messages and self.paused is None)
    @rule(index=st.integers(0, 1000), pause_at=stops)
    def deliver_slowly(self, index: int, pause_at: Stop) -> None:
        message = self.messages[index % len(self.messages)]
        pause = Pause()
        done: list[bool] = []

        def work() -> None:
            self.world.steps.arm(pause_at, pause)
            done.append(self._run(message))
            pause.reached.set()  # finished before its pause: nothing to wait for

        thread = threading.Thread(target=work, daemon=True)
        thread.start()
        pause.reached.wait(timeout=60)
        self.paused = (message, pause, thread, done)
        if not thread.is_alive() or done:
            self._settle()

    @precondition(lambda self: self.paused is not None)
    @rule(kill=st.booleans())
    def resume(self, kill: bool) -> None:
        assert self.paused is not None
        self.paused[1].kill = kill
        self._settle()

    @precondition(lambda self: self.paused is None)
    @rule()
    def leases_run_out(self) -> None:
        self.world.clock[0] += timedelta(seconds=LEASE_S + 1)

    @precondition(lambda self: self.paused is None)
    @rule()
    def sweep(self) -> None:
        self.world.sweeper.sweep(older_than_s=10**7)  # only the sends a crash left undone

    def _settle(self) -> None:
        assert self.paused is not None
        message, pause, thread, done = self.paused
        pause.release.set()
        thread.join(timeout=120)
        assert not thread.is_alive()
        self.paused = None
        if done and done[0] and message in self.messages:
            self.messages.remove(message)

    def _run(self, message: Message) -> bool:
        """Deliver once; True if the message is settled (deleted from its queue)."""
        message.receives += 1
        queued = len(self.world.chunks.tasks)
        try:
            if message.kind == "request":
                handle_request_message(
                    message.body, message.message_id, message.receives, self.world.pipeline
                )
            else:
                task = parse_chunk_task(message.body)
                batch = BatchSynthesis([task], self.world.pipeline)
                complete_chunk(task, batch, message.receives, self.world.pipeline)
        except Crash:
            return False
        finally:
            new = self.world.chunks.tasks[queued:]
            del self.world.chunks.tasks[queued:]
            self.messages.extend(Message("chunk", task.model_dump_json()) for task in new)
        return True

    # -- what must hold -----------------------------------------------------
    @invariant()
    def jobs_keep_their_owner(self) -> None:
        model = self.world.pipeline.jobs._model
        for request_id in IDS:
            rid = f"{self.prefix}-{request_id}"
            try:
                job = model.get(rid, consistent_read=True)
            except model.DoesNotExist:
                continue
            owner = (job.tenant, job.fingerprint)
            assert self.owners.setdefault(rid, owner) == owner, rid

    def teardown(self) -> None:
        if self.paused is not None:
            self._settle()
        for _ in range(40):  # every message delivered until none is left
            self.world.clock[0] += timedelta(seconds=LEASE_S + 1)
            self.world.steps.arm(None)
            for message in list(self.messages):
                if self._run(message):
                    self.messages.remove(message)
            if not self.messages:
                break
        self.world.sweeper.sweep(older_than_s=10**7)
        assert not self.messages
        self.jobs_keep_their_owner()  # invariants do not run in teardown
        self._check(self.world.publisher.sent[self.sent_before :])

    def _check(self, sent: list[Sent]) -> None:
        terminal = [s for s in sent if s.detail_type in TERMINAL]
        # Exactly one terminal event per (request, tenant, content) on the bus, and per
        # (request, tenant, content, target) at each reply target that was named.
        got = Counter(
            (s.detail["request_id"], s.detail["tenant"], s.detail["metadata"]["content"], t)
            for s in terminal
            for t in ({s.target} if s.target != "bus" else {"bus"})
        )
        wanted = {(a.request_id, a.tenant, a.content, "bus") for a in self.accepted} | {
            (a.request_id, a.tenant, a.content, a.target) for a in self.accepted if a.target
        }
        assert set(got) == wanted, (got, wanted)
        assert all(count == 1 for count in got.values()), got
        for s in terminal:
            rid, tenant = s.detail["request_id"], s.detail["tenant"]
            owner = self.owners.get(rid)
            content = s.detail["metadata"]["content"]
            if s.detail_type == "SynthesisCompleted":
                # Nobody gets audio made from another request's text.
                assert s.detail["key"] == expected_key(self.world, content, self.salt)
                assert owner is not None
                assert owner[0] == tenant
            elif s.detail["code"] != "REQUEST_ID_CONFLICT":
                assert owner is not None
                assert owner[0] == tenant


def test_every_accepted_message_gets_exactly_one_terminal_event(world: World) -> None:
    Crowd.world = world
    Crowd.TestCase.settings = settings(
        max_examples=EXAMPLES,
        stateful_step_count=30,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    Crowd.TestCase().runTest()


def test_a_stalled_writer_is_not_doubled_by_a_duplicate(world: World) -> None:
    """The race of 8b0bc77: a duplicate resent the event while its writer sat between
    the terminal write and the sent mark."""
    Crowd.world = world
    crowd = Crowd()
    crowd.publish(request_id="r1", tenant="a", content="short", reply=0)
    crowd.deliver(index=0, crash_at=None)  # plan: one chunk task queued
    crowd.deliver_slowly(index=0, pause_at=("publish", 1))  # after finish, before the put
    crowd.publish(request_id="r1", tenant="a", content="short", reply=0)
    crowd.deliver(index=1, crash_at=None)
    crowd.resume(kill=False)
    crowd.teardown()


def test_a_crashed_writer_is_replaced_after_its_lease(world: World) -> None:
    Crowd.world = world
    crowd = Crowd()
    crowd.publish(request_id="r1", tenant="b", content="two", reply=1)
    crowd.deliver(index=0, crash_at=None)
    crowd.deliver(index=0, crash_at=None)
    crowd.deliver_slowly(index=0, pause_at=("publish", 1))
    crowd.resume(kill=True)  # died after the terminal write: nothing sent yet
    crowd.sweep()  # within the lease: nobody sends
    sent = world.publisher.sent[crowd.sent_before :]
    assert not [s for s in sent if s.detail_type in TERMINAL]
    crowd.leases_run_out()
    crowd.sweep()
    crowd.teardown()


def test_chunks_split_as_the_contents_say() -> None:
    """The contents cover one-chunk and two-chunk requests (the assemble races)."""
    for content, count in (("two", 2), ("short", 1)):
        text = CONTENTS[content]["text"].format(salt="abcdefgh")
        assert len(split_into_chunks(normalize_text(text))) == count
