"""A voice's session built ahead, on a thread (voxflow.engine.preload): the engine takes
it at the voice's first use and speaks exactly as with a session built then; a load
that failed is the same VoiceLoadError; `voxflow synth --raw`, which starts its voice
that way, streams the engine's own samples at zero noise."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from voxflow.audio import PcmJoiner
from voxflow.engine import Engine, SynthesisParams
from voxflow.engine.preload import VoiceModelLoad
from voxflow.errors import VoiceLoadError
from voxflow.settings import EngineSettings
from voxflow.voices import VoiceRegistry

TEXT = "Your order has shipped. It arrives on Tuesday, between nine and five."
SILENT = SynthesisParams.from_rate(1.0, noise_scale=0.0, noise_w=0.0, sentence_pause_s=0.2)


def joined(engine: Engine) -> bytes:
    """The engine's audio of TEXT, joined as `voxflow synth` joins it."""
    rate = engine.registry.get("joe").sample_rate
    joiner = PcmJoiner(rate, pause_s=SILENT.sentence_pause_s)
    pieces = [joiner.feed(chunk.pcm) for chunk in engine.synthesize_text(TEXT, "joe", SILENT)]
    return np.concatenate([*pieces, joiner.finish()]).astype("<i2").tobytes()


@pytest.fixture(scope="module")
def at_first_use(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    settings = EngineSettings(cache_dir=tmp_path_factory.mktemp("first-use"))
    return joined(Engine(VoiceRegistry.default(), settings))


def test_a_preloaded_session_speaks_as_one_built_at_first_use(
    tmp_path: Path, at_first_use: bytes
) -> None:
    registry = VoiceRegistry.default()
    settings = EngineSettings(cache_dir=tmp_path)
    load = VoiceModelLoad(registry.get("joe"), settings)
    engine = Engine(registry, settings, loading=[load])

    audio = joined(engine)

    assert engine.model("joe") is load.result()
    assert engine.load_seconds["joe"] == load.seconds > 0
    assert len(audio) > 2 * 22050 * 2  # over two seconds of speech
    assert audio == at_first_use


def test_a_failed_preload_is_the_voice_load_error_at_first_use(tmp_path: Path) -> None:
    joe = VoiceRegistry.default().get("joe")
    model = tmp_path / "en_US-joe-medium.onnx"
    model.write_bytes(b"not a model")
    (tmp_path / "en_US-joe-medium.onnx.json").symlink_to(joe.config_path)
    registry = VoiceRegistry()
    registry.add("joe", model)
    settings = EngineSettings(cache_dir=tmp_path)
    engine = Engine(registry, settings, loading=[VoiceModelLoad(registry.get("joe"), settings)])

    with pytest.raises(VoiceLoadError):
        joined(engine)


def test_synth_raw_streams_the_engines_samples(at_first_use: bytes) -> None:
    command = [sys.executable, "-m", "voxflow", "synth", TEXT, "--raw"]
    command += ["--noise-scale", "0", "--noise-w", "0"]

    streamed = subprocess.run(command, capture_output=True, check=True, timeout=120).stdout

    assert streamed == at_first_use
