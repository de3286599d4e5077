"""The HTTP API through clients nobody here wrote: boto3's polly client and the official
openai client, pointed at the API by URL, against moto server over HTTP and the real
voice (noise off, so audio compares byte for byte with the engine's own)."""

import base64
import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import openai
import pytest
from api_harness import SMALL_TENANT, ApiHarness, engine_pcm
from botocore.exceptions import ClientError

from voxflow.audio import AudioFormat, encode
from voxflow.engine import Engine
from voxflow.events import ItemRequest
from voxflow.pipeline.keyed import key_item
from voxflow_local.sse import timed_sse

PHRASE = "The quick brown fox ran."  # 24 characters, one sentence
TWO_SENTENCES = "Hello there. This is voxflow speaking."


def cache_key(api: ApiHarness, text: str, fmt: str, tenant: str = "default") -> str:
    """The key plan gives this request (joe, no params) in the cache index."""
    item = ItemRequest.model_validate(
        {
            "request_id": "probe",
            "tenant": tenant,
            "reply_to": None,
            "text": text,
            "voice": "joe",
            "format": fmt,
            "params": {},
            "metadata": {},
            "batch_id": None,
        }
    )
    return key_item(item, api.pipeline).key


def cached_object(api: ApiHarness, text: str, fmt: str, tenant: str = "default") -> bytes:
    """The audio the cache index names for this request, read as the event path would."""
    entry = api.pipeline.cache.lookup(cache_key(api, text, fmt, tenant))
    assert entry is not None, "not in the cache index"
    return api.pipeline.audio.get(entry.s3_key)


# ---------------------------------------------------------------------------------
# Polly, through boto3
# ---------------------------------------------------------------------------------


def test_polly_pcm_is_the_engines_own_audio(api: ApiHarness, quiet_engine: Engine) -> None:
    client = api.polly()
    answer = client.synthesize_speech(
        Text=TWO_SENTENCES, VoiceId="joe", OutputFormat="pcm", SampleRate="22050"
    )
    audio = answer["AudioStream"].read()
    assert answer["ContentType"] == "audio/pcm"
    assert answer["RequestCharacters"] == len(TWO_SENTENCES)
    assert audio == engine_pcm(quiet_engine, TWO_SENTENCES).astype("<i2").tobytes()
    # pcm's default rate is Polly's 16000: the same audio, resampled.
    default = client.synthesize_speech(Text=TWO_SENTENCES, VoiceId="joe", OutputFormat="pcm")
    assert len(default["AudioStream"].read()) // 2 == pytest.approx(
        len(audio) // 2 * 16000 / 22050, abs=2
    )


def test_polly_mp3_is_the_cached_object_and_a_second_call_hits(api: ApiHarness) -> None:
    client = api.polly()
    first = client.synthesize_speech(Text=PHRASE, VoiceId="joe", OutputFormat="mp3")
    audio = first["AudioStream"].read()
    assert first["ContentType"] == "audio/mpeg"
    assert audio == cached_object(api, PHRASE, "mp3")
    headers = first["ResponseMetadata"]["HTTPHeaders"]
    assert headers["x-voxflow-cache"] == "miss"
    hits_before = api.pipeline.cache.lookup(cache_key(api, PHRASE, "mp3")).hits  # type: ignore[union-attr]
    again = client.synthesize_speech(Text=PHRASE, VoiceId="joe", OutputFormat="mp3")
    assert again["AudioStream"].read() == audio
    assert again["ResponseMetadata"]["HTTPHeaders"]["x-voxflow-cache"] == "hit"
    assert api.pipeline.cache.lookup(cache_key(api, PHRASE, "mp3")).hits == hits_before + 1  # type: ignore[union-attr]


def test_a_phrase_made_by_the_event_path_is_a_hit_through_both_apis(
    api: ApiHarness, quiet_engine: Engine
) -> None:
    text = "Made once, by the events."
    job = api.through_events(text, "pcm")
    assert job.status == "completed"
    entry = api.pipeline.cache.lookup(job.key)
    assert entry is not None
    assert entry.hits == 0
    answer = api.polly().synthesize_speech(
        Text=text, VoiceId="joe", OutputFormat="pcm", SampleRate="22050"
    )
    assert answer["AudioStream"].read() == api.pipeline.audio.get(entry.s3_key)
    assert api.pipeline.cache.lookup(job.key).hits == 1  # type: ignore[union-attr]
    # And the reverse: what the API made, the event path finds (a hit, no chunk tasks).
    made = "Made once, by the API."
    api.polly().synthesize_speech(Text=made, VoiceId="joe", OutputFormat="ogg_vorbis")
    later = api.through_events(made, "ogg")
    assert later.cache == "hit"


