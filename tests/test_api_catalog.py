"""The HTTP API serves the voice catalog as it is now: a voice added at run time (the
CLI's add_voice, into the voices table and the bucket on moto server) is listed by
Polly's DescribeVoices (and its LanguageCode filter) and OpenAI's /v1/models and voices
list, and spoken by SynthesizeSpeech and /v1/audio/speech exactly as the engine speaks
it; disabled or removed, it is refused and unlisted. Through boto3's polly client and
the official openai client."""

import io
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from api_harness import ApiHarness, engine_pcm, quiet_registry, serving
from botocore.exceptions import ClientError
from voice_fixtures import joe_copy

from voxflow.aws import AwsClients, AwsSettings
from voxflow.cli.voices import add_voice
from voxflow.engine import Engine
from voxflow.settings import EngineSettings
from voxflow.voices.cached import CachedCatalog
from voxflow.voices.catalog import VoicesTable, create_voices_table
from voxflow.voices.loader import VoiceLoader
from voxflow.voices.store import VoiceObjects
from voxflow_local.moto_server import MotoServer

TEXT = "Guten Tag. The new voice speaks."
TABLE = "api-voices"
BUCKET = "api-voice-files"


@pytest.fixture(scope="module")
def served(
    moto: MotoServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ApiHarness, Engine]]:
    cache_dir = tmp_path_factory.mktemp("api-catalog")
    clients = AwsClients(AwsSettings.local(moto.url))
    create_voices_table(clients.dynamodb, TABLE)
    clients.s3.create_bucket(Bucket=BUCKET)
    # TTL 0: every request reads the table, so disabling is seen by the next one.
    registry = quiet_registry(cache_dir).with_catalog(
        CachedCatalog(VoicesTable(clients.dynamodb, TABLE), 0.0),
        VoiceLoader(VoiceObjects(clients.s3, BUCKET), cache_dir / "downloads"),
        1 << 30,
    )
    engine = Engine(registry, EngineSettings(cache_dir=cache_dir))
    with serving(moto.url, registry, engine) as harness:
        yield harness, engine


def catalog(api: ApiHarness) -> tuple[VoicesTable, VoiceObjects]:
    return VoicesTable(api.clients.dynamodb, TABLE), VoiceObjects(api.clients.s3, BUCKET)


def test_a_voice_added_at_run_time_is_listed_and_spoken_then_refused(
    served: tuple[ApiHarness, Engine], tmp_path: Path
) -> None:
    api, engine = served
    client = api.polly()
    key, _ = api.keys.create("acme")
    chat = openai.OpenAI(api_key=key, base_url=f"{api.url}/v1", max_retries=0)
    before = client.describe_voices()["Voices"]
    assert [v["Id"] for v in before] == ["joe"]

    model, config = joe_copy(
        tmp_path,
        "joe-de",
        language={"code": "de_DE", "name_english": "German"},
        espeak={"voice": "de"},
        inference={"length_scale": 1.3, "noise_scale": 0.0, "noise_w": 0.0},
    )
    table, objects = catalog(api)
    add_voice(table, objects, "joe-de", model, config)

    listed = client.describe_voices()["Voices"]
    assert [(v["Id"], v["LanguageCode"]) for v in listed] == [("joe", "en-US"), ("joe-de", "de-DE")]
    german = client.describe_voices(LanguageCode="de-DE")["Voices"]
    assert [v["Id"] for v in german] == ["joe-de"]
    assert "German" in german[0]["LanguageName"]
    models = [m.id for m in chat.models.list()]
    assert models[:3] == ["tts-1", "tts-1-hd", "gpt-4o-mini-tts"]
    assert {"joe", "joe-de"} <= set(models)
    voices = chat.get("/audio/voices", cast_to=object)
    assert voices["voices"][:2] == ["joe", "joe-de"]  # type: ignore[index]

    # Spoken as the engine speaks it (noise off in its config), at its own length scale.
    expected = engine_pcm(engine, TEXT, "joe-de").tobytes()
    joe_pcm = engine_pcm(engine, TEXT).tobytes()
    assert len(expected) > 1.15 * len(joe_pcm)
    answer = client.synthesize_speech(
        Text=TEXT, VoiceId="joe-de", OutputFormat="pcm", SampleRate="22050", LanguageCode="de-DE"
    )
    assert answer["AudioStream"].read() == expected
    with pytest.raises(ClientError) as other_language:
        client.synthesize_speech(
            Text=TEXT, VoiceId="joe-de", OutputFormat="mp3", LanguageCode="en-US"
        )
    assert other_language.value.response["Error"]["Code"] == "LanguageNotSupportedException"
    wav = chat.audio.speech.create(
        model="tts-1", voice="joe-de", input=TEXT, response_format="wav"
    ).content
    with wave.open(io.BytesIO(wav)) as opened:
        assert opened.getframerate() == 22050
        assert opened.readframes(opened.getnframes()) == expected

    refused_when_disabled_then_removed(client, chat, table, objects)


def refused_when_disabled_then_removed(
    client: Any, chat: openai.OpenAI, table: VoicesTable, objects: VoiceObjects
) -> None:
    # Disabled: refused by both protocols and unlisted, from the next request on (TTL 0).
    table.set_enabled("joe-de", False)
    with pytest.raises(ClientError) as disabled:
        client.synthesize_speech(Text=TEXT, VoiceId="joe-de", OutputFormat="mp3")
    assert disabled.value.response["Error"]["Code"] == "ValidationException"
    assert "disabled" in disabled.value.response["Error"]["Message"]
    assert TEXT not in disabled.value.response["Error"]["Message"]
    with pytest.raises(openai.BadRequestError) as refused:
        chat.audio.speech.create(model="tts-1", voice="joe-de", input=TEXT)
    assert refused.value.body["code"] == "voice_disabled"  # type: ignore[index]
    assert [v["Id"] for v in client.describe_voices()["Voices"]] == ["joe"]
    assert "joe-de" not in [m.id for m in chat.models.list()]

    removed = table.remove("joe-de")
    assert removed is not None
    objects.delete(removed)
    with pytest.raises(ClientError) as unknown:
        client.synthesize_speech(Text=TEXT, VoiceId="joe-de", OutputFormat="mp3")
    assert unknown.value.response["Error"]["Code"] == "ValidationException"
    assert "voice of this deployment (joe)" in unknown.value.response["Error"]["Message"]
    with pytest.raises(openai.BadRequestError) as gone:
        chat.audio.speech.create(model="tts-1", voice="joe-de", input=TEXT)
    assert gone.value.body["param"] == "voice"  # type: ignore[index]
    # OpenAI's own names still mean the default voice.
    assert len(chat.audio.speech.create(model="tts-1", voice="nova", input=TEXT).content) > 1000
