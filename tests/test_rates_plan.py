"""A request's format and sample_rate through plan, on moto server over HTTP: the rate is
part of the request key (and of nothing a chunk is keyed by), the job keeps it for
assembly, old requests keep their keys, and a rate the format cannot take ends in
SynthesisFailed INVALID_PARAMETER before any work is queued.
"""

import json
import uuid
from typing import Any

import pytest
from plan_harness import PlanHarness, plan_harness

from voxflow.engine.params import ResolvedParams
from voxflow.keys import KeyInput, request_key
from voxflow.pipeline.requests import handle_request_message
from voxflow.store import Job
from voxflow.voices import VoiceRegistry
from voxflow_local.moto_server import MotoServer

TEXT = "Press one for sales. Press two for support."


@pytest.fixture
def harness(moto: MotoServer, registry: VoiceRegistry) -> PlanHarness:
    return plan_harness(moto.url, registry)


def key_before_rates(job: Job, registry: VoiceRegistry, rate: int, audio_format: str) -> str:
    """The request key as plan made it before requests could ask for a rate."""
    voice = registry.get("joe")
    resolved = ResolvedParams(**json.loads(job.params_json))
    return request_key(
        KeyInput(TEXT, voice.voice_id, voice.model_version, resolved, rate), audio_format
    )


@pytest.mark.parametrize(
    ("audio_format", "rate"), [("wav", 22050), ("mp3", 22050), ("opus", 48000)]
)
def test_requests_without_a_rate_keep_their_keys(
    harness: PlanHarness, registry: VoiceRegistry, audio_format: str, rate: int
) -> None:
    job = harness.plan(TEXT, format=audio_format)
    assert job.key == key_before_rates(job, registry, rate, audio_format)
    assert job.output_rate == rate
    # Naming the default rate is the same request: the same audio, the same key.
    assert harness.plan(TEXT, format=audio_format, sample_rate=rate).key == job.key


def test_the_rate_is_in_the_request_key_and_in_no_chunk_key(harness: PlanHarness) -> None:
    jobs = {rate: harness.plan(TEXT, format="pcm", sample_rate=rate) for rate in (8000, 16000)}
    jobs[22050] = harness.plan(TEXT, format="pcm")
    assert len({job.key for job in jobs.values()}) == 3
    assert {job.output_rate for job in jobs.values()} == {8000, 16000, 22050}
    # The chunks are the voice's audio at its own rate, shared by every output rate.
    assert len({tuple(job.chunk_keys) for job in jobs.values()}) == 1
    assert {int(job.sample_rate) for job in jobs.values()} == {22050}


def test_mulaw_is_planned_at_8_khz_under_its_own_key(harness: PlanHarness) -> None:
    mulaw = harness.plan(TEXT, format="mulaw")
    alaw = harness.plan(TEXT, format="alaw", sample_rate=8000)
    pcm = harness.plan(TEXT, format="pcm", sample_rate=8000)
    assert (mulaw.format, mulaw.output_rate) == ("mulaw", 8000)
    assert (alaw.format, alaw.output_rate) == ("alaw", 8000)
    assert len({mulaw.key, alaw.key, pcm.key}) == 3
    # Polly's names are the same formats, and so the same keys.
    assert harness.plan(TEXT, format="ogg_opus").key == harness.plan(TEXT, format="opus").key


def failed_for(harness: PlanHarness, detail: dict[str, Any]) -> dict[str, Any]:
    request_id = f"rate-{uuid.uuid4().hex[:8]}"
    body = json.dumps({"request_id": request_id, "text": TEXT, **detail})
    handle_request_message(body, f"m-{request_id}", 1, harness.pipeline)
    (failed,) = [
        event
        for event in harness.outbox.details("SynthesisFailed")
        if event["request_id"] == request_id
    ]
    return failed


@pytest.mark.parametrize(
    ("detail", "code", "says"),
    [
        ({"format": "mulaw", "sample_rate": 16000}, "INVALID_PARAMETER", "mulaw cannot"),
        ({"format": "alaw", "sample_rate": 48000}, "INVALID_PARAMETER", "alaw cannot"),
        ({"format": "opus", "sample_rate": 22050}, "INVALID_PARAMETER", "opus cannot"),
        ({"format": "wav", "sample_rate": 11025}, "INVALID_REQUEST", "sample_rate must be"),
        ({"format": "wav", "sample_rate": "8000"}, "INVALID_REQUEST", "sample_rate"),
        ({"format": "json"}, "INVALID_REQUEST", "speech marks"),
    ],
)
def test_a_rate_or_format_it_cannot_deliver_fails_before_any_work(
    harness: PlanHarness, detail: dict[str, Any], code: str, says: str
) -> None:
    failed = failed_for(harness, detail)
    assert failed["code"] == code
    assert says in failed["message"]
    assert TEXT not in failed["message"]
    assert failed["retryable"] is False
    assert harness.outbox.tasks == []
