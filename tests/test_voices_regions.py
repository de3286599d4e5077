"""A voice added in the primary with `voxflow voices add` reaches the secondary by
replication (its entry through the global voices table, its files as voices/ objects)
and is spoken in both regions, through the event path and each region's HTTP API
(Polly's DescribeVoices and SynthesizeSpeech): in the primary while it is healthy, in
the secondary once the primary is lost, there downloaded from the secondary's own
bucket. The audio is the engine's own for that model at zero noise,
sample for sample; disabled from the secondary, the voice is refused there."""

import io
import time
import urllib.request
import wave
from pathlib import Path

import boto3
import numpy as np
import pytest
from botocore.config import Config
from stack_cli import voxflow_cli
from voice_fixtures import joe_copy

from voxflow.audio import join_pcm
from voxflow.client.regional import GlobalVoxflowClient
from voxflow.engine import Engine
from voxflow.events import SynthesisCompleted, SynthesisFailed
from voxflow.settings import EngineSettings
from voxflow.voices import VoiceRegistry
from voxflow_local.drill.run import global_target
from voxflow_local.regions import TwoRegionStack
from voxflow_local.stack import LocalStack

pytestmark = pytest.mark.slow
VOICE = "joe-calm"
TTL_S = 2  # the functions' catalog cache (VOXFLOW_VOICE_CATALOG_TTL_S)
IN_PRIMARY = "The calm voice speaks in the first region."
IN_SECONDARY = "After the loss, the second region speaks calmly."
API_IN_PRIMARY = "Asked over HTTP, the first region answers."
API_IN_SECONDARY = "Asked over HTTP, the second region answers too."


def speak(client: GlobalVoxflowClient, text: str) -> object:
    """Published where the global endpoint would; the terminal event, from either region."""
    published = client.publish(text, voice=VOICE, format="wav")
    return client.wait([published.request_id], timeout_s=240)[published.request_id].terminal


def api_speaks(stack: LocalStack, text: str) -> np.ndarray:
    """The region's HTTP API lists the voice (DescribeVoices) and speaks ``text`` with it
    (SynthesizeSpeech, pcm at the voice's rate), through boto3's polly client."""
    assert stack.api_url is not None
    client = boto3.client(
        "polly",
        endpoint_url=stack.api_url,
        region_name=stack.region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"max_attempts": 1}, read_timeout=120),
    )
    listed = client.describe_voices(LanguageCode="en-US")["Voices"]
    assert [voice["Id"] for voice in listed] == ["joe", VOICE]
    answer = client.synthesize_speech(
        Text=text, VoiceId=VOICE, OutputFormat="pcm", SampleRate="22050"
    )
    return np.frombuffer(answer["AudioStream"].read(), dtype=np.int16)


def engine_pcm(engine: Engine, text: str) -> np.ndarray:
    chunks = [chunk.pcm for chunk in engine.synthesize_text(text, VOICE)]
    return join_pcm(chunks, 22050, pause_s=0.2).astype(np.int16)


def wav_samples(url: str) -> tuple[np.ndarray, int]:
    with urllib.request.urlopen(url, timeout=30) as response:
        data = response.read()
    with wave.open(io.BytesIO(data)) as opened:
        frames = opened.readframes(opened.getnframes())
        return np.frombuffer(frames, dtype=np.int16), opened.getframerate()


