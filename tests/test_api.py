"""The HTTP API's pure parts, in-process: SigV4 checks against botocore's own signer,
Polly's contract from botocore's model, and both protocols' validation and errors."""

import json
import time

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from voxflow.api import openai, polly
from voxflow.api.polly_contract import polly_contract
from voxflow.api.settings import ApiSettings
from voxflow.api.sigv4 import SignatureRejected, SigV4Verifier
from voxflow.audio import AudioFormat
from voxflow.config import Config
from voxflow.errors import SettingsError, Throttled
from voxflow.voices import VoiceRegistry

BODY = b'{"Text":"secret words","VoiceId":"joe","OutputFormat":"mp3"}'


def signed(body: bytes = BODY, secret: str = "testing", service: str = "polly") -> AWSRequest:
    request = AWSRequest(
        method="POST",
        url="http://127.0.0.1:8080/v1/speech",
        data=body,
        headers={"Content-Type": "application/json"},
    )
    SigV4Auth(Credentials("testing", secret), service, "us-east-1").add_auth(request)
    return request


def verify(request: AWSRequest, body: bytes | None = None, clock: float | None = None) -> str:
    verifier = SigV4Verifier({"testing": "testing"}, clock=lambda: clock or time.time())
    headers = {name: str(value) for name, value in request.headers.items()}
    headers["Host"] = "127.0.0.1:8080"
    return verifier.verify("POST", "/v1/speech", "", headers, BODY if body is None else body)


def test_a_request_botocore_signed_verifies() -> None:
    assert verify(signed()) == "testing"


@pytest.mark.parametrize(
    ("request_", "body", "code"),
    [
        (signed(secret="wrong"), None, "InvalidSignatureException"),
        (
            signed(),
            b'{"Text":"other words","VoiceId":"joe","OutputFormat":"mp3"}',
            "InvalidSignatureException",
        ),
        (signed(service="execute-api"), None, "InvalidSignatureException"),
    ],
)
def test_wrong_secrets_tampered_bodies_and_other_scopes_are_refused(
    request_: AWSRequest, body: bytes | None, code: str
) -> None:
    with pytest.raises(SignatureRejected) as refused:
        verify(request_, body)
    assert refused.value.code == code


def test_unknown_keys_missing_and_stale_signatures_are_refused() -> None:
    verifier = SigV4Verifier({"other": "testing"})
    request = signed()
    headers = {**{k: str(v) for k, v in request.headers.items()}, "Host": "127.0.0.1:8080"}
    with pytest.raises(SignatureRejected, match="security token"):
        verifier.verify("POST", "/v1/speech", "", headers, BODY)
    with pytest.raises(SignatureRejected) as missing:
        verify(AWSRequest(method="POST", url="http://127.0.0.1:8080/v1/speech", data=BODY))
    assert missing.value.code == "MissingAuthenticationTokenException"
    with pytest.raises(SignatureRejected, match="expired"):
        verify(signed(), clock=time.time() + 600)


def test_the_contract_is_botocores_model() -> None:
    contract = polly_contract()
    assert contract.routes["SynthesizeSpeech"] == ("POST", "/v1/speech")
    assert contract.routes["DescribeVoices"] == ("GET", "/v1/voices")
    assert contract.output_formats == {"json", "mp3", "ogg_opus", "ogg_vorbis", "pcm"}
    assert contract.max_lexicons == 5
    assert contract.status_of("LexiconNotFoundException") == 404
    assert contract.status_of("ServiceFailureException") == 500
    assert contract.status_of("InvalidSignatureException") == 403
    # Every error the routes raise is modeled, or one of AWS's common ones.
    for code in (
        "TextLengthExceededException",
        "InvalidSampleRateException",
        "MarksNotSupportedForFormatException",
        "EngineNotSupportedException",
        "LanguageNotSupportedException",
        "SsmlMarksNotSupportedForTextTypeException",
    ):
        assert code in contract.errors, code


@pytest.fixture(scope="module")
def registry() -> VoiceRegistry:
    return VoiceRegistry.default()


def parse(registry: VoiceRegistry, **fields: object) -> polly.PollySynthesis:
    document = {"Text": "secret words", "VoiceId": "joe", "OutputFormat": "mp3", **fields}
    return polly.parse_synthesize(json.dumps(document).encode(), "acme", polly_contract(), registry)


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"VoiceId": "Joanna"}, "ValidationException"),
        ({"OutputFormat": "wav"}, "ValidationException"),
        ({"LexiconNames": ["a", "b", "c", "d", "e", "f"]}, "ValidationException"),
        ({"LexiconNames": ["bad-name"]}, "ValidationException"),
        ({"LexiconNames": ["twice", "twice"]}, "ValidationException"),
        ({"SampleRate": "11025"}, "InvalidSampleRateException"),
        ({"OutputFormat": "pcm", "SampleRate": "44100"}, "InvalidSampleRateException"),
        ({"Engine": "long-form"}, "EngineNotSupportedException"),
        ({"LanguageCode": "de-DE"}, "LanguageNotSupportedException"),
        ({"SpeechMarkTypes": ["word"]}, "MarksNotSupportedForFormatException"),
        (
            {"OutputFormat": "json", "SpeechMarkTypes": ["ssml"]},
            "SsmlMarksNotSupportedForTextTypeException",
        ),
        ({"Text": "x" * 3001}, "TextLengthExceededException"),
        ({"Text": 5}, "ValidationException"),
        ({"OutputFormat": "json"}, "ValidationException"),
    ],
)
def test_polly_validates_what_botocore_does_not(
    registry: VoiceRegistry, fields: dict[str, object], code: str
) -> None:
    with pytest.raises(polly.PollyError) as refused:
        parse(registry, **fields)
    assert refused.value.code == code
    assert "secret words" not in refused.value.message


