"""Answers too big for a buffered answer on AWS (voxflow.api.buffered): Lambda caps the
answer at 6 MB, so over ~4.7 MB of audio the resolver's routes (what `handler` answers
on AWS) refuse with the protocol's own error, where API Gateway would answer its bare
500, while the streamed answer (the local server's, and a streaming deployment's) still
carries it. The API harness over moto server; the oversized audio is a cached hit put
under the request's own key (synthesizing two minutes of speech would take minutes),
the boto3 polly client and the openai client as callers, and the local server in front
of the resolver alone, as it answers a handler without a stream hook."""

import json
import urllib.error
import urllib.request
from collections.abc import Iterator

import numpy as np
import openai
import pytest
from api_harness import ApiHarness, polly_client
from botocore.exceptions import ClientError

from voxflow.api import openai as openai_api
from voxflow.api import polly
from voxflow.api.buffered import MAX_AUDIO_BYTES
from voxflow.api.routes import build_resolver
from voxflow.pipeline.assemble import store_request_audio
from voxflow_local.http_api import HttpApiServer

TEXT = "Two minutes of a tone stand in for a long speech."
SECONDS = 120  # 5.3 MB of pcm at 22,050 Hz; 5.8 MB at OpenAI's 24 kHz


@pytest.fixture(scope="module")
def buffered(api: ApiHarness) -> Iterator[str]:
    """The local server answering through the resolver alone (no stream hook)."""
    resolver = build_resolver(api.api)
    with HttpApiServer(lambda event: resolver.resolve(event, None)) as server:  # type: ignore[arg-type]
        yield server.url


def cached_long_audio(api: ApiHarness, body: bytes, *, openai_route: bool) -> bytes:
    """A two-minute tone stored under the key of the request ``body``: a hit."""
    registry = api.pipeline.registry
    if openai_route:
        request = openai_api.parse_speech(body, "default", registry, "joe").request
    else:
        request = polly.parse_synthesize(body, "default", api.api.contract, registry).request
    _, keyed = api.api.speech._keyed(request)
    rate = keyed.voice.sample_rate
    tone = (8000 * np.sin(np.arange(rate * SECONDS) * 2 * np.pi * 220 / rate)).astype(np.int16)
    _, audio = store_request_audio(
        api.pipeline,
        keyed.key,
        [tone],
        rate,
        keyed.audio_format,
        pause_s=keyed.resolved.sentence_pause_s,
        output_rate=keyed.output_rate,
    )
    assert len(audio) > MAX_AUDIO_BYTES
    return audio


def test_polly_pcm_over_the_buffered_limit_is_refused_with_polly_error(
    api: ApiHarness, buffered: str
) -> None:
    fields = {"Text": TEXT, "VoiceId": "joe", "OutputFormat": "pcm", "SampleRate": "22050"}
    audio = cached_long_audio(api, json.dumps(fields).encode(), openai_route=False)
    with pytest.raises(ClientError) as refused:
        polly_client(buffered).synthesize_speech(**fields)
    error = refused.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["Error"]["Code"] == "TextLengthExceededException"
    assert "6 MB" in error["Error"]["Message"]
    assert "StartSpeechSynthesisTask" in error["Error"]["Message"]
    # Streamed, the same request carries it all; buffered, a short one still answers.
    streamed = polly_client(api.url).synthesize_speech(**fields)["AudioStream"].read()
    assert streamed == audio
    short = polly_client(buffered).synthesize_speech(
        Text="Short.", VoiceId="joe", OutputFormat="mp3"
    )
    assert short["AudioStream"].read()


def test_openai_wav_over_the_buffered_limit_is_a_400(api: ApiHarness, buffered: str) -> None:
    key, _ = api.keys.create("acme")
    fields = {"model": "tts-1", "voice": "alloy", "input": TEXT, "response_format": "wav"}
    audio = cached_long_audio(api, json.dumps(fields).encode(), openai_route=True)
    client = openai.OpenAI(api_key=key, base_url=f"{buffered}/v1", max_retries=0)
    with pytest.raises(openai.BadRequestError) as refused:
        client.audio.speech.create(model="tts-1", voice="alloy", input=TEXT, response_format="wav")
    assert refused.value.status_code == 400
    body = refused.value.body
    assert isinstance(body, dict)
    assert (body["type"], body["code"]) == ("invalid_request_error", "response_too_large")
    assert "6 MB" in body["message"]
    streaming = openai.OpenAI(api_key=key, base_url=f"{api.url}/v1", max_retries=0)
    answer = streaming.audio.speech.create(
        model="tts-1", voice="alloy", input=TEXT, response_format="wav"
    )
    assert answer.content == audio


def test_the_local_server_answers_an_oversized_buffered_answer_as_aws_does() -> None:
    # Without the routes' refusal: Lambda fails the invocation, API Gateway answers 500.
    huge = {"statusCode": 200, "body": "x" * (6 * 1024 * 1024), "headers": {}}
    with HttpApiServer(lambda _: huge) as server:
        with pytest.raises(urllib.error.HTTPError) as failed:
            urllib.request.urlopen(f"{server.url}/v1/speech", timeout=30)
        assert failed.value.code == 500