def test_polly_refuses_a_wrong_secret_with_its_modeled_error(api: ApiHarness) -> None:
    with pytest.raises(ClientError) as refused:
        api.polly(secret="not-testing").synthesize_speech(
            Text=PHRASE, VoiceId="joe", OutputFormat="mp3"
        )
    assert refused.value.response["Error"]["Code"] == "InvalidSignatureException"
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_polly_errors_are_the_models(api: ApiHarness) -> None:
    client = api.polly()
    cases: dict[str, dict[str, Any]] = {
        "TextLengthExceededException": {"Text": "a" * 3001, "OutputFormat": "mp3"},
        "InvalidSampleRateException": {
            "Text": PHRASE,
            "OutputFormat": "pcm",
            "SampleRate": "44100",
        },
        "MarksNotSupportedForFormatException": {
            "Text": PHRASE,
            "OutputFormat": "mp3",
            "SpeechMarkTypes": ["word"],
        },
        "LexiconNotFoundException": {
            "Text": PHRASE,
            "OutputFormat": "mp3",
            "LexiconNames": ["abc"],
        },
        "EngineNotSupportedException": {
            "Text": PHRASE,
            "OutputFormat": "mp3",
            "Engine": "generative",
        },
        "ValidationException": {"Text": PHRASE, "OutputFormat": "mp3", "VoiceId": "Joanna"},
    }
    for code, fields in cases.items():
        with pytest.raises(ClientError) as refused:
            client.synthesize_speech(**{"VoiceId": "joe", **fields})
        assert refused.value.response["Error"]["Code"] == code, fields
        assert PHRASE not in str(refused.value)
    # Malformed SSML is Polly's own modeled error, naming the place, never the text.
    with pytest.raises(ClientError) as ssml:
        client.synthesize_speech(
            Text="<speak>The quick <b>brown</b> fox.</speak>",
            TextType="ssml",
            VoiceId="joe",
            OutputFormat="mp3",
        )
    assert ssml.value.response["Error"]["Code"] == "InvalidSsmlException"
    assert "line 1" in ssml.value.response["Error"]["Message"]
    assert "brown" not in str(ssml.value)


def test_polly_ssml_break_is_silence_in_the_audio(api: ApiHarness, quiet_engine: Engine) -> None:
    """SSML through Polly's route is the core's: the text's audio plus the break."""
    client = api.polly()

    def pcm(text: str, text_type: str) -> np.ndarray:
        answer = client.synthesize_speech(
            Text=text, TextType=text_type, VoiceId="joe", OutputFormat="pcm", SampleRate="22050"
        )
        if text_type == "ssml":
            assert answer["RequestCharacters"] == len(PHRASE)  # tags are not billed
        return np.frombuffer(answer["AudioStream"].read(), dtype="<i2")

    plain = pcm(PHRASE, "text")
    assert np.array_equal(plain, engine_pcm(quiet_engine, PHRASE))
    broken = pcm(f'<speak>{PHRASE}<break time="1500ms"/></speak>', "ssml")
    extra_s = (len(broken) - len(plain)) / 22050
    assert extra_s == pytest.approx(1.5, abs=0.05)
    assert np.abs(broken[len(plain) + 2205 :]).max() < 200  # the added tail is silence


def test_polly_throttles_a_tenant_over_its_quota(api: ApiHarness) -> None:
    api.tenants.bind("testing", SMALL_TENANT)
    try:
        with pytest.raises(ClientError) as refused:
            api.polly().synthesize_speech(
                Text="A sentence longer than forty characters, surely.",
                VoiceId="joe",
                OutputFormat="mp3",
            )
    finally:
        api.tenants.unbind("testing")
    assert refused.value.response["Error"]["Code"] == "ThrottlingException"


def test_describe_voices(api: ApiHarness) -> None:
    voices = api.polly().describe_voices()["Voices"]
    assert [(v["Id"], v["LanguageCode"]) for v in voices] == [("joe", "en-US")]
    assert api.polly().describe_voices(LanguageCode="fr-FR")["Voices"] == []


# ---------------------------------------------------------------------------------
# OpenAI, through the official client
# ---------------------------------------------------------------------------------


def openai_client(api: ApiHarness, key: str) -> openai.OpenAI:
    return openai.OpenAI(api_key=key, base_url=f"{api.url}/v1", max_retries=0)


def test_openai_speech_wav_is_the_engines_audio_and_the_tenants(
    api: ApiHarness, quiet_engine: Engine
) -> None:
    key, record = api.keys.create("acme")
    answer = openai_client(api, key).audio.speech.create(
        model="tts-1", voice="alloy", input=TWO_SENTENCES, response_format="wav"
    )
    expected = encode(engine_pcm(quiet_engine, TWO_SENTENCES), 22050, AudioFormat.WAV).data
    assert answer.content == expected
    assert answer.response.headers["x-voxflow-cache"] == "miss"
    records = list(api.audit.query("acme", _long_ago(), _soon()))
    assert [r.status for r in records] == ["completed"]
    assert records[0].text_sha256 == hashlib.sha256(TWO_SENTENCES.encode()).hexdigest()
    assert record.tenant == "acme"