def test_polly_formats_and_rates(registry: VoiceRegistry) -> None:
    mp3 = parse(registry).request
    assert (mp3.audio_format, mp3.sample_rate) == (AudioFormat.MP3, None)  # the voice's rate
    assert parse(registry, SampleRate="8000").request.sample_rate == 8000
    pcm = parse(registry, OutputFormat="pcm").request
    assert (pcm.audio_format, pcm.sample_rate) == (AudioFormat.PCM, 16000)  # Polly's default
    assert parse(registry, OutputFormat="pcm", SampleRate="22050").request.sample_rate == 22050
    assert parse(registry, OutputFormat="ogg_opus").request.audio_format is AudioFormat.OPUS
    assert parse(registry, Engine="neural").billed_chars == len("secret words")


def test_polly_ssml_travels_as_the_event_contracts_text_type(registry: VoiceRegistry) -> None:
    request = parse(registry, TextType="ssml", Text="<speak>fine</speak>").request
    assert (request.text, request.text_type) == ("<speak>fine</speak>", "ssml")
    assert parse(registry).request.text_type == "text"


def test_polly_marks_and_lexicons_travel_as_the_event_contracts_fields(
    registry: VoiceRegistry,
) -> None:
    marks = parse(registry, OutputFormat="json", SpeechMarkTypes=["word", "sentence"]).request
    # Keyed beside the mp3 at the voice's rate, as an event request for mp3 with marks is.
    assert (marks.speech_marks, marks.audio_format, marks.sample_rate) == (
        ("word", "sentence"),
        AudioFormat.MP3,
        None,
    )
    named = parse(registry, LexiconNames=["acme", "w3c"]).request
    assert (named.lexicons, named.speech_marks) == (("acme", "w3c"), ())


def test_polly_and_openai_throttling() -> None:
    throttled = Throttled("acme", 2.0)
    assert polly.error_of(throttled).code == "ThrottlingException"
    assert openai.error_of(throttled).status == 429


def speech(registry: VoiceRegistry, **fields: object) -> openai.OpenAISpeech:
    document = {"model": "tts-1", "input": "secret words", "voice": "alloy", **fields}
    return openai.parse_speech(json.dumps(document).encode(), "acme", registry, "joe")


def test_openai_fields(registry: VoiceRegistry) -> None:
    parsed = speech(registry, response_format="flac", speed=2.0)
    assert parsed.request.voice == "joe"
    assert parsed.request.audio_format is AudioFormat.FLAC
    assert parsed.request.length_scale == 0.5
    assert speech(registry, model="anything-else").request.length_scale is None
    assert speech(registry, voice={"id": "joe"}).request.voice == "joe"
    # voxflow's own fields (the console's): SSML, and marks beside the audio as JSON.
    plain = speech(registry)
    assert (plain.request.text_type, plain.request.speech_marks, plain.with_marks) == (
        "text",
        (),
        False,
    )
    marked = speech(registry, voxflow_text_type="ssml", voxflow_marks=["word", "sentence"])
    assert marked.request.text_type == "ssml"
    assert marked.request.speech_marks == ("sentence", "word")
    assert marked.request.marks_with_audio
    assert marked.with_marks


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"response_format": "aac"}, "response_format"),
        ({"response_format": "ogg"}, "response_format"),
        ({"speed": 4.5}, "speed"),
        ({"speed": True}, "speed"),
        ({"voice": "nobody"}, "voice"),
        ({"input": ""}, "input"),
        ({"input": "x" * 4097}, "input"),
        ({"stream_format": "chunks"}, "stream_format"),
        ({"voxflow_text_type": "html"}, "voxflow_text_type"),
        ({"voxflow_marks": "word"}, "voxflow_marks"),
        ({"voxflow_marks": []}, "voxflow_marks"),
        ({"voxflow_marks": ["syllable"]}, "voxflow_marks"),
        ({"voxflow_marks": ["word"], "stream_format": "sse"}, "voxflow_marks"),
    ],
)
def test_openai_bad_input_is_a_400_in_openais_shape(
    registry: VoiceRegistry, fields: dict[str, object], param: str
) -> None:
    with pytest.raises(openai.OpenAIError) as refused:
        speech(registry, **fields)
    error = refused.value.document()["error"]
    assert refused.value.status == 400
    assert (error["type"], error["param"]) == ("invalid_request_error", param)
    assert "secret words" not in error["message"]


def test_settings() -> None:
    settings = ApiSettings.of(Config({"VOXFLOW_API_SIGV4_CREDENTIALS": "a:s3cr3t, c:d"}))
    assert settings.sigv4_credentials == {"a": "s3cr3t", "c": "d"}
    assert "s3cr3t" not in repr(settings)
    assert ApiSettings.of(Config({})).sync_max_chars == 4096
    with pytest.raises(SettingsError):
        ApiSettings.of(Config({"VOXFLOW_API_SIGV4_CREDENTIALS": "no-secret"}))
    with pytest.raises(SettingsError):
        ApiSettings.of(Config({"VOXFLOW_API_SYNC_MAX_CHARS": "0"}))
