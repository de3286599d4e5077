"""A refused streamed request sends no audio, though its first chunk was begun: a
streamed miss starts the engine's first chunk as soon as the cache lookup says miss,
beside the quota charge and the content policy (voxflow.api.speech_head), and drops it
unsent when either refuses. Through boto3's polly client and a plain HTTP connection to
the OpenAI route, against moto server and the real voice."""

import http.client
import json
import threading
from collections.abc import Iterable, Iterator
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

import pytest
from api_harness import SMALL_TENANT, ApiHarness
from botocore.exceptions import ClientError

from voxflow.engine import Engine, SpeechChunk, SynthesisParams
from voxflow.policy.patterns import PatternPolicy

# Two sentences, over the small tenant's 40-character burst; the second one breaks the
# test's policy, the first one (the chunk begun early) does not.
TEXT = "This first sentence is quite harmless. The second one says forbidden."


class WatchedEngine:
    """The harness's engine, telling when a request's first chunk is made and when its
    synthesis is closed."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self.made = threading.Event()
        self.closed = threading.Event()
        self.chunks = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._engine, name)

    def synthesize(
        self, chunks: Iterable[str], voice_id: str, params: SynthesisParams | None = None
    ) -> Iterator[SpeechChunk]:
        try:
            for chunk in self._engine.synthesize(chunks, voice_id, params):
                self.chunks += 1
                self.made.set()
                yield chunk
        finally:
            self.closed.set()


@pytest.fixture
def watched(api: ApiHarness, monkeypatch: pytest.MonkeyPatch) -> WatchedEngine:
    engine = WatchedEngine(api.pipeline.engine)
    monkeypatch.setattr(api.pipeline, "_engine", engine)
    return engine


def assert_begun_then_dropped(watched: WatchedEngine) -> None:
    assert watched.made.wait(60), "the first chunk was never begun"
    assert watched.closed.wait(60), "the begun synthesis was left open"
    assert watched.chunks == 1  # at most one chunk per refused request


def test_a_throttled_polly_stream_sends_no_audio(api: ApiHarness, watched: WatchedEngine) -> None:
    api.tenants.bind("testing", SMALL_TENANT)
    try:
        with pytest.raises(ClientError) as refused:
            api.polly().synthesize_speech(
                Text=TEXT, VoiceId="joe", OutputFormat="pcm", SampleRate="22050"
            )
    finally:
        api.tenants.unbind("testing")
    answer = refused.value.response
    assert answer["Error"]["Code"] == "ThrottlingException"
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert answer["ResponseMetadata"]["HTTPHeaders"]["x-amzn-errortype"].startswith(
        "ThrottlingException"
    )
    assert_begun_then_dropped(watched)


def test_a_policy_rejected_openai_stream_sends_no_audio(
    api: ApiHarness, watched: WatchedEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    policy = PatternPolicy([("test", "forbidden")])
    monkeypatch.setattr(api.pipeline, "controls", replace(api.pipeline.controls, policy=policy))
    key, _ = api.keys.create("acme")
    address = urlsplit(api.url)
    assert address.hostname is not None
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=120)
    try:
        connection.request(
            "POST",
            "/v1/audio/speech",
            json.dumps(
                {
                    "model": "tts-1",
                    "voice": "alloy",
                    "input": TEXT,
                    "response_format": "pcm",
                    "stream_format": "sse",
                }
            ),
            {"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        )
        response = connection.getresponse()
        status, content_type, body = (
            response.status,
            response.getheader("content-type"),
            response.read(),
        )
    finally:
        connection.close()
    assert (status, content_type) == (400, "application/json")
    error = json.loads(body)["error"]
    assert error["code"] == "content_rejected"
    assert "forbidden" not in body.decode()  # the message never quotes the text
    assert b"speech.audio" not in body
    assert_begun_then_dropped(watched)
