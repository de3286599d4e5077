"""Who a key is, kept by the warm function for VOXFLOW_API_AUTH_CACHE_S
(voxflow.api.auth_cache): a hit reads no tenant table, and a revoked key (bearer or
SigV4) or a removed binding is refused once that time has passed, never later. The API
harness over moto server with the real voice; the cache's clock is the test's."""

from collections.abc import Iterator

import openai
import pytest
from api_harness import SMALL_TENANT, ApiHarness, polly_client
from botocore.exceptions import ClientError

from voxflow.audio import decode
from voxflow.ttl_cache import TtlCache

PHRASE = "Known for a few seconds."
TTL_S = 5.0


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(api: ApiHarness) -> Iterator[Clock]:
    """The harness's API with a 5 s cache on this clock; read each time afterwards."""
    ticking = Clock()
    api.api.auth = TtlCache(TTL_S, clock=ticking)
    try:
        yield ticking
    finally:
        api.api.auth = TtlCache(0)


def spoken(audio: bytes) -> int:
    pcm, rate = decode(audio)
    assert rate == 22050
    return len(pcm)


def test_a_revoked_bearer_key_is_refused_once_the_cache_time_has_passed(
    api: ApiHarness, clock: Clock
) -> None:
    key, record = api.keys.create("acme")
    client = openai.OpenAI(api_key=key, base_url=f"{api.url}/v1", max_retries=0)
    assert spoken(client.audio.speech.create(model="tts-1", voice="alloy", input=PHRASE).content)
    assert api.keys.revoke(record.key_id) is not None
    clock.now += TTL_S - 0.5  # still known: the table is not read again
    assert spoken(client.audio.speech.create(model="tts-1", voice="alloy", input=PHRASE).content)
    clock.now += 0.5
    with pytest.raises(openai.PermissionDeniedError):
        client.audio.speech.create(model="tts-1", voice="alloy", input=PHRASE)


def test_a_revoked_sigv4_key_is_refused_once_the_cache_time_has_passed(
    api: ApiHarness, clock: Clock
) -> None:
    secret, record = api.sigv4_keys.create("acme")
    client = polly_client(api.url, access_key_id=record.key_id, secret=secret)
    answer = client.synthesize_speech(Text=PHRASE, VoiceId="joe", OutputFormat="mp3")
    assert spoken(answer["AudioStream"].read())
    assert api.sigv4_keys.revoke(record.key_id) is not None
    clock.now += TTL_S - 0.5
    assert client.describe_voices()["Voices"]
    clock.now += 0.5
    with pytest.raises(ClientError) as refused:
        client.describe_voices()
    assert refused.value.response["Error"]["Code"] == "UnrecognizedClientException"


def test_a_binding_removed_holds_once_the_cache_time_has_passed(
    api: ApiHarness, clock: Clock
) -> None:
    # The settings key's tenant is its binding: the small tenant's 40-character burst
    # throttles a longer text, the default tenant's does not.
    long_text = "This sentence is longer than forty characters, by a little."
    api.tenants.bind("testing", SMALL_TENANT)
    try:
        client = polly_client(api.url)
        with pytest.raises(ClientError) as throttled:
            client.synthesize_speech(Text=long_text, VoiceId="joe", OutputFormat="mp3")
        assert throttled.value.response["Error"]["Code"] == "ThrottlingException"
    finally:
        api.tenants.unbind("testing")
    clock.now += TTL_S - 0.5
    with pytest.raises(ClientError):
        client.synthesize_speech(Text=long_text, VoiceId="joe", OutputFormat="mp3")
    clock.now += 0.5
    answer = client.synthesize_speech(Text=long_text, VoiceId="joe", OutputFormat="mp3")
    assert spoken(answer["AudioStream"].read())


def test_a_key_not_found_is_not_kept() -> None:
    reads: list[str] = []
    cache = TtlCache(TTL_S, clock=lambda: 0.0)

    def load() -> str | None:
        reads.append("read")
        return None

    assert cache.get("k", load, keep=lambda found: found is not None) is None
    assert cache.get("k", load, keep=lambda found: found is not None) is None
    assert cache.get("kept", lambda: "tenant") == cache.get("kept", load) == "tenant"
    assert len(reads) == 2
    assert TtlCache(0).get("k", lambda: "a") == "a"