def replicated(
    stack: TwoRegionStack, keys: list[str], timeout_s: float = 180.0
) -> dict[str, float]:
    """Seconds until the secondary's replica of the voices table holds the entry, and
    until its bucket holds the voice's files; then its CLI shows the voice."""
    started = time.monotonic()
    secondary = stack.secondary
    bucket = secondary.stack.resources["AudioBucket"]
    arrived: dict[str, float] = {}
    while len(arrived) < 2 and time.monotonic() - started < timeout_s:
        item = secondary.client("dynamodb").get_item(
            TableName=f"{stack.stack_name}-voices", Key={"voice_id": {"S": VOICE}}
        )
        if "Item" in item:
            arrived.setdefault("item", time.monotonic() - started)
        listed = secondary.client("s3").list_objects_v2(Bucket=bucket, Prefix="voices/")
        if set(keys) <= {entry["Key"] for entry in listed.get("Contents", [])}:
            arrived.setdefault("objects", time.monotonic() - started)
        time.sleep(0.2)
    assert len(arrived) == 2, f"{VOICE} not replicated within {timeout_s} s: {arrived}"
    shown = voxflow_cli(secondary, "voices", "show", VOICE)
    assert shown.returncode == 0, shown.stderr
    assert "state:\tenabled" in shown.stdout
    return arrived


def test_a_voice_added_in_the_primary_is_spoken_in_both_regions(tmp_path: Path) -> None:
    model, config = joe_copy(
        tmp_path, VOICE, inference={"length_scale": 1.2, "noise_scale": 0.0, "noise_w": 0.0}
    )
    registry = VoiceRegistry(tmp_path / "cache")
    registry.add(VOICE, model, config)
    engine = Engine(registry, EngineSettings(cache_dir=tmp_path / "cache"))
    with TwoRegionStack(
        primary_port=None,
        secondary_port=None,
        log_dir=tmp_path / "logs",
        extra_env={"VOXFLOW_VOICE_CATALOG_TTL_S": str(TTL_S)},
    ) as stack:
        stack.wait_primary_healthy()
        added = voxflow_cli(
            stack.primary, "voices", "add", str(model), "--config", str(config), "--id", VOICE
        )
        assert added.returncode == 0, added.stderr
        sha = registry.get(VOICE).model_version
        assert f"model {sha[:12]}" in added.stdout
        keys = [f"voices/{VOICE}/{sha}.onnx", f"voices/{VOICE}/{sha}.onnx.json"]
        replication = replicated(stack, keys)

        with GlobalVoxflowClient(global_target(stack)) as client:
            time.sleep(1.5)  # past the client's health cache: the primary is OK
            first = speak(client, IN_PRIMARY)
            assert isinstance(first, SynthesisCompleted), first
            assert first.region == stack.primary_region
            primary_audio, rate = wav_samples(first.url)
            primary_api = api_speaks(stack.primary, API_IN_PRIMARY)

            stack.fail_primary()
            second = speak(client, IN_SECONDARY)
            assert isinstance(second, SynthesisCompleted), second
            assert (second.region, second.cache) == (stack.secondary_region, "miss")
            secondary_audio, secondary_rate = wav_samples(second.url)
            secondary_api = api_speaks(stack.secondary, API_IN_SECONDARY)

            disabled = voxflow_cli(stack.secondary, "voices", "disable", VOICE)
            assert disabled.returncode == 0, disabled.stderr
            time.sleep(TTL_S)
            refused = speak(client, "One more calm sentence.")
            assert isinstance(refused, SynthesisFailed), refused
            assert refused.code == "VOICE_DISABLED"

    assert rate == secondary_rate == 22050
    for audio, text, event in (
        (primary_audio, IN_PRIMARY, first),
        (secondary_audio, IN_SECONDARY, second),
    ):
        expected = engine_pcm(engine, text)
        assert np.array_equal(audio, expected), text
        assert abs(event.duration_s - len(audio) / 22050) < 0.05
        rms = float(np.sqrt(np.mean(audio.astype(np.float64) ** 2)))
        assert rms > 300, f"{text}: silent ({rms:.0f})"
    assert np.array_equal(primary_api, engine_pcm(engine, API_IN_PRIMARY))
    assert np.array_equal(secondary_api, engine_pcm(engine, API_IN_SECONDARY))
    print(  # the figures for the closing note (pytest -s)
        f"\nreplicated to the secondary: entry {replication['item']:.1f} s, "
        f"files {replication['objects']:.1f} s"
    )
