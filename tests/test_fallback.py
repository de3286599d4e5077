"""Fallback audio: the shipped busy clip, stored per format in S3 on moto server over HTTP."""

import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from voxflow.audio import AudioFormat, decode
from voxflow.aws import AwsClients, AwsSettings
from voxflow.client import StackTarget, VoxflowClient
from voxflow.config import Config
from voxflow.config.variables import FALLBACK_AUDIO
from voxflow.engine import Engine
from voxflow.errors import SettingsError
from voxflow.events import SynthesisCompleted
from voxflow.fallback import CLIP_PATH, FallbackAudio, load_clip, render_clip
from voxflow.quotas import create_quotas_table
from voxflow.store.audio import AudioStore
from voxflow_local.moto_server import MotoServer
from voxflow_local.stack import LocalStack


@pytest.fixture(scope="module")
def moto_store() -> Iterator[AudioStore]:
    with MotoServer() as moto:
        s3 = AwsClients(AwsSettings.local(moto.url)).s3
        bucket = f"audio-{uuid.uuid4().hex[:8]}"
        s3.create_bucket(Bucket=bucket)
        yield AudioStore(s3, bucket, 600)


def test_shipped_clip_is_the_engines_busy_message(engine: Engine) -> None:
    pcm, rate = load_clip()
    assert rate == 22050
    assert 1.5 < len(pcm) / rate < 6
    assert np.abs(pcm).max() > 1000  # speech, not silence
    # The engine renders a clip of about the same length (the voice's noise varies it).
    fresh, fresh_rate = decode(render_clip(engine))
    assert fresh_rate == rate
    assert len(fresh) == pytest.approx(len(pcm), rel=0.15)


@pytest.mark.parametrize(
    "audio_format", [AudioFormat.MP3, AudioFormat.OPUS, AudioFormat.WAV, AudioFormat.MULAW]
)
def test_degraded_result_serves_the_clip(moto_store: AudioStore, audio_format: AudioFormat) -> None:
    fallback = FallbackAudio(moto_store)
    result = fallback.result(
        "r1", audio_format, region="us-east-1", tenant="acme", metadata={"a": 1}, batch_id=None
    )
    assert isinstance(result, SynthesisCompleted)
    assert result.degraded is True
    assert result.key == f"fallback/joe/{audio_format.value}/busy{audio_format.extension}"
    assert (result.tenant, result.metadata) == ("acme", {"a": 1})
    with urllib.request.urlopen(result.url, timeout=30) as response:
        data = response.read()
    assert len(data) == result.bytes
    pcm, rate = decode(data, audio_format, result.sample_rate)
    assert rate == result.sample_rate
    assert len(pcm) / rate == pytest.approx(result.duration_s, abs=0.05)
    assert len(pcm) / rate == pytest.approx(len(load_clip()[0]) / 22050, abs=0.05)


def test_clip_is_stored_once(moto_store: AudioStore) -> None:
    clip = FallbackAudio(moto_store).stored(AudioFormat.FLAC)
    assert decode(moto_store.get(clip.s3_key))[0].size > 0
    moto_store.put(clip.s3_key, b"marker", clip.content_type)
    FallbackAudio(moto_store).stored(AudioFormat.FLAC)  # a new process finds it there
    assert moto_store.get(clip.s3_key) == b"marker"  # and does not write it again


def test_switch() -> None:
    assert CLIP_PATH.is_file()
    assert Config.load({})[FALLBACK_AUDIO] is False
    assert Config.load({"VOXFLOW_FALLBACK_AUDIO": "1"})[FALLBACK_AUDIO] is True
    with pytest.raises(SettingsError, match="VOXFLOW_FALLBACK_AUDIO"):
        Config.load({"VOXFLOW_FALLBACK_AUDIO": "on"})[FALLBACK_AUDIO]


@pytest.mark.slow
@pytest.mark.integration
def test_over_quota_with_fallback_gives_the_degraded_clip(tmp_path: Path) -> None:
    """Plan alone on the local stack (no synthesis needed): over quota, fallback on."""
    # The template sets the default limits' variables, and variables win over a quota
    # file's defaults (voxflow.quotas.limits): one request, then none for a long while.
    env = {
        "VOXFLOW_QUOTAS_TABLE": "voxflow-quotas-fallback",
        "VOXFLOW_QUOTA_REQUESTS_BURST": "1",
        "VOXFLOW_QUOTA_REQUESTS_PER_S": "0.001",
        "VOXFLOW_FALLBACK_AUDIO": "1",
    }
    with LocalStack(functions=["PlanFunction"], extra_env=env, log_dir=tmp_path) as stack:
        create_quotas_table(stack.client("dynamodb"), env["VOXFLOW_QUOTAS_TABLE"])
        clients = AwsClients(AwsSettings.local(stack.url, stack.region))
        target = StackTarget.from_resources(stack.stack.resources)
        with VoxflowClient(clients, target) as client:
            first = client.publish("Takes the only token.", format="mp3")
            second = client.publish("Finds the bucket empty.", format="mp3", metadata={"k": "v"})
            outcome = client.wait([second], timeout_s=60)[second]
            # No synthesize function runs: the first request stays pending, unanswered.
            assert client.status(first)["status"] == "pending"  # type: ignore[index]
        result = outcome.terminal
        assert isinstance(result, SynthesisCompleted)
        with urllib.request.urlopen(result.url, timeout=30) as response:
            pcm, rate = decode(response.read())

    assert result.degraded is True
    assert result.metadata == {"k": "v"}
    assert result.key == "fallback/joe/mp3/busy.mp3"
    assert len(pcm) / rate == pytest.approx(len(load_clip()[0]) / 22050, abs=0.1)
