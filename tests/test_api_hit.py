"""The HTTP API's hit with its controls (voxflow.api.speech_admission): the audit record,
quota and cache reads made together, the object read while the quota is charged, the
hit count and the audit's end together after the answer. On moto server over HTTP (the
API harness: real tables, S3 and voice, noise off): a hit is the event path's audio byte
for byte, charged once, audited in full and counted; a refused hit is audited as failed,
and not served."""

from datetime import UTC, datetime, timedelta

import pytest
from api_harness import SMALL_TENANT, ApiHarness, polly_client

from voxflow.api.speech import SpeechRequest, SpeechService
from voxflow.audio import AudioFormat
from voxflow.errors import Throttled

PHRASE = "Your order has shipped."


def cached_object(api: ApiHarness, key: str) -> bytes:
    entry = api.pipeline.cache.lookup(key)
    assert entry is not None
    return api.pipeline.audio.get(entry.s3_key)


def hits_of(api: ApiHarness, key: str) -> int:
    entry = api.pipeline.cache.lookup(key)
    assert entry is not None
    return int(entry.hits)


def test_a_polly_hit_is_the_event_paths_audio(api: ApiHarness) -> None:
    job = api.through_events(PHRASE, "pcm")
    before = hits_of(api, str(job.key))
    answer = polly_client(api.url).synthesize_speech(
        Text=PHRASE, VoiceId="joe", OutputFormat="pcm", SampleRate="22050"
    )
    assert answer["ResponseMetadata"]["HTTPHeaders"]["x-voxflow-cache"] == "hit"
    audio = answer["AudioStream"].read()
    assert audio == cached_object(api, str(job.key))
    assert len(audio) > 22050  # more than half a second of 16-bit samples
    assert hits_of(api, str(job.key)) == before + 1


def test_a_hit_is_charged_once_audited_in_full_and_counted(api: ApiHarness) -> None:
    service = SpeechService(api.pipeline, 3000)
    request = SpeechRequest("acme", PHRASE, "joe", AudioFormat.MP3)
    first = service.speak(request)
    quotas = api.pipeline.controls.quotas
    assert quotas is not None
    before = quotas.read("acme").version
    hit = service.speak(request)
    assert first.cache == "miss"
    assert hit.cache == "hit"
    assert hit.audio == first.audio
    # One charge, one write (the bucket refills to full between, so count the writes).
    assert quotas.read("acme").version == before + 1
    record = api.audit.get(hit.request_id)
    assert record is not None
    assert (record.status, record.cache, record.chars) == ("completed", "hit", len(PHRASE))
    assert record.text_sha256
    assert record.finished_at is not None


def test_a_refused_hit_is_audited_as_failed(
    api: ApiHarness,
) -> None:
    service = SpeechService(api.pipeline, 3000)
    text = "A sentence longer than forty characters, cached."
    service.speak(SpeechRequest("acme", text, "joe", AudioFormat.WAV))  # cached (shared)
    acme_hit = service.speak(SpeechRequest("acme", text, "joe", AudioFormat.WAV))
    assert acme_hit.cache == "hit"
    # The tiny tenant's burst is 40 characters: this hit is refused whatever is cached.
    with pytest.raises(Throttled):
        service.speak(SpeechRequest(SMALL_TENANT, text, "joe", AudioFormat.WAV))
    failed = [
        record
        for record in api.audit.query(SMALL_TENANT, *_this_hour())
        if record.status == "failed"
    ]
    assert [record.code for record in failed] == ["THROTTLED"]
    assert failed[0].chars == len(text)  # the first half, written alongside the reads


def test_marks_hit_is_the_marks_the_miss_made(api: ApiHarness) -> None:
    service = SpeechService(api.pipeline, 3000)
    asked = SpeechRequest(
        "acme", "Marks twice, please.", "joe", AudioFormat.MP3, speech_marks=("word",)
    )
    miss, hit = service.speak(asked), service.speak(asked)
    assert (miss.cache, hit.cache) == ("miss", "hit")
    assert hit.audio == miss.audio
    assert b'"type":"word"' in hit.audio.replace(b" ", b"")
    with_audio = SpeechRequest(
        "acme",
        "Marks twice, please.",
        "joe",
        AudioFormat.MP3,
        speech_marks=("word",),
        marks_with_audio=True,
    )
    answered = service.speak(with_audio)
    assert answered.cache == "hit"
    assert answered.marks
    assert answered.audio[:3] == b"ID3" or answered.audio[:2] in {b"\xff\xfb", b"\xff\xf3"}


def _this_hour() -> tuple[datetime, datetime]:
    now = datetime.now(UTC)
    return now - timedelta(hours=1), now + timedelta(hours=1)