def test_openai_formats_speed_and_lists(api: ApiHarness) -> None:
    key, _ = api.keys.create("acme")
    client = openai_client(api, key)
    for fmt in ("mp3", "opus", "flac", "pcm"):
        audio = client.audio.speech.create(
            model="tts-1", voice="nova", input=PHRASE, response_format=fmt
        ).content
        assert len(audio) > 1000, fmt
    pcm = client.audio.speech.create(
        model="x", voice="joe", input=PHRASE, response_format="pcm"
    ).content
    fast = client.audio.speech.create(
        model="x", voice="joe", input=PHRASE, response_format="pcm", speed=2.0
    ).content
    assert len(fast) < 0.7 * len(pcm)
    assert "tts-1" in [model.id for model in client.models.list()]
    with pytest.raises(openai.BadRequestError) as aac:
        client.audio.speech.create(
            model="tts-1", voice="alloy", input=PHRASE, response_format="aac"
        )
    assert "aac" in str(aac.value)
    assert aac.value.body["param"] == "response_format"  # type: ignore[index]
    with pytest.raises(openai.BadRequestError):
        client.audio.speech.create(model="tts-1", voice="alloy", input=PHRASE, speed=5.0)


def test_openai_refuses_unknown_and_revoked_keys(api: ApiHarness) -> None:
    with pytest.raises(openai.AuthenticationError) as unknown:
        openai_client(api, "vfk_not-a-key").audio.speech.create(
            model="tts-1", voice="alloy", input=PHRASE
        )
    assert unknown.value.status_code == 401
    key, record = api.keys.create("acme")
    assert api.keys.revoke(record.key_id) is not None
    with pytest.raises(openai.PermissionDeniedError):
        openai_client(api, key).audio.speech.create(model="tts-1", voice="alloy", input=PHRASE)
    assert record.key_id in [k.key_id for k in api.keys.records() if k.revoked_at]
    # Only hashes are kept.
    items = api.clients.dynamodb.scan(TableName=api.tenants.table)["Items"]
    assert key not in str(items)


def test_openai_rate_limit_for_a_tenant_over_its_quota(api: ApiHarness) -> None:
    key, _ = api.keys.create(SMALL_TENANT)
    with pytest.raises(openai.RateLimitError):
        openai_client(api, key).audio.speech.create(
            model="tts-1", voice="alloy", input="A sentence longer than forty characters, surely."
        )


def _long_ago() -> datetime:
    return datetime.now(UTC) - timedelta(hours=1)


def _soon() -> datetime:
    return datetime.now(UTC) + timedelta(hours=1)


# ---------------------------------------------------------------------------------
# Streaming: OpenAI's stream_format, and a chunked body as chunks are synthesized
# ---------------------------------------------------------------------------------

FIVE_SENTENCES = (
    "The first sentence is short. The second one is a little longer than that. "
    "Here is the third. A fourth sentence follows it closely. And the fifth ends it."
)


def sse_events(lines: Iterator[str]) -> list[dict[str, Any]]:
    return [json.loads(line[len("data: ") :]) for line in lines if line.startswith("data: ")]


def test_openai_sse_sends_a_delta_per_chunk_then_done(api: ApiHarness) -> None:
    key, _ = api.keys.create("acme")
    client = openai_client(api, key)
    with client.audio.speech.with_streaming_response.create(
        model="tts-1", voice="alloy", input=FIVE_SENTENCES, response_format="pcm",
        stream_format="sse",
    ) as response:  # fmt: skip
        assert response.headers["content-type"] == "text/event-stream"
        assert response.headers["x-voxflow-cache"] == "miss"
        events = sse_events(response.iter_lines())
    *deltas, done = events
    assert {event["type"] for event in deltas} == {"speech.audio.delta"}
    assert len(deltas) >= 5  # one per sentence at least: it streamed
    assert done == {
        "type": "speech.audio.done",
        "usage": {
            "input_tokens": len(FIVE_SENTENCES),
            "output_tokens": 0,
            "total_tokens": len(FIVE_SENTENCES),
        },
    }
    streamed = np.frombuffer(
        b"".join(base64.b64decode(event["audio"]) for event in deltas), dtype="<i2"
    )
    # The whole file, stored as the last delta left: the next request is a hit. Pieces
    # resampled to 24 kHz one by one: the same speech, a sample or so apart per seam.
    whole = client.audio.speech.create(
        model="tts-1", voice="alloy", input=FIVE_SENTENCES, response_format="pcm"
    )
    assert whole.response.headers["x-voxflow-cache"] == "hit"
    cached = np.frombuffer(whole.content, dtype="<i2")
    assert abs(len(streamed) - len(cached)) <= len(deltas)
    n = min(len(streamed), len(cached))
    correlation = np.corrcoef(streamed[:n].astype(float), cached[:n].astype(float))[0, 1]
    assert correlation > 0.99


def test_a_streamed_miss_sends_its_first_bytes_before_the_last_sentence_is_made(
    api: ApiHarness,
) -> None:
    """Time to first byte against the whole answer, over a plain HTTP connection."""
    key, _ = api.keys.create("acme")
    streamed = timed_sse(api.url, key, FIVE_SENTENCES * 2)
    assert streamed.transfer_encoding == "chunked"
    assert streamed.first.startswith(b"data: ")
    assert b"speech.audio.done" in streamed.rest
    first_s, total_s = streamed.first_s, streamed.total_s
    assert first_s < 0.5 * total_s, (first_s, total_s)  # ten sentences: ~0.1 if streaming
